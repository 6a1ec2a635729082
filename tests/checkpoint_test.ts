import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { TinyLm } from "./fixtures/tiny_lm.ts";
import { AdamW } from "../src/train/optim.ts";
import {
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  loadFrozenSubmodules,
  restoreModel,
  saveCheckpoint,
  type TrainState,
} from "../src/train/checkpoint.ts";
import { loadSafetensors, type SafeTensor, saveSafetensors } from "../src/train/safetensors.ts";
import { createModel } from "../src/models/registry.ts";
import { Rng } from "../src/rng.ts";

function state(step: number): TrainState {
  return {
    step,
    epoch: 0,
    data: { cursor: step },
    rng: { main: new Rng(step).getState() },
    schedule: { spec: "constant", lr: 1e-3, position: step },
    bestValLoss: null,
    seed: 1,
    backend: "cpu",
    versions: {},
  };
}

function snapshot(m: TinyLm): Map<string, Float32Array> {
  return new Map([...m.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
}

async function ls(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

function step(model: TinyLm, opt: AdamW) {
  const g = new Map([...model.weights].map(([k, v]) => [k, tf.onesLike(v).mul(0.1) as tf.Tensor]));
  opt.applyGradients(g);
  for (const t of g.values()) t.dispose();
}

Deno.test("checkpoint: save, latest pointer, load, restore, keepLast pruning", async () => {
  await initBackend({ backend: "cpu" });
  const root = await Deno.makeTempDir();
  const model = new TinyLm({ vocabSize: 11, dim: 4 }, 3);
  const opt = new AdamW(model.weights, { lr: 1e-2, weightDecay: 0.1 });
  for (let s = 1; s <= 4; s++) {
    step(model, opt);
    await saveCheckpoint(root, {
      model,
      optimizer: opt,
      state: state(s),
      keepLast: 2,
      history: [{ step: s }],
    });
  }
  assertEquals(await ls(root), ["latest", "step-3", "step-4"]);
  assertEquals((await Deno.readTextFile(`${root}/latest`)).trim(), "step-4");
  assertEquals(await latestCheckpoint(root), `${root}/step-4`);
  assertEquals(await ls(`${root}/step-4`), [
    "config.json",
    "history.json",
    "model.safetensors",
    "optimizer.safetensors",
    "state.json",
  ]);
  assertEquals((await listCheckpoints(root)).map((c) => c.step), [3, 4]);
  const ck = await loadCheckpoint(root); // follows latest
  assertEquals(ck.path, `${root}/step-4`);
  assertEquals(ck.state.step, 4);
  assertEquals(ck.state.data, { cursor: 4 });
  assertEquals(ck.config, model.config);
  assertEquals(ck.history, [{ step: 4 }]);
  assertEquals(ck.optimizer!.step, 4);
  assertEquals(
    ck.optimizer!.moments.get("mix.weight")!.m,
    (await opt.getState()).moments.get("mix.weight")!.m,
  );
  // the weights file uses PyTorch names and layouts
  const w = await loadSafetensors(`${root}/step-4/model.safetensors`);
  assertEquals(w.tensors.get("mix.weight")!.shape, [4, 4]);
  assertEquals(w.tensors.get("emb.weight")!.shape, [11, 4]);
  assertEquals(w.metadata.format, "pt");

  const saved = snapshot(model);
  step(model, opt); // change the weights, then restore
  restoreModel(model, ck);
  assertEquals(snapshot(model), saved);
  const opt2 = new AdamW(model.weights, { lr: 1e-2 });
  opt2.setState(ck.optimizer!);
  assertEquals(opt2.hyper.weightDecay, 0.1);

  // overwriting a checkpoint of the same name is atomic (no temp folders left)
  await saveCheckpoint(root, { model, optimizer: opt, state: state(4) });
  assertEquals(await ls(root), ["latest", "step-3", "step-4"]);
  opt.dispose();
  opt2.dispose();
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("checkpoint: missing, unexpected and mis-shaped tensors are all listed", async () => {
  await initBackend({ backend: "cpu" });
  const root = await Deno.makeTempDir();
  const a = new TinyLm({ vocabSize: 11, dim: 4 }, 1);
  await saveCheckpoint(root, { model: a, state: state(1) });
  a.dispose();
  // change a tensor's shape, drop one, add one
  const f = await loadSafetensors(`${root}/step-1/model.safetensors`);
  f.tensors.delete("head.bias");
  f.tensors.set("ghost.weight", { data: new Float32Array(2), shape: [2] });
  f.tensors.set("mix.bias", { data: new Float32Array(5), shape: [5] });
  await saveSafetensors(`${root}/step-1/model.safetensors`, f.tensors);
  const b = new TinyLm({ vocabSize: 11, dim: 4 }, 2);
  const ck = await loadCheckpoint(`${root}/step-1`);
  let msg = "";
  try {
    restoreModel(b, ck);
  } catch (e) {
    msg = (e as Error).message;
  }
  for (
    const s of [`missing "head.bias"`, `unexpected "ghost.weight"`, `"mix.bias" is [5] in the file but [4]`]
  ) {
    assertStringIncludes(msg, s);
  }
  b.dispose();
  await assertRejects(() => loadCheckpoint(`${root}/nope`), Error, "No checkpoint at");
  await Deno.writeTextFile(`${root}/step-1/state.json`, "{oops");
  await assertRejects(() => loadCheckpoint(`${root}/step-1`), Error, 'state.json" is not valid JSON');
  await Deno.writeTextFile(`${root}/latest`, "step-99\n");
  await assertRejects(() => loadCheckpoint(root), Error, `points to "step-99"`);
  await Deno.remove(root, { recursive: true });
});

Deno.test("checkpoint: load sub-modules frozen from another checkpoint, with renaming", async () => {
  await initBackend({ backend: "cpu" });
  const root = await Deno.makeTempDir();
  const src = new TinyLm({ vocabSize: 11, dim: 4 }, 7);
  const srcW = snapshot(src);
  await saveCheckpoint(root, { model: src, state: state(5), name: "stage1" });
  src.dispose();

  const model = new TinyLm({ vocabSize: 11, dim: 4 }, 8);
  const opt = new AdamW(model.weights, { lr: 1e-2, weightDecay: 0.1 });
  const names = await loadFrozenSubmodules(model, `${root}/stage1`, { prefixes: ["mix."], optimizer: opt });
  assertEquals(names.sort(), ["mix.bias", "mix.weight"]);
  assertEquals(Float32Array.from(model.weights.get("mix.weight")!.dataSync()), srcW.get("mix.weight")!);
  assert(opt.isFrozen("mix.weight") && opt.isFrozen("mix.bias") && !opt.isFrozen("emb.weight"));
  const before = snapshot(model);
  for (let i = 0; i < 3; i++) step(model, opt);
  const after = snapshot(model);
  assertEquals(after.get("mix.weight"), before.get("mix.weight"), "frozen: bit-for-bit unchanged");
  assertEquals(after.get("mix.bias"), before.get("mix.bias"));
  assert(after.get("emb.weight")![0] !== before.get("emb.weight")![0], "others train");

  // rename map: source "mix." → target "mix." via a different source name
  const f = await loadSafetensors(`${root}/stage1/model.safetensors`);
  const renamed = new Map([...f.tensors].map(([k, v]) => [k.replace(/^mix\./, "encoder.mix."), v]));
  await saveSafetensors(`${root}/enc.safetensors`, renamed);
  const names2 = await loadFrozenSubmodules(model, `${root}/enc.safetensors`, {
    prefixes: ["encoder.mix."],
    rename: { "encoder.": "" },
  });
  assertEquals(names2.sort(), ["mix.bias", "mix.weight"]);
  const e = await assertRejects(() =>
    loadFrozenSubmodules(model, `${root}/enc.safetensors`, { prefixes: ["encoder.", "nothing."] })
  );
  assertStringIncludes(e.message, `prefix "nothing." matches no tensor`);
  assertStringIncludes(e.message, `"encoder.mix.weight" → "encoder.mix.weight" is not a parameter`);
  opt.dispose();
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("checkpoint: restoreModel reads every tied-head layout (both, lm_head only) and F64/BF16 weights", async () => {
  await initBackend({ backend: "cpu" });
  const before = tf.memory().numTensors;
  const root = await Deno.makeTempDir();
  const config = { kind: "mhc", vocabSize: 16, maxLen: 8, dim: 8, layers: 1, nStreams: 2 };
  const a = createModel(config, 1);
  const want = new Map([...a.weights].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]));
  await saveCheckpoint(root, { model: a, state: state(1) });
  a.dispose();
  const file = `${root}/step-1/model.safetensors`;
  const saved = (await loadSafetensors(file)).tensors;
  assert(!saved.has("lm_head.weight") && saved.has("tok_emb.emb.weight"), "ssmlab saves the embedding name");
  const emb = saved.get("tok_emb.emb.weight")!;
  const bf16 = (x: Float32Array) =>
    new Float32Array(Uint32Array.from(new Uint32Array(x.buffer), (u) => u & 0xffff0000).buffer);
  const toBf16Bytes = (x: Float32Array) =>
    new Uint8Array(Uint16Array.from(new Uint32Array(x.buffer), (u) => u >>> 16).buffer);
  const layouts: [string, Map<string, SafeTensor>, (n: string, x: Float32Array) => Float32Array][] = [
    ["both", new Map([...saved, ["lm_head.weight", emb]]), (_, x) => x],
    [
      "head only",
      new Map([...saved].map(([k, v]) => [k === "tok_emb.emb.weight" ? "lm_head.weight" : k, v])),
      (_, x) => x,
    ],
    [
      "F64",
      new Map(
        [...saved].map((
          [k, v],
        ) => [k, { ...v, dtype: "F64", data: Float64Array.from(v.data as Float32Array) }]),
      ),
      (_, x) => x,
    ],
    [
      "BF16",
      new Map(
        [...saved].map((
          [k, v],
        ) => [k, { shape: v.shape, dtype: "BF16", data: toBf16Bytes(v.data as Float32Array) }]),
      ),
      (_, x) => bf16(x),
    ],
  ];
  for (const [label, tensors, expect] of layouts) {
    await saveSafetensors(file, tensors as Map<string, SafeTensor>);
    const b = createModel(config, 2);
    restoreModel(b, await loadCheckpoint(root));
    for (const [k, v] of b.weights) {
      assertEquals(
        Float32Array.from(v.dataSync() as Float32Array),
        expect(k, want.get(k)!),
        `${label}: ${k}`,
      );
    }
    b.dispose();
  }
  await saveSafetensors(
    file,
    new Map([...saved, ["norm_f.weight", { data: new Int32Array(8), shape: [8] }]]),
  );
  const c = createModel(config, 3);
  const ck = await loadCheckpoint(root);
  let msg = "";
  try {
    restoreModel(c, ck);
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, `Tensor "norm_f.weight" in "${file}" has dtype I32`);
  await saveSafetensors(
    file,
    new Map([...saved, ["lm_head.weight", { data: new Float32Array(16 * 8), shape: [16, 8] }]]),
  );
  msg = "";
  try {
    restoreModel(c, await loadCheckpoint(root));
  } catch (e) {
    msg = (e as Error).message;
  }
  assertStringIncludes(msg, `"lm_head.weight" in "${file}" differs from "tok_emb.emb.weight"`);
  c.dispose();
  assertEquals(tf.memory().numTensors, before);
  await Deno.remove(root, { recursive: true });
});
