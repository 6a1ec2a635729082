/**
 * The size guard: the training-memory estimate against `tf.profile` peaks of tiny and small configs on cpu, the
 * wasm ceiling against the installed tfjs-backend-wasm build, and the refusal sentence for the README's
 * published-size command on wasm (before any data is read or weight allocated).
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { measureThroughput } from "../src/eval/throughput.ts";
import { createModel, modelConfig } from "../src/models/registry.ts";
import {
  backendMemoryLimit,
  checkTrainingFits,
  estimateTrainingMemory,
  WASM_HEAP_MAX_BYTES,
} from "../src/train/memory_estimate.ts";
import { exists, runCli } from "./cli_helpers.ts";

Deno.test("memory estimate: within −30%…+50% of the measured peak of tiny and small configs (cpu)", async () => {
  await initBackend({ backend: "cpu" });
  const cases: [string, Record<string, unknown>, string, number, number][] = [
    ["baseline", {}, "tiny", 2, 32],
    ["mhc", {}, "tiny", 2, 32],
    ["mhc", { streamAdapters: true }, "tiny", 2, 32],
    ["mhc", { vocabSize: 256 }, "small", 1, 64],
  ];
  const before = tf.memory().numTensors;
  for (const [kind, over, preset, batch, seqLen] of cases) {
    const cfg = modelConfig(kind, over, preset);
    const model = createModel(cfg, 1);
    const r = await measureThroughput(model, { batch, seqLen, warmup: 1, steps: 1, restoreWeights: false });
    model.dispose();
    assertEquals(r.peakMeasure, "profile");
    const ratio = estimateTrainingMemory(cfg, { batch, seqLen }).totalBytes / r.peakBytes;
    assert(
      ratio > 0.7 && ratio < 1.5,
      `${kind} ${preset} ${JSON.stringify(over)}: estimate / measured = ${ratio}`,
    );
  }
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("memory estimate: the wasm ceiling is the installed tfjs-backend-wasm build's heap maximum", async () => {
  const js = await Deno.readTextFile(
    new URL(import.meta.resolve("@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js")).pathname,
  );
  const max = [...js.matchAll(/getHeapMax\(\)\s*\{\s*return (\d+)/g)].map((m) => Number(m[1]));
  assert(max.length > 0, "getHeapMax found");
  for (const m of max) assertEquals(m, WASM_HEAP_MAX_BYTES);
  assertEquals(backendMemoryLimit("wasm")?.bytes, Math.floor(0.9 * WASM_HEAP_MAX_BYTES));
  assert((backendMemoryLimit("cpu")?.bytes ?? 0) > 0);
  assertEquals(backendMemoryLimit("webgpu"), null);
});

Deno.test("memory estimate: the published mHC + adapters config is refused on wasm with what to do instead", () => {
  const cfg = modelConfig("mhc", { streamAdapters: true }, "published");
  const wasm = backendMemoryLimit("wasm");
  const e = assertThrows(() => checkTrainingFits(cfg, { batch: 16, seqLen: 256 }, "wasm", wasm));
  for (
    const part of [
      "needs about",
      "wasm backend's 4 GiB",
      "--preset small",
      "--preset tiny",
      "--backend webgpu",
    ]
  ) {
    assertStringIncludes((e as Error).message, part);
  }
  // A tiny config fits, and a device backend has no ceiling.
  checkTrainingFits(modelConfig("mhc", {}, "tiny"), { batch: 16, seqLen: 32 }, "wasm", wasm);
  checkTrainingFits(cfg, { batch: 16, seqLen: 256 }, "webgpu", null);
});

Deno.test("cli: the README's published-size train command on wasm is refused before anything is written", async () => {
  const out = await Deno.makeTempDir({ prefix: "ssmlab_guard_cli_" });
  try {
    const r = await runCli([
      "train",
      "--model",
      "mhc",
      "--stream_adapters",
      "--data",
      "data/samples/wikitext-2",
      "--steps",
      "3",
      "--backend",
      "wasm",
      "--out_dir",
      `${out}/runs`,
    ]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.err, "This mhc config needs about");
    assertStringIncludes(r.err, "--preset small");
    assert(!/out of bounds|Aborted/.test(r.err), r.err);
    assert(!exists(`${out}/runs`), "nothing written");
  } finally {
    await Deno.remove(out, { recursive: true });
    await initBackend({ backend: "cpu" });
  }
});
