/**
 * PyTorch interop both ways. The fixtures under tests/fixtures/pytorch/ were written by real PyTorch 2.11 and
 * safetensors 0.8 (make_fixtures.py there), from a module written from the reference's parameter table, with
 * each layout of the tied head: `save_model` (lm_head.weight only), a plain `state_dict` (both), embedding only,
 * F16, BF16 and F64.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { createModel } from "../src/models/registry.ts";
import {
  exportPytorch,
  importPytorch,
  importPytorchToCheckpoint,
  inferReferenceConfig,
} from "../src/models/interop.ts";
import { exportReferenceWeights, importReferenceWeights } from "../src/models/reference_weights.ts";
import type { LanguageModel } from "../src/models/types.ts";
import { loadCheckpoint, restoreModel, saveCheckpoint } from "../src/train/checkpoint.ts";
import {
  decodeSafetensors,
  loadSafetensors,
  type SafeTensor,
  saveSafetensors,
} from "../src/train/safetensors.ts";

const DIR = new URL("./fixtures/pytorch/", import.meta.url).pathname;
/** The fixtures' model: tiny mHC + stream adapters (V 16, d 8, L 2, T 8, n 2, r 2). */
const CONFIG = {
  kind: "mhc",
  vocabSize: 16,
  maxLen: 8,
  dim: 8,
  layers: 2,
  convKernel: 3,
  norm: "rms",
  nStreams: 2,
  streamAdapters: true,
  adapterRank: 2,
};

function snapshot(m: LanguageModel): Map<string, Float32Array> {
  return new Map([...m.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}

/** The weights of the plain `state_dict` fixture, under the model's names. */
async function reference(): Promise<Map<string, Float32Array>> {
  const { model } = await importPytorch(`${DIR}state_dict_both.safetensors`);
  const s = snapshot(model);
  model.dispose();
  return s;
}

/** Bytes after the header: the tensors' data. */
function dataSection(bytes: Uint8Array): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return bytes.subarray(8 + n);
}

Deno.test("interop: every PyTorch layout and dtype imports, config inferred from shapes", async () => {
  await initBackend({ backend: "cpu" });
  const before = tf.memory().numTensors;
  const ref = await reference();
  const cases: [string, string, string, number][] = [
    ["save_model", "head-only", "F32", 0],
    ["state_dict_both", "both", "F32", 0],
    ["embedding_only", "embedding-only", "F32", 0],
    ["f64_embedding_only", "embedding-only", "F64", 0],
    ["f16_head_only", "head-only", "F16", 1e-3],
    ["bf16_both", "both", "BF16", 8e-3],
  ];
  for (const [file, tied, dtype, tol] of cases) {
    const r = await importPytorch(`${DIR}${file}.safetensors`);
    assertEquals(r.tied, tied, file);
    assertEquals(r.dtypes, [dtype], file);
    assertEquals(r.configFrom, "shapes");
    for (const [k, v] of Object.entries(CONFIG)) {
      assertEquals((r.config as unknown as Record<string, unknown>)[k], v, `${file}: ${k}`);
    }
    for (const [name, want] of ref) {
      const got = r.model.weights.get(name)!.dataSync();
      if (tol === 0) assertEquals(Float32Array.from(got), want, `${file}: ${name}`);
      else {for (let i = 0; i < want.length; i++) {
          assertAlmostEquals(got[i], want[i], tol * (1 + Math.abs(want[i])));
        }}
    }
    r.model.dispose();
  }
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("interop: export is what safetensors.torch.save_model writes; both layouts round-trip exactly", async () => {
  await initBackend({ backend: "cpu" });
  const { model } = await importPytorch(`${DIR}save_model.safetensors`);
  const tmp = await Deno.makeTempDir();
  const once = await exportPytorch(model, `${tmp}/once.safetensors`);
  const torchBytes = await Deno.readFile(`${DIR}save_model.safetensors`);
  const torchFile = decodeSafetensors(torchBytes);
  const ours = decodeSafetensors(await Deno.readFile(once.path));
  // Same names in the same order, the same tensor bytes, and save_model's alias record.
  assertEquals(once.names, [...torchFile.tensors.keys()]);
  assertEquals(dataSection(await Deno.readFile(once.path)), dataSection(torchBytes));
  assertEquals(ours.metadata["tok_emb.emb.weight"], "lm_head.weight");
  assertEquals(torchFile.metadata, { "tok_emb.emb.weight": "lm_head.weight" });
  assert(!once.names.includes("tok_emb.emb.weight"), "the tied matrix is written once");
  const both = await exportPytorch(model, `${tmp}/both.safetensors`, { tiedHead: "both" });
  assert(both.names.includes("tok_emb.emb.weight") && both.names.includes("lm_head.weight"));
  assertEquals(both.bytes - once.bytes > 16 * 8 * 4 - 1, true);
  for (const f of [once.path, both.path]) {
    const r = await importPytorch(f);
    assertEquals(r.configFrom, "metadata");
    assertEquals(snapshot(r.model), snapshot(model));
    r.model.dispose();
  }
  model.dispose();
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("interop: export from a checkpoint folder; restoreModel and importReferenceWeights take every layout", async () => {
  await initBackend({ backend: "cpu" });
  const a = createModel(CONFIG, 3);
  const tmp = await Deno.makeTempDir();
  const state = {
    step: 1,
    epoch: 0,
    data: null,
    rng: {},
    schedule: { spec: "constant", lr: 0, position: 1 },
    bestValLoss: null,
    seed: 3,
    backend: "cpu",
    versions: {},
  };
  await saveCheckpoint(`${tmp}/run`, { model: a, state });
  const fromCkpt = await exportPytorch(`${tmp}/run`, `${tmp}/ck.safetensors`);
  const fromModel = await exportPytorch(a, `${tmp}/m.safetensors`);
  assertEquals(await Deno.readFile(fromCkpt.path), await Deno.readFile(fromModel.path));
  const want = snapshot(a);
  for (const f of [fromCkpt.path, `${DIR}save_model.safetensors`, `${DIR}bf16_both.safetensors`]) {
    const b = createModel(CONFIG, 4);
    const weights = (await loadSafetensors(f)).tensors;
    restoreModel(b, { path: tmp, weights }, { source: f });
    const c = createModel(CONFIG, 5);
    importReferenceWeights(c, weights, f); // loadSafetensors' tensors type-check here
    assertEquals(snapshot(b), snapshot(c));
    if (f === fromCkpt.path) assertEquals(snapshot(b), want);
    b.dispose();
    c.dispose();
  }
  // In-memory export keeps both names (sharing one array) unless asked otherwise.
  const sd = await exportReferenceWeights(a);
  assert(sd.get("lm_head.weight") === sd.get("tok_emb.emb.weight"));
  assert(!(await exportReferenceWeights(a, { tiedHead: "once" })).has("tok_emb.emb.weight"));
  a.dispose();
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("interop: a wrapper prefix is removed; bad dtype, shape and untied head give errors naming file and key", async () => {
  await initBackend({ backend: "cpu" });
  const before = tf.memory().numTensors;
  const src = (await loadSafetensors(`${DIR}state_dict_both.safetensors`)).tensors;
  const tmp = await Deno.makeTempDir();
  const write = async (name: string, edit: (m: Map<string, SafeTensor>) => void) => {
    const m = new Map(src);
    edit(m);
    await saveSafetensors(`${tmp}/${name}`, m);
    return `${tmp}/${name}`;
  };
  const ddp = await write("ddp.safetensors", (m) => {
    for (const [k, v] of [...m]) {
      m.delete(k);
      m.set(`module.${k}`, v);
    }
  });
  const r = await importPytorch(ddp);
  assertEquals(r.tied, "both");
  r.model.dispose();
  const i32 = await write("i32.safetensors", (m) => {
    m.set("norm_f.weight", { data: new Int32Array(8), shape: [8] });
  });
  let e = await assertRejects(() => importPytorch(i32));
  assertStringIncludes(e.message, `Tensor "norm_f.weight" in "${i32}" has dtype I32`);
  assertStringIncludes(e.message, "F32, F16, BF16, F64");
  assert(!e.message.includes("missing"), e.message);
  const shape = await write("shape.safetensors", (m) => {
    m.set("blocks.1.ssm.out_proj.weight", { data: new Float32Array(8 * 4), shape: [8, 4] });
    m.delete("pos_emb.pos.weight");
  });
  e = await assertRejects(() => importPytorch(shape, { config: CONFIG }));
  assertStringIncludes(e.message, `Cannot load weights from "${shape}" into a "mhc" model`);
  assertStringIncludes(e.message, "blocks.1.ssm.out_proj.weight (got [8, 4], expected [8, 8])");
  assertStringIncludes(e.message, "missing 1: pos_emb.pos.weight");
  e = await assertRejects(() => importPytorch(shape));
  assertStringIncludes(
    e.message,
    `Cannot infer the model config from "${shape}": it has no tensor "pos_emb.pos.weight"`,
  );
  const untied = await write("untied.safetensors", (m) => {
    m.set("lm_head.weight", { data: new Float32Array(16 * 8), shape: [16, 8] });
  });
  e = await assertRejects(() => importPytorch(untied));
  assertStringIncludes(e.message, `"lm_head.weight" in "${untied}" differs from "tok_emb.emb.weight"`);
  const model = createModel(CONFIG, 1);
  e = await assertRejects(async () =>
    restoreModel(model, { path: tmp, weights: (await loadSafetensors(i32)).tensors })
  );
  assertStringIncludes(e.message, `Tensor "norm_f.weight" in "${tmp}/model.safetensors" has dtype I32`);
  model.dispose();
  assertEquals(tf.memory().numTensors, before);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("interop: inferReferenceConfig reads a baseline from shapes", async () => {
  await initBackend({ backend: "cpu" });
  const base = createModel({ kind: "baseline", vocabSize: 12, maxLen: 6, dim: 4, layers: 3, norm: "ln" }, 1);
  const sd = await exportReferenceWeights(base, { tiedHead: "once" });
  const cfg = inferReferenceConfig(sd);
  assertEquals(cfg as unknown, {
    kind: "baseline",
    vocabSize: 12,
    maxLen: 6,
    dim: 4,
    layers: 3,
    convKernel: 3,
    norm: "ln",
  });
  base.dispose();
});

Deno.test("interop: importPytorchToCheckpoint writes a checkpoint that loadCheckpoint and restoreModel read", async () => {
  await initBackend({ backend: "cpu" });
  const before = tf.memory().numTensors;
  const root = await Deno.makeTempDir();
  const r = await importPytorchToCheckpoint(`${DIR}f16_head_only.safetensors`, root);
  assertEquals([r.dir, r.tied, r.dtypes, r.configFrom], [`${root}/imported`, "head-only", ["F16"], "shapes"]);
  const ck = await loadCheckpoint(root);
  assertEquals(ck.state.step, 0);
  assertEquals(ck.config.kind, "mhc");
  const m = createModel(ck.config, 9);
  restoreModel(m, ck);
  const { model } = await importPytorch(`${DIR}f16_head_only.safetensors`);
  assertEquals(snapshot(m), snapshot(model));
  m.dispose();
  model.dispose();
  assertEquals(tf.memory().numTensors, before);
  await Deno.remove(root, { recursive: true });
});
