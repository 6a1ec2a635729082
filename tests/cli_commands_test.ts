/**
 * Every command of the command line on the shipped samples (tiny models, cpu backend): a vocab20k run trained
 * from the CLI and read back by eval, generate, benchmark, export and import through its own tokenizer record;
 * `--keep_last`; `--help` of each command with its defaults; bad flags and incomplete checkpoints named; failed
 * runs leaving nothing behind.
 */
import { assert, assertAlmostEquals, assertEquals, assertStringIncludes } from "./assert.ts";
import { entries, exists, printedJson, runCli } from "./cli_helpers.ts";
import { OutputGuard } from "../src/cli/cleanup.ts";

const TEXT = new URL("../data/samples/babylm/gutenberg_children.train", import.meta.url).pathname;
const WIKI = new URL("../data/samples/wikitext-2", import.meta.url).pathname;
const TINY = ["--model", "mhc", "--preset", "tiny", "--dim", "16", "--layers", "1", "--seq_len", "16"];

Deno.test("cli: a vocab20k run end to end — train, eval, generate, benchmark, export, import", async () => {
  const out = await Deno.makeTempDir({ prefix: "ssmlab_cli_cmds_" });
  try {
    const tr = await runCli([
      "train",
      ...TINY,
      "--data",
      TEXT,
      "--tokenizer",
      "vocab20k",
      "--tokenizer_vocab_size",
      "400",
      "--batch_size",
      "2",
      "--steps",
      "3",
      "--save_every",
      "1",
      "--keep_last",
      "1",
      "--eval_every",
      "0",
      "--eval_batches",
      "2",
      "--out_dir",
      out,
      "--run_name",
      "v20k",
      "--backend",
      "cpu",
    ]);
    assertEquals(tr.code, 0, `train failed:\n${tr.err}\n${tr.out}`);
    const run = `${out}/v20k`;
    // --keep_last 1: one step folder; the tokenizer trained here is saved beside the checkpoints.
    assertEquals(entries(run), ["latest", "run.json", "step-3", "tokenizer.json", "vocab20k.json"]);
    const rec = JSON.parse(await Deno.readTextFile(`${run}/tokenizer.json`));
    assertEquals(rec.name, "vocab20k");
    assert(rec.vocab_size > 101 && rec.vocab_size <= 400, `vocab ${rec.vocab_size}`);
    assertEquals(JSON.parse(await Deno.readTextFile(`${run}/step-3/config.json`)).vocabSize, rec.vocab_size);

    const ev = await runCli([
      "eval",
      "--ckpt",
      run,
      "--data",
      TEXT,
      "--batch_size",
      "2",
      "--max_batches",
      "3",
      "--backend",
      "cpu",
    ]);
    assertEquals(ev.code, 0, ev.err);
    const evJson = printedJson(ev.out);
    assertEquals(evJson.tokenizer, "vocab20k");
    assertEquals(evJson.batches, 3);
    assert(Number.isFinite(evJson.ppl as number) && (evJson.ppl as number) > 1, `ppl ${evJson.ppl}`);

    const gen = (extra: string[]) =>
      runCli([
        "generate",
        "--ckpt",
        run,
        "--prompt",
        "Alice was",
        "--max_new_tokens",
        "6",
        "--backend",
        "cpu",
        ...extra,
      ]);
    const sampling = [
      "--temperature",
      "0.8",
      "--top_k",
      "20",
      "--top_p",
      "0.9",
      "--repetition_penalty",
      "1.2",
      "--no_repeat_ngram_size",
      "2",
      "--seed",
      "7",
    ];
    const g1 = await gen(sampling);
    const g2 = await gen(sampling);
    const greedy = await gen(["--greedy", "--ignore_eos"]);
    for (const g of [g1, g2, greedy]) assertEquals(g.code, 0, g.err);
    assert(g1.out.startsWith("Alice was"), g1.out);
    assertEquals(g1.out, g2.out, "the same seed gives the same text");
    assert(greedy.out.length > "Alice was".length, `greedy added text: ${JSON.stringify(greedy.out)}`);

    // Item 3: benchmark reads the checkpoint's tokenizer (no --tokenizer), also for --ppl_eval.
    const bm = await runCli([
      "benchmark",
      "--ckpt",
      run,
      "--batch_size",
      "2",
      "--steps",
      "1",
      "--warmup",
      "1",
      "--ppl_eval",
      "--ppl_batches",
      "2",
      "--data",
      TEXT,
      "--backend",
      "cpu",
    ]);
    assertEquals(bm.code, 0, bm.err);
    const bmJson = printedJson(bm.out);
    assertEquals(bmJson.tokenizer, "vocab20k");
    assert(Number.isFinite(bmJson.ppl as number), `ppl ${bmJson.ppl}`);

    const file = `${out}/w.safetensors`;
    const ex = await runCli(["export", "--format", "pytorch", "--ckpt", run, "--out", file]);
    assertEquals(ex.code, 0, ex.err);
    assertStringIncludes(ex.out, "once, as lm_head.weight");
    const im = await runCli([
      "import",
      "--file",
      file,
      "--out_dir",
      `${out}/back`,
      "--tokenizer",
      "vocab20k",
      "--tokenizer_file",
      `${run}/vocab20k.json`,
      "--backend",
      "cpu",
    ]);
    assertEquals(im.code, 0, im.err);
    assertEquals(entries(`${out}/back`), ["imported", "latest", "tokenizer.json", "vocab20k.json"]);
    const ev2 = await runCli([
      "eval",
      "--ckpt",
      `${out}/back`,
      "--data",
      TEXT,
      "--batch_size",
      "2",
      "--max_batches",
      "3",
      "--backend",
      "cpu",
    ]);
    assertEquals(ev2.code, 0, ev2.err);
    assertAlmostEquals(printedJson(ev2.out).loss as number, evJson.loss as number, 1e-5);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: every command's --help lists its options with their defaults", async () => {
  const cases: [string, string[]][] = [
    ["train", [
      "--keep_last 0",
      "--tokenizer gpt2",
      "vocab20k",
      "--tokenizer_vocab_size 20000",
      "--seq_len 256",
    ]],
    ["benchmark", ["--batch_size 16", "--steps 50", "--warmup 10", "--ppl_batches 50"]],
    ["eval", ["--split validation", "--batch_size 8", '"logprobs", "loss"']],
    ["generate", [
      "--max_new_tokens 50",
      "--temperature 1",
      "--top_k 0",
      "--top_p 1",
      "--repetition_penalty 1",
      "--no_repeat_ngram_size 0",
      "--greedy",
      "--seed 0",
    ]],
    ["export", ["--format pytorch", "--tied_head once", '"once", "both"']],
    ["import", ["--name imported", "--tokenizer gpt2", "--seed 1337"]],
    ["quickstart", ["--steps 150", "--seed 1337"]],
  ];
  const top = await runCli(["--help"]);
  for (const [cmd, wanted] of cases) {
    assertStringIncludes(top.out, `  ${cmd}`);
    const r = await runCli([cmd, "--help"]);
    assertEquals(r.code, 0, `${cmd}: ${r.err}`);
    for (const w of wanted) assertStringIncludes(r.out, w, `${cmd} --help`);
  }
});

Deno.test("cli: a bad flag of any command names the flag and what it expects", async () => {
  const cases: [string[], string][] = [
    [["generate", "--ckpt", "x", "--top_p", "0"], 'Option --top_p must be a number in (0, 1], got "0"'],
    [
      ["generate", "--ckpt", "x", "--temperature", "-1"],
      'Option --temperature must be a number ≥ 0, got "-1"',
    ],
    [["generate", "--prompt", "hi"], "Option --ckpt is required"],
    [
      ["eval", "--ckpt", "x", "--split", "dev"],
      'Option --split must be one of "train", "validation", "test", got "dev"',
    ],
    [["eval"], "Option --ckpt is required"],
    [["eval", "--ckpt", ""], "Option --ckpt needs a value"],
    [[
      "train",
      "--data",
      "no/such/dir",
      "--tokenizer",
      "ascii",
      "--model",
      "mhc",
      "--preset",
      "tiny",
      "--backend",
      "cpu",
    ], 'Option --data: "no/such/dir" does not exist'],
    [
      ["export", "--ckpt", "x", "--out", "y", "--tied_head", "twice"],
      'Option --tied_head must be one of "once", "both", got "twice"',
    ],
    [["export", "--ckpt", "x"], "Option --out is required"],
    [["import", "--out_dir", "x"], "Option --file is required"],
    [["train", "--keep_last", "-1"], 'Option --keep_last must be an integer ≥ 0, got "-1"'],
    [
      ["train", "--tokenizer", "bpe"],
      'Option --tokenizer must be one of "gpt2", "ascii", "vocab20k", got "bpe"',
    ],
    [
      ["train", "--backend", "tpu"],
      'Option --backend must be one of "auto", "cpu", "wasm", "webgpu", "tensorflow", got "tpu"',
    ],
    [["train", "--run_name", "../x"], 'Run (--run_name) name "../x" is not valid'],
    [["benchmark", "--ckpt", "x", "--model", "mhc"], "Options --ckpt and --model exclude each other"],
    [
      ["benchmark", "--model", "mhc", "--preset", "tiny", "--tokenizer", "vocab20k", "--backend", "cpu"],
      "Option --tokenizer vocab20k needs --tokenizer_file",
    ],
  ];
  for (const [argv, message] of cases) {
    const r = await runCli(argv);
    assertEquals(r.code, 1, `${argv.join(" ")}: ${r.err}`);
    assertStringIncludes(r.err, message, argv.join(" "));
  }
});

Deno.test("cli: a checkpoint without its tokenizer or config names the missing file", async () => {
  const out = await Deno.makeTempDir({ prefix: "ssmlab_cli_ck_" });
  try {
    const tr = await runCli([
      "train",
      ...TINY,
      "--data",
      `${WIKI}/wiki.test.raw`,
      "--tokenizer",
      "ascii",
      "--batch_size",
      "2",
      "--steps",
      "1",
      "--eval_every",
      "0",
      "--eval_batches",
      "1",
      "--out_dir",
      out,
      "--run_name",
      "a",
      "--backend",
      "cpu",
    ]);
    assertEquals(tr.code, 0, tr.err);
    // --resume reads the run's own tokenizer (ascii) without --tokenizer; a different explicit one is refused.
    const common = [...TINY, "--data", `${WIKI}/wiki.test.raw`, "--batch_size", "2", "--eval_every", "0"];
    const more = ["--eval_batches", "1", "--out_dir", out, "--run_name", "a", "--resume", "--backend", "cpu"];
    const resumed = await runCli(["train", ...common, "--steps", "2", ...more]);
    assertEquals(resumed.code, 0, resumed.err);
    assert(entries(`${out}/a`).includes("step-2"), entries(`${out}/a`).join(", "));
    const clash = await runCli(["train", ...common, "--steps", "3", "--tokenizer", "gpt2", ...more]);
    assertStringIncludes(
      clash.err,
      'Option --tokenizer is "gpt2" but the run being resumed was trained with "ascii"',
    );
    const ck = `${out}/a/step-1`;
    // Copied away from its run folder, the checkpoint has no tokenizer record.
    const lone = `${out}/lone`;
    await Deno.mkdir(lone);
    for (const f of entries(ck)) await Deno.copyFile(`${ck}/${f}`, `${lone}/${f}`);
    const noTok = await runCli([
      "eval",
      "--ckpt",
      lone,
      "--data",
      WIKI,
      "--split",
      "test",
      "--backend",
      "cpu",
    ]);
    assertEquals(noTok.code, 1);
    assertStringIncludes(noTok.err, `"${lone}/tokenizer.json"`);
    assertStringIncludes(noTok.err, "--tokenizer NAME");
    // With --tokenizer it evaluates.
    const withTok = await runCli([
      "eval",
      "--ckpt",
      lone,
      "--data",
      WIKI,
      "--split",
      "test",
      "--tokenizer",
      "ascii",
      "--max_batches",
      "1",
      "--backend",
      "cpu",
    ]);
    assertEquals(withTok.code, 0, withTok.err);
    // A tokenizer too large for the checkpoint's vocabulary is refused by name.
    const big = await runCli(["generate", "--ckpt", lone, "--tokenizer", "gpt2", "--backend", "cpu"]);
    assertStringIncludes(big.err, 'The tokenizer "gpt2" has 50257 ids');
    await Deno.remove(`${lone}/config.json`);
    const noCfg = await runCli(["generate", "--ckpt", lone, "--tokenizer", "ascii", "--backend", "cpu"]);
    assertEquals(noCfg.code, 1);
    assertStringIncludes(noCfg.err, `"${lone}/config.json" is missing`);
    const none = await runCli(["export", "--ckpt", `${out}/nothing`, "--out", `${out}/x.safetensors`]);
    assertStringIncludes(none.err, `No checkpoint at "${out}/nothing"`);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("cli: failed runs leave nothing half-written", async () => {
  const out = await Deno.makeTempDir({ prefix: "ssmlab_cli_fail_" });
  try {
    // Fails before training (too little text for one batch): no run folder at all.
    const short = `${out}/short.txt`;
    await Deno.writeTextFile(short, "a b c\nd e f\ng h i\n");
    const r1 = await runCli([
      "train",
      ...TINY,
      "--data",
      short,
      "--tokenizer",
      "ascii",
      "--out_dir",
      `${out}/runs`,
      "--backend",
      "cpu",
    ]);
    assertEquals(r1.code, 1);
    assertStringIncludes(r1.err, "fewer than one batch");
    assert(!exists(`${out}/runs`), "no run folder");
    // Fails inside train() (a broken `latest` pointer on --resume) in an existing folder: run.json and the
    // tokenizer record it wrote are removed again, the rest is left as it was.
    await Deno.mkdir(`${out}/runs/b`, { recursive: true });
    await Deno.writeTextFile(`${out}/runs/b/latest`, "step-9\n");
    const r2 = await runCli([
      "train",
      ...TINY,
      "--data",
      `${WIKI}/wiki.test.raw`,
      "--tokenizer",
      "ascii",
      "--batch_size",
      "2",
      "--steps",
      "1",
      "--out_dir",
      `${out}/runs`,
      "--run_name",
      "b",
      "--resume",
      "--backend",
      "cpu",
    ]);
    assertEquals(r2.code, 1, r2.out);
    assertEquals(entries(`${out}/runs/b`), ["latest"]);
    // An import refused after its checkpoint was written (vocabulary 16 < ascii's 128) removes its folder.
    const fixture = new URL("./fixtures/pytorch/save_model.safetensors", import.meta.url).pathname;
    const r3 = await runCli([
      "import",
      "--file",
      fixture,
      "--out_dir",
      `${out}/imp`,
      "--tokenizer",
      "ascii",
      "--backend",
      "cpu",
    ]);
    assertEquals(r3.code, 1);
    assertStringIncludes(r3.err, 'Tokenizer "ascii" has 128 ids');
    assert(!exists(`${out}/imp`), "no import folder");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

const HAS_NATIVE_TF = ["tfjs-node", "tfjs-node-gpu"].some((p) =>
  exists(new URL(`../node_modules/@tensorflow/${p}`, import.meta.url).pathname)
);

Deno.test({ name: "cli: a quickstart that fails leaves no run folder", ignore: HAS_NATIVE_TF }, async () => {
  const root = await Deno.makeTempDir({ prefix: "ssmlab_qs_fail_" });
  const saved = Deno.env.get("SSMLAB_RESULTS");
  Deno.env.set("SSMLAB_RESULTS", `${root}/results`);
  try {
    // No native TensorFlow binding is installed here, so the backend cannot start.
    const r = await runCli(["quickstart", "--backend", "tensorflow", "--run", "x"]);
    assertEquals(r.code, 1);
    assertStringIncludes(r.err, 'Could not start backend "tensorflow"');
    assertEquals(entries(root), []);
  } finally {
    if (saved === undefined) Deno.env.delete("SSMLAB_RESULTS");
    else Deno.env.set("SSMLAB_RESULTS", saved);
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("cli: OutputGuard removes the folders it created, and only the files it wrote elsewhere", async () => {
  const root = await Deno.makeTempDir({ prefix: "ssmlab_guard_" });
  try {
    const g = await OutputGuard.open(`${root}/a/b/c`);
    await Deno.writeTextFile(g.track(`${root}/a/b/c/x.json`), "{}");
    await g.rollback();
    assertEquals(entries(root), []);
    await Deno.mkdir(`${root}/d`);
    await Deno.writeTextFile(`${root}/d/keep.txt`, "keep");
    const h = await OutputGuard.open(`${root}/d`);
    await Deno.writeTextFile(h.track(`${root}/d/x.json`), "{}");
    await h.rollback();
    assertEquals(entries(`${root}/d`), ["keep.txt"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
