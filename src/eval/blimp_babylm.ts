/**
 * BLiMP results in the BabyLM evaluation pipeline's layout (docs/blimp.md#babylm-compatible-outputs), so ssmlab
 * runs sit beside runs of the official pipeline (`evaluation_pipeline/sentence_zero_shot/run.py`, 2025/2026):
 *
 * ```
 * <out>/<model>/<revision>/zero_shot/<backend>/blimp/<dataset>/
 *   predictions.json             the pipeline's file: { UID: { predictions: [{ id: "UID_k", pred: sentence }] } }
 *   best_temperature_report.txt  the pipeline's report: TEMPERATURE, FIELD / UID / LINGUISTICS_TERM accuracies, AVERAGE
 *   predictions.jsonl            ssmlab: one line per pair with both log-probabilities and the decision
 *   results.json                 ssmlab: accuracies (%) per UID, field, linguistics term and phenomenon, and the average
 * ```
 *
 * `backend` is `causal` for the `"first-token-unscored"` variant (the pipeline's causal scorer) and
 * `causal_eos_prefixed` for `"eos-prefixed"`; `revision` is `main` or a word milestone such as `chck_1M`;
 * `dataset` is `blimp_filtered`, `blimp_fast` (as the pipeline names them) or `blimp_original`.
 *
 * @module
 */
import { join } from "node:path";
import type { BlimpEvalPair, BlimpResult, BlimpVariant } from "./blimp.ts";
import { phenomenonOf } from "../data/blimp.ts";
import { writeTextAtomic } from "../results/atomic.ts";

/** Where and under which names {@linkcode writeBabyLMBlimp} writes. */
export interface BabyLMOutputOptions {
  /** Root of the results (the pipeline's `--output_dir`, default "results"). */
  outDir: string;
  /** Model name (the pipeline uses the model path's stem). */
  model: string;
  /** Revision (default "main"; word milestones are `chck_1M` …). */
  revision?: string;
  /** Dataset folder name (default "blimp_filtered"). */
  dataset?: string;
  /** Softmax temperature the scores used (default 1). */
  temperature?: number;
}

/** The backend folder of a scoring variant. */
export function babylmBackend(variant: BlimpVariant): string {
  return variant === "first-token-unscored" ? "causal" : "causal_eos_prefixed";
}

/**
 * The task folder `<out>/<model>/<revision>/zero_shot/<backend>/blimp/<dataset>`.
 *
 * @example
 * ```ts
 * import { babylmTaskDir } from "./blimp_babylm.ts";
 * babylmTaskDir({ outDir: "results", model: "tiny", dataset: "blimp_fast", revision: "chck_1M" }, "first-token-unscored");
 * // "results/tiny/chck_1M/zero_shot/causal/blimp/blimp_fast"
 * ```
 */
export function babylmTaskDir(o: BabyLMOutputOptions, variant: BlimpVariant): string {
  return join(
    o.outDir,
    o.model,
    o.revision ?? "main",
    "zero_shot",
    babylmBackend(variant),
    "blimp",
    o.dataset ?? "blimp_filtered",
  );
}

type Acc = Map<string, { correct: number; total: number }>;

function tally(m: Acc, key: string, ok: boolean): void {
  const e = m.get(key) ?? { correct: 0, total: 0 };
  e.total++;
  if (ok) e.correct++;
  m.set(key, e);
}

function percents(m: Acc): Record<string, number> {
  return Object.fromEntries([...m].map(([k, e]) => [k, (100 * e.correct) / e.total]));
}

/**
 * Write a BLiMP result (from `evaluateBlimp` / `evaluateBlimpNgram` with `returnScores: true`) in the BabyLM
 * layout; returns the paths written.
 *
 * @throws Error when the result has no per-pair scores or they do not match `pairs`.
 * @example
 * ```ts
 * // const r = await evaluateBlimp(model, tok, pairs, { returnScores: true });
 * // await writeBabyLMBlimp(r, pairs, { outDir: "results/blimp", model: "baseline", dataset: "blimp_filtered" });
 * ```
 */
export async function writeBabyLMBlimp(
  result: BlimpResult,
  pairs: readonly BlimpEvalPair[],
  o: BabyLMOutputOptions,
): Promise<{ dir: string; files: string[] }> {
  const scores = result.scores;
  if (!scores || scores.length !== pairs.length) {
    throw new Error(
      `writeBabyLMBlimp needs the per-pair scores of all ${pairs.length} pairs: evaluate with { returnScores: true }.`,
    );
  }
  const dir = babylmTaskDir(o, result.variant);
  await Deno.mkdir(dir, { recursive: true });
  const byUid = new Map<string, { id: string; pred: string }[]>();
  const field: Acc = new Map(), uid: Acc = new Map(), term: Acc = new Map(), phen: Acc = new Map();
  const lines: string[] = [];
  for (const [i, p] of pairs.entries()) {
    const s = scores[i];
    if (s.uid !== p.uid || s.pairId !== p.pairId) {
      throw new Error(
        `Score ${i} is for pair "${s.uid}/${s.pairId}" but pair ${i} is "${p.uid}/${p.pairId}".`,
      );
    }
    const list = byUid.get(p.uid) ?? [];
    byUid.set(p.uid, list);
    const id = `${p.uid}_${list.length}`;
    const pred = s.correct ? p.good : p.bad;
    list.push({ id, pred });
    const phenomenon = p.phenomenon ?? phenomenonOf(p.uid, p.linguisticsTerm);
    tally(field, p.field ?? "", s.correct);
    tally(uid, p.uid, s.correct);
    tally(term, p.linguisticsTerm ?? "", s.correct);
    tally(phen, phenomenon, s.correct);
    lines.push(JSON.stringify({
      id,
      UID: p.uid,
      pair_id: p.pairId,
      field: p.field ?? "",
      linguistics_term: p.linguisticsTerm ?? "",
      phenomenon,
      sentence_good: p.good,
      sentence_bad: p.bad,
      logprob_good: s.good,
      logprob_bad: s.bad,
      pred,
      correct: s.correct,
    }));
  }
  const temperature = o.temperature ?? 1;
  const predictions = Object.fromEntries([...byUid].map(([k, v]) => [k, { predictions: v }]));
  const domains: [string, Record<string, number>][] = [
    ["FIELD", percents(field)],
    ["UID", percents(uid)],
    ["LINGUISTICS_TERM", percents(term)],
  ];
  const report = [`TEMPERATURE: ${temperature.toFixed(2)}`, ""];
  for (const [name, accs] of domains) {
    report.push(`### ${name} ACCURACY`, ...Object.entries(accs).map(([k, a]) => `${k}: ${a.toFixed(2)}`), "");
  }
  report.push("### AVERAGE ACCURACY", (100 * result.overall).toFixed(2), "");
  const results = {
    task: "blimp",
    dataset: o.dataset ?? "blimp_filtered",
    model: o.model,
    revision: o.revision ?? "main",
    backend: babylmBackend(result.variant),
    variant: result.variant,
    temperature,
    pairs: result.pairs,
    truncated: result.truncated,
    ties: result.ties,
    average: 100 * result.overall,
    accuracies: {
      UID: percents(uid),
      field: percents(field),
      linguistics_term: percents(term),
      phenomenon: Object.fromEntries(result.perPhenomenon.map((p) => [p.phenomenon, 100 * p.accuracy])),
    },
  };
  const files = {
    "predictions.json": JSON.stringify(predictions),
    "best_temperature_report.txt": report.join("\n"),
    "predictions.jsonl": lines.join("\n") + "\n",
    "results.json": JSON.stringify(results, null, 2) + "\n",
  };
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    await writeTextAtomic(path, text);
    written.push(path);
  }
  return { dir, files: written };
}
