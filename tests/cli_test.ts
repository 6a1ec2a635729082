/**
 * The command line through its exported `main(argv)`: exit codes and messages for bad input, and an end-to-end
 * `train` → `benchmark --ppl_eval` on a tiny local WikiText folder (ascii tokenizer, cpu backend).
 */
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { main } from "../src/cli.ts";

/** Run `main(argv)` with console.log/error/warn captured (and silenced); returns the exit code and the text. */
async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const saved = { log: console.log, error: console.error, warn: console.warn, info: console.info };
  const fmt = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : Deno.inspect(a))).join(" ");
  console.log = (...a: unknown[]) => out.push(fmt(a));
  console.info = (...a: unknown[]) => out.push(fmt(a));
  console.error = (...a: unknown[]) => err.push(fmt(a));
  console.warn = (...a: unknown[]) => err.push(fmt(a));
  try {
    const code = await main(argv);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, saved);
  }
}

const SENTENCES = [
  " = Valkyria Chronicles = ",
  " The game began development in 2010 , carrying over a large portion of the work done on the previous title . ",
  " It met with positive sales in Japan , and was praised by both Japanese and western critics . ",
  " = = Plot = = ",
  " The story follows a squad of soldiers who fight against the Imperial army during a war . ",
  " Their leader is a young officer , and the squad is made up of volunteers from many towns . ",
];

/** A WikiText-like folder with `wiki.train.raw` and `wiki.valid.raw` (a few hundred characters each). */
async function makeWikiFixture(dir: string): Promise<void> {
  const train = [...SENTENCES, ...SENTENCES.slice(1).reverse(), ...SENTENCES].join("\n") + "\n";
  const valid = [SENTENCES[0], SENTENCES[2], SENTENCES[4], SENTENCES[5]].join("\n") + "\n";
  await Deno.writeTextFile(`${dir}/wiki.train.raw`, train);
  await Deno.writeTextFile(`${dir}/wiki.valid.raw`, valid);
}

Deno.test("cli: an unknown command exits 2 and names the commands", async () => {
  const r = await runCli(["trian"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.err, 'Unknown command "trian"');
  assertStringIncludes(r.err, "train");
  assertStringIncludes(r.err, "benchmark");
});

Deno.test("cli: no command prints the usage and exits 2; --help exits 0", async () => {
  const none = await runCli([]);
  assertEquals(none.code, 2);
  assertStringIncludes(none.out, "Usage: ssmlab");
  const help = await runCli(["--help"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.out, "Commands:");
});

Deno.test("cli: train --lr abc exits 1 with a clear message", async () => {
  const r = await runCli(["train", "--lr", "abc", "--backend", "cpu", "--tokenizer", "ascii"]);
  assertEquals(r.code, 1, `stderr: ${r.err}`);
  assertStringIncludes(r.err, 'Option --lr must be a number > 0, got "abc"');
});

Deno.test("cli: a bad model flag names the flag and what it expects (negative numbers included)", async () => {
  const cases: [string[], string][] = [
    [["--seq_len", "0"], 'Option --seq_len must be a positive integer, got "0"'],
    [["--dim", "-8"], 'Option --dim must be a positive integer, got "-8"'],
    [["--dim=2.5"], 'Option --dim must be a positive integer, got "2.5"'],
    [["--norm", "bn"], 'Option --norm must be one of "rms", "ln", got "bn"'],
    [["--dropout", "1"], 'Option --dropout must be a number in [0, 1), got "1"'],
    [["--batch_size", "0"], 'Option --batch_size must be a positive integer, got "0"'],
    [
      ["--model", "gpt"],
      'Option --model must be one of "baseline", "mhc", "h3", "hssm", "char_encoder", "char_tiny", "char_main", got "gpt"',
    ],
    [
      ["--preset", "huge"],
      'Option --preset must be one of "published", "small", "tiny" for --model mhc, got "huge"',
    ],
  ];
  for (const [flags, message] of cases) {
    const r = await runCli(["train", ...flags, "--backend", "cpu", "--tokenizer", "ascii"]);
    assertEquals(r.code, 1, `${flags.join(" ")}: ${r.err}`);
    assertStringIncludes(r.err, message);
  }
});

Deno.test("cli: train --help lists the chosen kind's model flags with their defaults and help", async () => {
  const mhc = await runCli(["train", "--help"]);
  assertEquals(mhc.code, 0);
  assertStringIncludes(mhc.out, "--n_streams 4");
  assertStringIncludes(mhc.out, "--seq_len 256");
  assertStringIncludes(mhc.out, "Model width d.");
  assertStringIncludes(mhc.out, "--norm rms");
  assertStringIncludes(mhc.out, 'one of "rms", "ln"');
  const tiny = await runCli(["train", "--model", "baseline", "--preset", "tiny", "--help"]);
  assertStringIncludes(tiny.out, "--dim 16");
  assertStringIncludes(tiny.out, 'Model flags of --model baseline (defaults of preset "tiny")');
});

Deno.test("cli: benchmark --model runs a freshly initialised model of any registered kind", async () => {
  const r = await runCli([
    "benchmark",
    "--model",
    "baseline",
    "--preset",
    "tiny",
    "--layers",
    "1",
    "--tokenizer",
    "ascii",
    "--batch_size",
    "2",
    "--seq_len",
    "8",
    "--steps",
    "1",
    "--warmup",
    "0",
    "--backend",
    "cpu",
  ]);
  assertEquals(r.code, 0, r.err);
  const json = JSON.parse(r.out.slice(r.out.indexOf("{"), r.out.lastIndexOf("}") + 1));
  assertEquals(json.kind, "baseline");
  assert(json.tokens_per_sec > 0, `tokens/s ${json.tokens_per_sec}`);
});

Deno.test("cli: train --bogus exits 1 and points at --help", async () => {
  const r = await runCli(["train", "--bogus"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.err, "--bogus");
  assertStringIncludes(r.err, "--help");
});

Deno.test("cli: benchmark without --ckpt exits 1 with a clear message", async () => {
  const r = await runCli(["benchmark", "--backend", "cpu"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.err, "--ckpt is required");
});

Deno.test("cli: train and benchmark end to end on a tiny local WikiText folder", async () => {
  const data = await Deno.makeTempDir({ prefix: "ssmlab_cli_data_" });
  const out = await Deno.makeTempDir({ prefix: "ssmlab_cli_out_" });
  try {
    await makeWikiFixture(data);
    const t0 = performance.now();
    const tr = await runCli([
      "train",
      "--data",
      data,
      "--tokenizer",
      "ascii",
      "--model",
      "mhc",
      "--dim",
      "16",
      "--layers",
      "1",
      "--seq_len",
      "16",
      "--batch_size",
      "2",
      "--steps",
      "3",
      "--eval_every",
      "2",
      "--save_every",
      "2",
      "--out_dir",
      out,
      "--backend",
      "cpu",
    ]);
    assertEquals(tr.code, 0, `train failed:\n${tr.err}\n${tr.out}`);
    assertStringIncludes(tr.out, "training mhc");
    const runJson = JSON.parse(await Deno.readTextFile(`${out}/mhc/run.json`));
    assertEquals(runJson.config.dim, 16);
    assertEquals(runJson.config.maxLen, 16);
    const entries = [...Deno.readDirSync(`${out}/mhc`)].map((e) => e.name);
    assert(entries.length > 1, `the run folder holds checkpoints: ${entries.join(", ")}`);

    const bm = await runCli([
      "benchmark",
      "--ckpt",
      `${out}/mhc`,
      "--batch_size",
      "2",
      "--steps",
      "2",
      "--warmup",
      "1",
      "--ppl_eval",
      "--data",
      data,
      "--tokenizer",
      "ascii",
      "--backend",
      "cpu",
    ]);
    assertEquals(bm.code, 0, `benchmark failed:\n${bm.err}\n${bm.out}`);
    const json = JSON.parse(bm.out.slice(bm.out.indexOf("{"), bm.out.lastIndexOf("}") + 1));
    assertEquals(json.backend, "cpu");
    assert(json.tokens_per_sec > 0, `tokens/s ${json.tokens_per_sec}`);
    assert(json.peak_mib > 0, `peak ${json.peak_mib}`);
    assert(Number.isFinite(json.val_loss) && json.val_loss > 0, `val_loss ${json.val_loss}`);
    assert(Number.isFinite(json.ppl) && json.ppl > 1, `ppl ${json.ppl}`);
    assert(json.ppl_batches >= 1, `ppl_batches ${json.ppl_batches}`);
    const secs = (performance.now() - t0) / 1000;
    assert(secs < 60, `end to end took ${secs.toFixed(1)} s`);
  } finally {
    await Deno.remove(data, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
