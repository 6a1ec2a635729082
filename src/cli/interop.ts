/**
 * `ssmlab export --format pytorch` and `ssmlab import`: a checkpoint ↔ a safetensors file under the PyTorch
 * reference's `state_dict` names (src/models/interop.ts). An imported file becomes a checkpoint folder with a
 * `tokenizer.json`, so every other command reads it like a trained run.
 *
 * @module
 */
import { exportPytorch, importPytorchToCheckpoint } from "../models/interop.ts";
import { OutputGuard } from "./cleanup.ts";
import { BACKEND_OPTION, type CliOption, HELP_OPTION, helpText, parse } from "./options.ts";
import { initBackend } from "../backend.ts";
import { saveRunTokenizer, trainingTokenizer } from "./tokenizer.ts";

/** Options of `export`. */
export const EXPORT_OPTIONS: Record<string, CliOption> = {
  ckpt: { type: "string", help: "Checkpoint folder, or a run folder with a `latest` pointer (required)." },
  out: { type: "string", help: "The safetensors file to write (required)." },
  format: { type: "string", choices: ["pytorch"], value: "pytorch", help: "Output format." },
  tied_head: {
    type: "string",
    choices: ["once", "both"],
    value: "once",
    help: "once: the tied head under lm_head.weight only (safetensors' load_model); both: also " +
      "tok_emb.emb.weight (load_state_dict(strict=True), the reference's benchmark.py).",
  },
  help: HELP_OPTION,
};

/** Options of `import`. */
export const IMPORT_OPTIONS: Record<string, CliOption> = {
  file: { type: "string", help: "A PyTorch safetensors file under the reference names (required)." },
  out_dir: {
    type: "string",
    help: "Run folder to create; the checkpoint goes to OUT_DIR/<name> (required).",
  },
  name: { type: "string", value: "imported", help: "Checkpoint folder name under --out_dir." },
  tokenizer: {
    type: "string",
    choices: ["gpt2", "ascii", "vocab20k"],
    value: "gpt2",
    help: "Tokenizer the weights were trained with (recorded in OUT_DIR/tokenizer.json).",
  },
  tokenizer_file: { type: "string", help: "vocab20k vocabulary file with --tokenizer vocab20k." },
  seed: { type: "int", value: 1337, help: "Seed of the model's dropout generator." },
  backend: BACKEND_OPTION,
  help: HELP_OPTION,
};

function required(f: Record<string, unknown>, name: string, what: string): string {
  if (!f[name]) throw new Error(`Option --${name} is required: ${what}.`);
  return f[name] as string;
}

/** Run `ssmlab export` with its arguments. */
export async function runExport(argv: string[]): Promise<void> {
  const f = parse(argv, EXPORT_OPTIONS);
  if (f.help) {
    return console.log(
      helpText("ssmlab export --format pytorch --ckpt RUN_OR_CHECKPOINT --out FILE", EXPORT_OPTIONS),
    );
  }
  const ckpt = required(f, "ckpt", "a checkpoint folder or a run folder with a `latest` pointer");
  const out = required(f, "out", "the safetensors file to write");
  const r = await exportPytorch(ckpt, out, { tiedHead: f.tied_head as "once" | "both" });
  console.log(
    `wrote ${r.path}: ${r.names.length} tensors, ${(r.bytes / 2 ** 20).toFixed(1)} MiB (${r.config.kind}, ` +
      `tied head ${f.tied_head === "both" ? "under both names" : "once, as lm_head.weight"})`,
  );
}

/** Run `ssmlab import` with its arguments. */
export async function runImport(argv: string[]): Promise<void> {
  const f = parse(argv, IMPORT_OPTIONS);
  if (f.help) {
    return console.log(
      helpText("ssmlab import --file FILE.safetensors --out_dir RUN_DIR [options]", IMPORT_OPTIONS),
    );
  }
  const file = required(f, "file", "a PyTorch safetensors file");
  const root = required(f, "out_dir", "the run folder to create");
  await initBackend({ backend: f.backend as string });
  const tok = await trainingTokenizer(f.tokenizer as string, () => {
    throw new Error("Option --tokenizer vocab20k needs --tokenizer_file (a saved vocabulary) on import.");
  }, { file: f.tokenizer_file as string | undefined });
  const guard = await OutputGuard.open(root);
  try {
    const r = await importPytorchToCheckpoint(file, root, { name: f.name as string, seed: f.seed as number });
    guard.track(r.dir);
    if (tok.vocabSize > r.config.vocabSize) {
      throw new Error(
        `Tokenizer "${tok.name}" has ${tok.vocabSize} ids but "${file}" holds a vocabulary of ` +
          `${r.config.vocabSize}: pass the tokenizer the weights were trained with (--tokenizer).`,
      );
    }
    for (const p of await saveRunTokenizer(root, tok)) guard.track(p);
    console.log(
      `imported ${file} (${r.config.kind}, ${r.dtypes.join("/")}, tied head: ${r.tied}, config from ` +
        `${r.configFrom}) into ${r.dir}; tokenizer ${tok.name}`,
    );
  } catch (e) {
    await guard.rollback();
    throw e;
  }
}
