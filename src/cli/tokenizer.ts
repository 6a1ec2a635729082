/**
 * Tokenizers of command-line runs: chosen by name for training (a vocab20k vocabulary is loaded from a file or
 * trained on the training lines), saved beside the checkpoints as `tokenizer.json` (+ `vocab20k.json`), and read
 * back by every command that takes `--ckpt`, so a checkpoint is always evaluated with the tokenizer it was
 * trained with.
 *
 * Run folder layout: `<run>/tokenizer.json` = `{ "name": "ascii" | "gpt2" | "vocab20k", "vocab_size": N,
 * "file"?: "vocab20k.json" }`, the vocabulary (vocab20k only) in `<run>/vocab20k.json`, checkpoints in
 * `<run>/step-<N>/`. Runs written before `tokenizer.json` existed are read through `run.json`'s `flags.tokenizer`.
 *
 * @example
 * ```ts
 * import { checkpointTokenizer } from "./tokenizer.ts";
 * // const tok = await checkpointTokenizer("runs/mhc_slm/mhc", 50257); // reads runs/mhc_slm/mhc/tokenizer.json
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import {
  getTokenizer,
  type GetTokenizerOptions,
  type Tokenizer,
  TOKENIZER_NAMES,
} from "../tokenizers/types.ts";
import { Vocab20kTokenizer } from "../tokenizers/vocab20k.ts";
import { writeTextAtomic } from "../results/atomic.ts";

/** Name of the tokenizer record in a run folder. */
export const TOKENIZER_FILE = "tokenizer.json";
/** Name of a trained vocab20k vocabulary in a run folder. */
export const VOCAB20K_FILE = "vocab20k.json";

/** What `tokenizer.json` holds. */
export interface TokenizerRecord {
  /** Tokenizer name. */
  name: string;
  /** Its number of ids. */
  vocab_size: number;
  /** vocab20k: the vocabulary file, relative to the run folder. */
  file?: string;
  /** Options of `getTokenizer` (e.g. the ASCII cleaning options), when not the defaults. */
  options?: GetTokenizerOptions;
}

/** Options of {@linkcode trainingTokenizer}. */
export interface TrainingTokenizerOptions {
  /** vocab20k: a saved vocabulary (`Vocab20kTokenizer.save`); without it one is trained on `lines`. */
  file?: string;
  /** vocab20k training: the most entries (default 20000). */
  vocabSize?: number;
}

function checkName(name: string, flag = "--tokenizer"): void {
  if (!(TOKENIZER_NAMES as readonly string[]).includes(name)) {
    throw new Error(
      `Option ${flag} must be one of ${TOKENIZER_NAMES.map((n) => `"${n}"`).join(", ")}, got "${name}".`,
    );
  }
}

/**
 * The tokenizer of a training run: by name; vocab20k from `opts.file`, else trained on `lines()` (called only then).
 * @throws Error naming the option for an unknown name or an unreadable vocabulary file.
 */
export async function trainingTokenizer(
  name: string,
  lines: () => Promise<Iterable<string>>,
  opts: TrainingTokenizerOptions = {},
): Promise<Tokenizer> {
  checkName(name);
  if (name !== "vocab20k") {
    if (opts.file) {
      throw new Error(`Option --tokenizer_file is only read with --tokenizer vocab20k, not "${name}".`);
    }
    return getTokenizer(name);
  }
  if (opts.file) return await Vocab20kTokenizer.load(opts.file);
  return Vocab20kTokenizer.train(await lines(), { vocabSize: opts.vocabSize ?? 20000 });
}

/**
 * Write `tokenizer.json` (and `vocab20k.json` for a vocab20k tokenizer) into a run folder, atomically.
 * @returns the files written
 */
export async function saveRunTokenizer(
  runDir: string,
  tok: Tokenizer,
  options?: GetTokenizerOptions,
): Promise<string[]> {
  const record: TokenizerRecord = {
    name: tok.name,
    vocab_size: tok.vocabSize,
    ...(options ? { options } : {}),
  };
  const written: string[] = [];
  if (tok instanceof Vocab20kTokenizer) {
    record.file = VOCAB20K_FILE;
    const p = join(runDir, VOCAB20K_FILE);
    await writeTextAtomic(p, JSON.stringify(tok.toJSON()));
    written.push(p);
  }
  const p = join(runDir, TOKENIZER_FILE);
  await writeTextAtomic(p, JSON.stringify(record, null, 2) + "\n");
  return [...written, p];
}

async function readJsonIfPresent(path: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`The file "${path}" is not valid JSON: ${(e as Error).message}`);
  }
}

/** A tokenizer from a `tokenizer.json` record found in `dir`. */
function fromRecord(record: TokenizerRecord, dir: string): Tokenizer {
  const where = join(dir, TOKENIZER_FILE);
  if (typeof record?.name !== "string") {
    throw new Error(
      `The file "${where}" has no tokenizer "name": expected { "name": "ascii" | "gpt2" | "vocab20k" }.`,
    );
  }
  checkName(record.name, `"name" in "${where}"`);
  if (record.name !== "vocab20k") return getTokenizer(record.name, record.options);
  const file = join(dir, record.file ?? VOCAB20K_FILE);
  try {
    Deno.statSync(file);
  } catch {
    throw new Error(`The vocab20k vocabulary "${file}" named by "${where}" is missing.`);
  }
  return Vocab20kTokenizer.loadSync(file);
}

/**
 * The tokenizer a checkpoint was trained with: `tokenizer.json` in the checkpoint folder or its run folder,
 * else the `--tokenizer` flag recorded in the run folder's `run.json`. `override` (a name, and for vocab20k a
 * vocabulary file) replaces it. The tokenizer's ids must fit the model's vocabulary.
 *
 * @param ckptDir the resolved checkpoint folder (`<run>/step-<N>` or an imported one)
 * @param vocabSize the model's vocabulary size (config.json)
 * @throws Error naming the files looked for when none records the tokenizer.
 */
export async function checkpointTokenizer(
  ckptDir: string,
  vocabSize: number,
  override?: { name?: string; file?: string },
): Promise<Tokenizer> {
  const tok = override?.name
    ? await trainingTokenizer(override.name, () => {
      throw new Error(`Option --tokenizer vocab20k with --ckpt needs --tokenizer_file (a saved vocabulary).`);
    }, { file: override.file })
    : await recordedTokenizer(ckptDir);
  if (tok.vocabSize > vocabSize) {
    throw new Error(
      `The tokenizer "${tok.name}" has ${tok.vocabSize} ids but the checkpoint "${ckptDir}" was built for ` +
        `${vocabSize} (config.json "vocabSize"): pass the tokenizer it was trained with (--tokenizer).`,
    );
  }
  return tok;
}

async function recordedTokenizer(ckptDir: string): Promise<Tokenizer> {
  const runDir = dirname(ckptDir);
  for (const dir of [ckptDir, runDir]) {
    const rec = await readJsonIfPresent(join(dir, TOKENIZER_FILE));
    if (rec !== undefined) return fromRecord(rec as TokenizerRecord, dir);
  }
  const run = await readJsonIfPresent(join(runDir, "run.json")) as
    | { flags?: { tokenizer?: unknown } }
    | undefined;
  const name = run?.flags?.tokenizer;
  if (typeof name === "string" && name !== "vocab20k") return getTokenizer(name);
  throw new Error(
    `The checkpoint "${ckptDir}" has no tokenizer record: "${join(ckptDir, TOKENIZER_FILE)}" and "${
      join(runDir, TOKENIZER_FILE)
    }" are missing${run ? "" : `, and so is "${join(runDir, "run.json")}"`}. Pass --tokenizer NAME ` +
      `(and --tokenizer_file for vocab20k) to say which tokenizer it was trained with.`,
  );
}
