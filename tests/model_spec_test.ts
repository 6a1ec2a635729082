/**
 * The model contract: every registered spec is complete and consistent (help on every field, presets valid,
 * paramCount = the built model's count, same seed → same weights), validation names the field, the LM shell's
 * options (untied head, no positions, named auxiliary losses), and a new family added through `registerModel`
 * alone is created, trained and offered by the CLI.
 */
import * as tf from "@tensorflow/tfjs";
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import { batch } from "./tensor_assert.ts";
import { initBackend } from "../src/backend.ts";
import {
  createModel,
  modelConfig,
  modelKinds,
  modelSpec,
  modelVariants,
  registerModel,
} from "../src/models/registry.ts";
import { type AuxLosses, LmShell } from "../src/models/lm.ts";
import { fieldFlag, type FieldSpec, type ModelSpec, validateFields } from "../src/models/spec.ts";
import { type ModelConfig, parameterCount } from "../src/models/types.ts";
import { crossEntropy } from "../src/nn/losses.ts";
import { linear } from "../src/nn/linear.ts";
import { ArrayBatchSource } from "../src/train/batch_source.ts";
import { train } from "../src/train/trainer.ts";
import { main } from "../src/cli.ts";

await initBackend({ backend: "cpu" });

Deno.test("every registered spec: help on every field, valid presets, paramCount = built count, seeded init", () => {
  const n0 = tf.memory().numTensors;
  for (const kind of modelKinds()) {
    const spec = modelSpec(kind);
    assert(spec.description.length > 10, `${kind}: description`);
    for (const [name, f] of Object.entries(spec.defaults as Record<string, FieldSpec>)) {
      assert(f.help.length > 5, `${kind}.${name}: help`);
      assert(["int", "number", "boolean", "string"].includes(f.type), `${kind}.${name}: type ${f.type}`);
    }
    for (const preset of Object.keys(spec.presets)) spec.validate(modelConfig(kind, {}, preset));
    const cfg = modelConfig(kind, {}, "tiny");
    const a = createModel(cfg, 3), b = createModel(cfg, 3), c = createModel(cfg, 4);
    assertEquals(spec.paramCount(cfg), parameterCount(a), `${kind}: paramCount`);
    let sameAB = true, sameAC = true;
    for (const [k, v] of a.weights) {
      const x = v.dataSync(), y = b.weights.get(k)!.dataSync(), z = c.weights.get(k)!.dataSync();
      sameAB &&= x.every((e, i) => e === y[i]);
      sameAC &&= x.every((e, i) => e === z[i]);
    }
    assert(sameAB, `${kind}: same seed, same weights`);
    assert(!sameAC, `${kind}: another seed, other weights`);
    [a, b, c].forEach((m) => m.dispose());
  }
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
});

Deno.test("published parameter counts through the specs (no allocation)", () => {
  const count = (kind: string, o: Record<string, unknown> = {}) =>
    modelSpec(kind).paramCount(modelConfig(kind, o));
  assertEquals(count("baseline"), 32_203_776);
  assertEquals(count("mhc"), 33_254_596);
  assertEquals(count("mhc", { streamAdapters: true }), 33_791_684);
  assertEquals(modelVariants().map((v) => v.name), [
    "baseline",
    "mhc",
    "mhc_adapters",
    "h3",
    "hssm",
    "char_encoder",
    "char_tiny",
    "char_main",
  ]);
});

Deno.test("validation names the field and what was expected", () => {
  assertThrows(
    () => modelConfig("mhc", { dim: 0 }, "tiny"),
    Error,
    `"dim" must be a positive integer, got "0"`,
  );
  assertThrows(
    () => modelConfig("mhc", { norm: "bn" }),
    Error,
    `"norm" must be one of "rms", "ln", got "bn"`,
  );
  assertThrows(() => modelConfig("mhc", { sinkhornTemp: 0 }), Error, `"sinkhornTemp" must be a number > 0`);
  assertThrows(
    () => modelConfig("mhc", { dropout: 1 }),
    Error,
    `"dropout" must be a number in [0, 1), got "1"`,
  );
  assertThrows(
    () => modelConfig("mhc", { streamAdapters: "yes" }),
    Error,
    `"streamAdapters" must be true or false`,
  );
  assertThrows(
    () => modelConfig("baseline", { dimm: 8 }),
    Error,
    `"dimm" is not a field of the "baseline" model`,
  );
  assertThrows(() => modelConfig("mhc", {}, "huge"), Error, `Unknown mhc preset "huge"`);
  assertThrows(
    () => modelConfig("gpt", {}),
    Error,
    `Unknown model kind "gpt": expected one of baseline, mhc`,
  );
  assertThrows(() => createModel({ kind: "mhc", layers: -1 }), Error, `"layers" must be a positive integer`);
});

Deno.test("mHC's stream-diversity term is reported by name and is the only difference in the loss", () => {
  const { x, y } = batch(128, 2, 8, 3);
  const n0 = tf.memory().numTensors;
  const plain = createModel(modelConfig("mhc", {}, "tiny"), 5);
  const withAux = createModel(modelConfig("mhc", { streamDiversityCoeff: 0.5 }, "tiny"), 5);
  const l0 = tf.tidy(() => plain.loss(x, y).dataSync()[0]);
  const l1 = tf.tidy(() => withAux.loss(x, y).dataSync()[0]);
  assertEquals(plain.lastAux!(), {});
  const aux = withAux.lastAux!();
  assertEquals(Object.keys(aux), ["stream_diversity"]);
  assert(aux.stream_diversity > 0, `aux ${aux.stream_diversity}`);
  assertAlmostEquals(l1, l0 + aux.stream_diversity, 1e-5);
  plain.dispose();
  withAux.dispose();
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks (the kept aux terms are released by dispose)");
  tf.dispose([x, y]);
});

// ---- A new family from this file alone: an MLP "bigram" body on the shell, untied head, no positions. ----

/** Config of the toy family. */
interface ToyConfig extends ModelConfig {
  kind: "toy";
  maxLen: number | null;
  dim: number;
  hidden: number;
  auxCoeff: number;
}

const TOY_FIELDS: ModelSpec<ToyConfig>["defaults"] = {
  vocabSize: { value: 32, type: "int", min: 1, flag: false, help: "Vocabulary size V." },
  maxLen: { value: null, type: "int", min: 1, nullable: true, help: "Longest sequence, or null: unbounded." },
  dim: { value: 8, type: "int", min: 1, help: "Model width d." },
  hidden: { value: 16, type: "int", min: 1, help: "Hidden width of the MLP." },
  auxCoeff: { value: 0.1, type: "number", min: 0, help: "Weight of the activation-size auxiliary loss." },
};

class ToyLm extends LmShell<ToyConfig> {
  constructor(config: ToyConfig, seed: number, dryRun = false) {
    super(
      config,
      { dim: config.dim, positions: false, head: "untied", norm: "ln", dropout: 0 },
      seed,
      dryRun,
    );
  }
  protected build(): void {
    this.params.linear("mlp.up", this.config.dim, this.config.hidden);
    this.params.linear("mlp.down", this.config.hidden, this.config.dim);
  }
  protected body(x: tf.Tensor3D, aux: AuxLosses): tf.Tensor3D {
    const w = this.weights;
    const h = tf.relu(linear(x, w.get("mlp.up.weight")!, w.get("mlp.up.bias")!));
    aux.activation = tf.mean(tf.square(h)).mul(this.config.auxCoeff) as tf.Scalar;
    return tf.add(x, linear(h, w.get("mlp.down.weight")!, w.get("mlp.down.bias")!)) as tf.Tensor3D;
  }
}

const TOY_SPEC: ModelSpec<ToyConfig> = {
  kind: "toy",
  description: "Toy residual MLP on the LM shell (tests only).",
  defaults: TOY_FIELDS,
  presets: { published: {}, tiny: { dim: 4 } },
  validate: (c) => validateFields({ kind: "toy", defaults: TOY_FIELDS }, c),
  create: (c, seed) => new ToyLm(c, seed),
  paramCount: (c) => new ToyLm(c, 0, true).numParams(),
};

Deno.test("a family registered from outside: shell options, training, CLI flags", async () => {
  registerModel(TOY_SPEC);
  assert(modelKinds().includes("toy"));
  const n0 = tf.memory().numTensors;
  const m = createModel({ kind: "toy", vocabSize: 16 }, 1);
  assertEquals([...m.weights.keys()], [
    "tok_emb.emb.weight",
    "mlp.up.weight",
    "mlp.up.bias",
    "mlp.down.weight",
    "mlp.down.bias",
    "norm_f.weight",
    "norm_f.bias",
    "lm_head.weight",
  ]);
  assertEquals(modelSpec("toy").paramCount(m.config as ToyConfig), parameterCount(m));
  // Untied head: the loss equals the cross-entropy of the logits plus the named auxiliary term.
  const { x, y } = batch(16, 2, 40, 1); // longer than any learned table: no positions, maxLen null
  const l = tf.tidy(() => m.loss(x, y).dataSync()[0]);
  const ce = tf.tidy(() => crossEntropy(m.logits!(x), y).dataSync()[0]);
  assertAlmostEquals(l, ce + m.lastAux!().activation, 1e-5);
  // The trainer needs only the Trainable members.
  const ids = Int32Array.from({ length: 400 }, (_, i) => (i * 5) % 16);
  const history = await train({
    model: m,
    data: new ArrayBatchSource(ids, { batch: 2, seqLen: 8, rng: 1, dropLast: true }),
    steps: 3,
    lr: 1e-2,
    rngs: m.rngs,
    progress: "none",
  });
  assertEquals(history.length, 3);
  m.dispose();
  tf.dispose([x, y]);
  assertEquals(tf.memory().numTensors, n0, "no tensor leaks");
  // The CLI offers the new kind with flags generated from its field table.
  const saved = console.log;
  let out = "";
  console.log = (s: string) => void (out += s);
  try {
    assertEquals(await main(["train", "--model", "toy", "--preset", "tiny", "--help"]), 0);
  } finally {
    console.log = saved;
  }
  assertStringIncludes(out, "--hidden 16");
  assertStringIncludes(out, "--dim 4");
  assertStringIncludes(out, "--aux_coeff 0.1");
  assertStringIncludes(out, "--max_len null");
  assertStringIncludes(out, "(a positive integer or null)");
  assertEquals(fieldFlag("auxCoeff", TOY_FIELDS.auxCoeff), "aux_coeff");
});
