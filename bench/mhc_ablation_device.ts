/**
 * GPU entry for the mHC ablation (bundled by the device kit, `scripts/gpu_prepare.sh`; no native addons, so it writes JSON and
 * CSV by hand). Usage on the device:
 *   deno run -A .device/mhc_ablation_device.js --train T.u16 --valid V.u16 [--valid-ood W.u16] --out DIR
 *     [--steps N | --seconds S | --epochs 10] [--preset published] [--variants baseline,mhc,mhc_adapters] [--seed 1337]
 *     [--eval-every 500] [--eval-batches all] [--tput-steps 50] [--tput-warmup 10] [--backend webgpu]
 *     [--ckpt-dir DIR [--save-every 1000] [--keep-last N] [--milestone-words 1000000,… --words-per-token R]]
 * Without --steps or --seconds it trains the reference's 10 epochs; every training default is the reference's
 * (`MHC_REFERENCE_RECIPE`). `--valid-ood` adds out-of-domain perplexity columns (`val_loss_ood`, `ppl_ood`).
 * With `--ckpt-dir` every variant checkpoints into `DIR/<variant>-seed<seed>` every `--save-every` steps and a
 * restarted command resumes there (a killed run loses at most the steps since the last checkpoint);
 * `--milestone-words` adds BabyLM `chck_*` checkpoints at those words seen (tokens × `--words-per-token`), which
 * `bench/blimp_device.ts` scores.
 */
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { loadIds } from "../src/data/batches.ts";
import { type MhcVariant, runMhcAblation } from "../src/experiments/mhc_ablation.ts";
import { toCsv } from "./csv.ts";

const { values: a } = parseArgs({
  options: {
    train: { type: "string" },
    valid: { type: "string" },
    "valid-ood": { type: "string" },
    out: { type: "string", default: "." },
    seconds: { type: "string" },
    steps: { type: "string" },
    epochs: { type: "string", default: "10" },
    preset: { type: "string", default: "published" },
    variants: { type: "string", default: "baseline,mhc,mhc_adapters" },
    seed: { type: "string", default: "1337" },
    "tput-steps": { type: "string", default: "50" },
    "tput-warmup": { type: "string", default: "10" },
    "eval-every": { type: "string", default: "500" },
    "eval-batches": { type: "string" },
    "max-train-tokens": { type: "string" },
    backend: { type: "string", default: "webgpu" },
    vocab: { type: "string" },
    "ckpt-dir": { type: "string" },
    "save-every": { type: "string", default: "1000" },
    "keep-last": { type: "string" },
    "milestone-words": { type: "string" },
    "words-per-token": { type: "string" },
  },
});
if (!a.train || !a.valid) throw new Error("Options --train and --valid (uint16 id files) are required.");
const backend = await initBackend({ backend: a.backend });
let train = Int32Array.from(await loadIds(a.train));
if (a["max-train-tokens"]) train = train.subarray(0, Number(a["max-train-tokens"]));
const valid = Int32Array.from(await loadIds(a.valid));
const validOutOfDomain = a["valid-ood"] ? Int32Array.from(await loadIds(a["valid-ood"])) : null;
const config = {
  ...a,
  backend,
  train_tokens: train.length,
  valid_tokens: valid.length,
  valid_ood_tokens: validOutOfDomain?.length ?? null,
  environment: describeEnvironment(),
};
console.log(JSON.stringify(config));
await Deno.mkdir(a.out!, { recursive: true });
await Deno.writeTextFile(`${a.out}/config.json`, JSON.stringify(config, null, 2));
const t0 = performance.now();
const { rows, curves } = await runMhcAblation({
  train,
  valid,
  preset: a.preset,
  model: a.vocab ? { vocabSize: Number(a.vocab) } : undefined,
  variants: a.variants!.split(",") as MhcVariant[],
  seed: Number(a.seed),
  steps: a.steps ? Number(a.steps) : undefined,
  validOutOfDomain,
  trainSeconds: a.steps || !a.seconds ? undefined : Number(a.seconds),
  epochs: Number(a.epochs),
  evalEvery: Number(a["eval-every"]),
  evalBatches: a["eval-batches"] ? Number(a["eval-batches"]) : undefined,
  outDir: a["ckpt-dir"],
  resume: a["ckpt-dir"] !== undefined,
  saveEvery: Number(a["save-every"]),
  keepLast: a["keep-last"] ? Number(a["keep-last"]) : undefined,
  saveAtWords: a["milestone-words"]?.split(",").map(Number),
  wordsPerToken: a["words-per-token"] ? Number(a["words-per-token"]) : undefined,
  throughput: { batch: 8, warmup: Number(a["tput-warmup"]), steps: Number(a["tput-steps"]) },
  log: (l) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${l}`),
});
await Deno.writeTextFile(`${a.out}/table.csv`, toCsv(rows as unknown as Record<string, unknown>[]));
await Deno.writeTextFile(`${a.out}/curves.csv`, toCsv(curves as unknown as Record<string, unknown>[]));
await Deno.writeTextFile(
  `${a.out}/result.json`,
  JSON.stringify({ config, rows, seconds: (performance.now() - t0) / 1000 }, null, 2),
);
console.log(JSON.stringify(rows));
