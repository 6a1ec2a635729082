/**
 * GPU entry for the character curriculum (docs/models/char_curriculum.md; bundled by the device kit, so it imports
 * no native addon: the data comes pre-cleaned from bench/char_curriculum_prepare.ts).
 *
 *   run (on the device): the three stages at the post's sizes, one epoch each of the cleaned corpus (or of
 *   --max-train-chars characters: evenly spaced 64 kB blocks, so the mix of sources is kept), checkpoints under
 *   --ckpt (a second call resumes; --time-limit stops cleanly before the device's per-command limit), then BLiMP
 *   per stage and the probe, written as CSV/JSON into --out:
 *     deno run -A .device/char_curriculum_device.js run --data .device/data --ckpt /tmp/char_ckpt --out DIR
 *       [--variants main_softnn|all|name,name] [--max-train-chars N] [--epochs 1] [--batch 32] [--seq-len 256]
 *       [--lr 2e-3] [--lr1 1e-2] [--preset published] [--blimp-sets blimp,blimp_filtered]
 *       [--blimp-variant eos-prefixed] [--max-pairs N] [--blimp-batch 256] [--bpc-batches 200] [--time-limit 540]
 *       [--seed 1337] [--backend webgpu]
 *
 * Files in --out: config.json, cleaning.json, rows.csv (one row per stage: parameters, steps, characters/s,
 * losses, bits/char, BLiMP per set), curves.csv, blimp.csv (per paradigm, phenomenon, overall; scoring variant
 * named), probe.json, result.json (everything, read by `loadCharResults`); status.json says "done" or
 * "interrupted" (run the same command again).
 */
import { parseArgs } from "node:util";
import { positiveNumbers } from "./options.ts";
import { join } from "node:path";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { gunzipBytes, subsampleStream } from "../src/data/char_corpus.ts";
import {
  type CharBlimpSet,
  type CharCurriculumResult,
  CharTimeUp,
  OPEN_QUESTION_VARIANTS,
  runCharCurriculum,
} from "../src/experiments/char_curriculum.ts";
import type { BlimpEvalPair, BlimpVariant } from "../src/eval/blimp.ts";
import { toCsv } from "./csv.ts";

const [command, ...rest] = Deno.args;
const { values: a } = parseArgs({
  args: rest,
  options: {
    out: { type: "string" },
    data: { type: "string", default: ".device/data" },
    ckpt: { type: "string", default: "/tmp/char_ckpt" },
    variants: { type: "string", default: "main_softnn" },
    "max-train-chars": { type: "string" },
    epochs: { type: "string", default: "1" },
    batch: { type: "string", default: "32" },
    "seq-len": { type: "string", default: "256" },
    lr: { type: "string", default: "2e-3" },
    lr1: { type: "string", default: "1e-2" },
    preset: { type: "string", default: "published" },
    "blimp-sets": { type: "string", default: "blimp,blimp_filtered" },
    "blimp-variant": { type: "string", default: "eos-prefixed" },
    "max-pairs": { type: "string" },
    "blimp-batch": { type: "string", default: "256" },
    "bpc-batches": { type: "string", default: "200" },
    "time-limit": { type: "string" },
    seed: { type: "string", default: "1337" },
    backend: { type: "string", default: "webgpu" },
  },
});

/** A positive number option, or a clear error naming it. */
const num = positiveNumbers(a);

async function readGz(path: string): Promise<Uint8Array> {
  try {
    return await gunzipBytes(await Deno.readFile(path));
  } catch (e) {
    throw new Error(`Cannot read "${path}" (${(e as Error).message}); run the prepare command first.`);
  }
}

async function writeResults(out: string, r: CharCurriculumResult, status: string): Promise<void> {
  const rows = r.rows.map(({ blimp, ...row }) => ({
    ...row,
    ...Object.fromEntries(Object.entries(blimp).map(([k, v]) => [`blimp_${k}`, v])),
  }));
  await Deno.writeTextFile(join(out, "rows.csv"), toCsv(rows));
  await Deno.writeTextFile(join(out, "curves.csv"), toCsv(r.curves as unknown as Record<string, unknown>[]));
  await Deno.writeTextFile(join(out, "blimp.csv"), toCsv(r.blimp as unknown as Record<string, unknown>[]));
  await Deno.writeTextFile(join(out, "probe.json"), JSON.stringify(r.probe, null, 2));
  await Deno.writeTextFile(join(out, "result.json"), JSON.stringify(r, null, 1));
  await Deno.writeTextFile(
    join(out, "status.json"),
    JSON.stringify({ status, stages: r.rows.map((x) => x.model) }),
  );
}

async function run(): Promise<void> {
  if (!a.out) throw new Error("run needs --out DIR (where the CSV/JSON results go).");
  const t0 = performance.now();
  const backend = await initBackend({ backend: a.backend });
  let train = await readGz(join(a.data, "char_train.u8.gz"));
  if (a["max-train-chars"]) train = subsampleStream(train, num("max-train-chars"));
  const valid = await readGz(join(a.data, "char_valid.u8.gz"));
  const allSets = JSON.parse(new TextDecoder().decode(await readGz(join(a.data, "char_blimp.json.gz"))));
  const maxPairs = a["max-pairs"] ? num("max-pairs") : Infinity;
  const blimp: CharBlimpSet[] = a["blimp-sets"]!.split(",").filter(Boolean).map((name) => {
    if (!allSets[name]) {
      throw new Error(
        `Option --blimp-sets: "${name}" was not prepared; expected one of ${
          Object.keys(allSets).join(", ")
        }.`,
      );
    }
    const seen = new Map<string, number>();
    const pairs = (allSets[name] as BlimpEvalPair[]).filter((p) => {
      const n = seen.get(p.uid) ?? 0;
      seen.set(p.uid, n + 1);
      return n < maxPairs;
    });
    return { name, pairs };
  });
  const known = new Map(OPEN_QUESTION_VARIANTS.map((v) => [v.name, v]));
  const names = a.variants === "all" ? [...known.keys()] : a.variants!.split(",");
  const variants = names.map((n) => {
    const v = known.get(n);
    if (!v) {
      throw new Error(
        `Option --variants: unknown "${n}"; expected "all" or names from ${[...known.keys()].join(", ")}.`,
      );
    }
    return v;
  });
  const training = {
    epochs: num("epochs"),
    batch: num("batch"),
    seqLen: num("seq-len"),
    lr: num("lr"),
    saveEvery: 200,
  };
  const config = {
    ...a,
    command,
    backend,
    train_chars: train.length,
    valid_chars: valid.length,
    environment: describeEnvironment(),
  };
  await Deno.mkdir(a.out, { recursive: true });
  await Deno.writeTextFile(join(a.out, "config.json"), JSON.stringify(config, null, 2));
  try {
    await Deno.copyFile(join(a.data, "char_cleaning.json"), join(a.out, "cleaning.json"));
  } catch { /* prepared without a report */ }
  const log = (l: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${l}`);
  let partial: CharCurriculumResult = { rows: [], curves: [], blimp: [], probe: [] };
  try {
    partial = await runCharCurriculum({
      train,
      valid,
      outDir: a.ckpt!,
      preset: a.preset,
      stages: { 1: { ...training, lr: num("lr1") }, 2: training, 3: training },
      variants,
      blimp,
      blimpVariant: a["blimp-variant"] as BlimpVariant,
      blimpBatch: num("blimp-batch"),
      bpcBatches: num("bpc-batches"),
      seed: num("seed"),
      deadline: a["time-limit"] ? t0 + 1000 * num("time-limit") : undefined,
      log,
      onStage: async (r) => {
        partial = r;
        await writeResults(a.out!, r, "running");
      },
    });
    await writeResults(a.out, partial, "done");
    log("done");
  } catch (e) {
    if (!(e instanceof CharTimeUp)) throw e;
    await writeResults(a.out, partial, "interrupted");
    log(`${(e as Error).message}`);
  }
}

if (command === "run") await run();
else {
  throw new Error(
    `Unknown command "${command}": expected "run" (the data comes from bench/char_curriculum_prepare.ts; see the file's header).`,
  );
}
