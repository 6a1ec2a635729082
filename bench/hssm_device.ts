/**
 * GPU entry for HSSM (bundled by the device kit; writes JSON and CSV by hand). Three modes:
 *
 *   pretokenize (here, on the CPU): train the 20k tokenizer on the start of the corpus stream and write the ids of
 *     the first N samples in stream order (paragraph samples, EOS after each) plus held-out samples:
 *       deno run -A bench/hssm_device.ts --mode pretokenize --corpus FILE --max-samples N --val-samples M
 *         [--tokenizer-samples 20000] [--unit paragraph] --out DIR          → DIR/{tokenizer.json,train.u16,valid.u16}
 *   throughput (device): Config A at B 16, T 256: training and forward-only tokens/s, peak memory:
 *       deno run -A .device/hssm_device.js --mode throughput --out DIR [--batch 16] [--seq-len 256]
 *   epoch (device): one epoch in order over the pre-tokenized ids, checkpoints every N steps, resume across calls
 *     (stops cleanly after --seconds, saving the step; call again to continue):
 *       deno run -A .device/hssm_device.js --mode epoch --train T.u16 --valid V.u16 --tokenizer tokenizer.json
 *         --out DIR [--save-every 200] [--eval-every 200] [--eval-batches 16] [--seconds 540] [--lr 6e-4]
 *         [--warmup-steps 200]   (cosine decay to lr/10 over the epoch)
 *         [--blimp DIR [--blimp-pairs N]]   (BLiMP at the end: the BabyLM scorer, first token unscored)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { describeEnvironment, initBackend } from "../src/backend.ts";
import { loadIds, saveIds } from "../src/data/batches.ts";
import { type SampleUnit, TextSampleStream, trainTokenizerOnStream } from "../src/data/stream.ts";
import { HSSM_GENERATION, hssmConfig, HssmLM } from "../src/models/hssm.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { checkTokenizerFits, generate } from "../src/eval/generate.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { type StepRecord, train } from "../src/train/trainer.ts";
import { Vocab20kTokenizer } from "../src/tokenizers/vocab20k.ts";
import { toCsv } from "./csv.ts";
import { loadBlimp } from "../src/data/blimp.ts";
import { evaluateBlimp } from "../src/eval/blimp.ts";

const { values: a } = parseArgs({
  options: {
    mode: { type: "string", default: "throughput" },
    out: { type: "string", default: "." },
    backend: { type: "string", default: "webgpu" },
    batch: { type: "string", default: "16" },
    "seq-len": { type: "string", default: "256" },
    warmup: { type: "string", default: "3" },
    steps: { type: "string", default: "10" },
    corpus: { type: "string" },
    unit: { type: "string", default: "paragraph" },
    "max-samples": { type: "string" },
    "val-samples": { type: "string", default: "2000" },
    "tokenizer-samples": { type: "string", default: "20000" },
    train: { type: "string" },
    valid: { type: "string" },
    tokenizer: { type: "string" },
    "save-every": { type: "string", default: "200" },
    "eval-every": { type: "string", default: "200" },
    "eval-batches": { type: "string", default: "16" },
    seconds: { type: "string", default: "540" },
    lr: { type: "string", default: "6e-4" },
    "warmup-steps": { type: "string", default: "200" },
    seed: { type: "string", default: "1337" },
    preset: { type: "string", default: "published" },
    blimp: { type: "string" },
    "blimp-pairs": { type: "string" },
  },
});
const out = a.out!;
await Deno.mkdir(out, { recursive: true });
const B = Number(a.batch), T = Number(a["seq-len"]);
const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/** Tokenizer on the start of the stream; ids of the first N samples and the M after them, in stream order. */
async function pretokenize(): Promise<void> {
  if (!a.corpus || !a["max-samples"]) throw new Error("Options --corpus and --max-samples are required.");
  const unit = a.unit as SampleUnit, n = Number(a["max-samples"]), m = Number(a["val-samples"]);
  const tok = trainTokenizerOnStream(a.corpus, { samples: Number(a["tokenizer-samples"]), unit });
  await tok.save(`${out}/tokenizer.json`);
  const s = new TextSampleStream(a.corpus, { unit, maxSamples: n + m });
  const ids: number[][] = [[], []];
  for (let i = 0, t = s.next(); t !== null; i++, t = s.next()) {
    const dst = ids[i < n ? 0 : 1];
    for (const id of tok.encode(t)) dst.push(id);
    dst.push(tok.eosId);
  }
  s.close();
  await saveIds(`${out}/train.u16`, ids[0]);
  await saveIds(`${out}/valid.u16`, ids[1]);
  const info = {
    corpus: a.corpus,
    unit,
    samples: n,
    valSamples: m,
    trainTokens: ids[0].length,
    validTokens: ids[1].length,
    vocab: tok.vocabSize,
  };
  await Deno.writeTextFile(`${out}/pretokenize.json`, JSON.stringify(info, null, 2));
  log(JSON.stringify(info));
}

/** Config A: training and forward-only tokens/s and peak memory at B × T. */
async function throughput(backend: string): Promise<void> {
  const model = new HssmLM(hssmConfig({}, a.preset), Number(a.seed));
  const r = await measureThroughput(model, {
    batch: B,
    seqLen: T,
    warmup: Number(a.warmup),
    steps: Number(a.steps),
    forward: true,
  });
  const row = {
    model: "hssm",
    preset: a.preset,
    params: model.numParams(),
    backend,
    batch: B,
    seqLen: T,
    trainTokensPerSec: r.tokensPerSec,
    forwardTokensPerSec: r.forwardTokensPerSec,
    peakMiB: r.peakBytes / 2 ** 20,
    peakMeasure: r.peakMeasure,
    finalLoss: r.finalLoss,
  };
  await Deno.writeTextFile(`${out}/throughput.csv`, toCsv([row]));
  await Deno.writeTextFile(`${out}/throughput.json`, JSON.stringify({ ...row, memory: r.memory }, null, 2));
  log(JSON.stringify(row));
  model.dispose();
}

class Stop extends Error {}

/** One epoch in order over pre-tokenized ids, resumable across calls. */
async function epoch(): Promise<void> {
  if (!a.train || !a.valid || !a.tokenizer) {
    throw new Error("Options --train, --valid and --tokenizer are required.");
  }
  const tok = await Vocab20kTokenizer.load(a.tokenizer);
  const model = new HssmLM(
    hssmConfig({ vocabSize: tok.vocabSize, maxLen: Math.max(T, 1024) }, a.preset),
    Number(a.seed),
  );
  checkTokenizerFits(tok, model.config.vocabSize, a.tokenizer);
  await Deno.copyFile(a.tokenizer, `${out}/tokenizer.json`).catch(() => {});
  const trainIds = Int32Array.from(await loadIds(a.train)),
    validIds = Int32Array.from(await loadIds(a.valid));
  const data = new ArrayBatchSource(trainIds, {
    batch: B,
    seqLen: T,
    shuffle: false,
    dropLast: true,
    name: a.train,
  });
  const valData = () =>
    new ArrayBatchSource(validIds, { batch: B, seqLen: T, shuffle: false, name: a.valid });
  const t0 = performance.now(), limit = Number(a.seconds) * 1000;
  const steps: StepRecord[] = [];
  try {
    await train({
      model,
      data,
      valData,
      epochs: 1,
      lr: Number(a.lr),
      schedule: { name: "cosine", warmup: Number(a["warmup-steps"]), minLr: Number(a.lr) / 10 },
      gradClip: 1,
      saveEvery: Number(a["save-every"]),
      evalEvery: Number(a["eval-every"]),
      evalBatches: Number(a["eval-batches"]),
      keepLast: 2,
      outDir: `${out}/run`,
      resume: true,
      progress: "log",
      logEvery: 20,
      onStep: async (rec) => {
        steps.push(rec);
        await Deno.writeTextFile(`${out}/history.jsonl`, JSON.stringify(rec) + "\n", { append: true });
        if (performance.now() - t0 > limit) throw new Stop("time budget reached");
      },
      onEval: async (rec) => {
        const line = { ...rec, ...(await model.routingStats()) };
        await Deno.writeTextFile(`${out}/routing.jsonl`, JSON.stringify(line) + "\n", { append: true });
        log(`eval step ${rec.step}: held-out loss ${rec.valLoss.toFixed(4)}`);
      },
    });
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
    log(`stopped after ${steps.length} steps this call (checkpoint saved); run the same command to continue`);
    model.dispose();
    return;
  }
  const samples: Record<string, string> = {};
  for (const p of ["What is machine learning?", "The history of the", "Once upon a time"]) {
    const prompt = tok.encode(p);
    const ids = await generate(model, prompt, { ...HSSM_GENERATION, seed: 1, eosId: tok.eosId });
    samples[p] = tok.decode(ids.slice(prompt.length));
  }
  await Deno.writeTextFile(`${out}/samples.json`, JSON.stringify(samples, null, 2));
  log(JSON.stringify(samples));
  if (a.blimp) {
    const max = a["blimp-pairs"] ? Number(a["blimp-pairs"]) : undefined;
    const pairs = await loadBlimp({ dir: a.blimp, maxPairsPerParadigm: max });
    const r = await evaluateBlimp(model, tok, pairs, { variant: "first-token-unscored" });
    await Deno.writeTextFile(`${out}/blimp.json`, JSON.stringify(r, null, 2));
    log(`BLiMP (${pairs.length} pairs, word-level tokenizer): overall ${(100 * r.overall).toFixed(2)}%`);
  }
  model.dispose();
}

const backend = a.mode === "pretokenize" ? "cpu" : await initBackend({ backend: a.backend });
await Deno.writeTextFile(
  `${out}/config_${a.mode}.json`,
  JSON.stringify({ ...a, backend, environment: describeEnvironment() }, null, 2),
);
if (a.mode === "pretokenize") await pretokenize();
else if (a.mode === "throughput") await throughput(backend);
else if (a.mode === "epoch") await epoch();
else throw new Error(`Unknown --mode "${a.mode}": expected pretokenize, throughput or epoch.`);
