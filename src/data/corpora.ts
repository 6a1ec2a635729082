/**
 * Text corpora for language-model training: WikiText-2 raw, BabyLM strict-small (or a stand-in folder),
 * FineWeb-Edu, plus the {@linkcode loadCorpus} registry (BLiMP is in `blimp.ts`).
 *
 * Every loader reads either a local folder or files fetched through {@linkcode HubClient} (which itself can run
 * offline from a local mirror). Parquet is read with nodejs-polars; a missing, corrupt or truncated file raises a
 * {@linkcode DataError} whose message names the file and what was expected.
 *
 * Line conventions (they matter for `tokenizeLines`, which appends EOS after every line):
 * - WikiText-2: exactly the Hub's `text` column — one raw line per element, including `""` for blank lines and the
 *   trailing "\n" of non-blank lines (docs/data.md). Plain-text files are converted to the same form: CRLF → LF, each
 *   non-blank line + "\n", blank (whitespace-only) lines → "".
 * - BabyLM and FineWeb-Edu: lines/documents without a trailing "\n" (the EOS separates them); BabyLM drops blank lines
 *   unless `keepEmpty`.
 *
 * @module
 */
import type polarsModule from "nodejs-polars";
import { createRequire } from "node:module";
import { basename, extname, join } from "node:path";
import { DataError, errorMessage } from "./errors.ts";
import { HubClient } from "./hub.ts";
import { type BlimpPair, loadBlimp, type LoadBlimpOptions } from "./blimp.ts";

/** Lines of one split of a corpus, with the files they came from. */
export interface CorpusLines {
  /** Registry name, e.g. "wikitext2". */
  name: string;
  /** Split name, e.g. "train". */
  split: string;
  /** Files read, in order. */
  files: string[];
  /** The text, one element per line (or document). */
  lines: string[];
}

/** BabyLM lines, also grouped per source file. */
export interface BabyLMCorpus extends CorpusLines {
  /** Source name (file stem) → its lines, in file order. */
  bySource: Record<string, string[]>;
  /** Whitespace-separated words in `lines`. */
  words: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Files

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isDirectory;
  } catch {
    return false;
  }
}

/** Read a UTF-8 text file, or throw a {@linkcode DataError} naming it. */
export async function readText(file: string, what = "a UTF-8 text file"): Promise<string> {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new DataError(`The file "${file}" does not exist; expected ${what}.`, { file });
    }
    if (e instanceof TypeError) {
      throw new DataError(`The file "${file}" is not valid UTF-8; expected ${what}.`, { file, cause: e });
    }
    throw new DataError(`Cannot read "${file}" (${what}): ${errorMessage(e)}.`, { file, cause: e });
  }
}

/**
 * Split text into lines (CRLF/CR → LF). With `hfStyle` (WikiText convention) non-blank lines keep a trailing
 * "\n" and whitespace-only lines become "". A final newline does not create an extra empty line.
 *
 * @example
 * ```ts
 * import { splitLines } from "./corpora.ts";
 * splitLines("a\r\n\r\nb\n", { hfStyle: true }); // ["a\n", "", "b\n"]
 * splitLines("a\n\nb"); // ["a", "", "b"]
 * ```
 */
export function splitLines(text: string, opts: { hfStyle?: boolean } = {}): string[] {
  const t = text.replace(/\r\n?/g, "\n");
  const parts = t.split("\n");
  if (parts.length && parts[parts.length - 1] === "") parts.pop();
  if (!opts.hfStyle) return parts;
  return parts.map((l) => (l.trim() === "" ? "" : l + "\n"));
}

// ---------------------------------------------------------------------------------------------------------------
// Parquet

function parquetError(file: string, e: unknown, expected: string): DataError {
  const msg = errorMessage(e).split("\n")[0];
  if (/No such file|os error 2/i.test(msg)) {
    return new DataError(`The parquet file "${file}" does not exist; expected ${expected}.`, {
      file,
      cause: e,
    });
  }
  if (/unable to find column|not found/i.test(msg)) {
    return new DataError(`The parquet file "${file}" lacks a needed column: ${msg}; expected ${expected}.`, {
      file,
      cause: e,
    });
  }
  return new DataError(
    `The parquet file "${file}" is corrupt or truncated (${msg}); expected ${expected}. Delete it and fetch it again.`,
    { file, cause: e },
  );
}

/** The error for a file that holds no text: it names the file and what was expected. */
export function emptyFileError(file: string, rows: number, expected: string): DataError {
  const what = rows === 0 ? "is empty" : `has ${rows} line(s) or row(s), all blank`;
  return new DataError(`The file "${file}" ${what}; expected ${expected}.`, { file });
}

const POLARS = "nodejs-polars";
let polars: typeof polarsModule | null = null;

/**
 * nodejs-polars, loaded on first use: it is a native addon, so a bundled GPU entry that never reads parquet (e.g.
 * one that scores BLiMP from prepared JSON) must not depend on it at load time.
 */
function pl(): typeof polarsModule {
  polars ??= createRequire(import.meta.url)(POLARS) as typeof polarsModule;
  return polars;
}

/** Column names of a parquet file. */
export function parquetColumns(file: string): string[] {
  try {
    return pl().scanParquet(file).columns;
  } catch (e) {
    throw parquetError(file, e, "a parquet file");
  }
}

/**
 * Read columns of a parquet file (optionally a row slice) as plain JS arrays. Nulls stay null.
 *
 * @example
 * ```ts
 * import { readParquetColumns } from "./corpora.ts";
 * // const { text } = readParquetColumns("train.parquet", ["text"], { offset: 0, length: 100 });
 * ```
 */
export function readParquetColumns(
  file: string,
  columns: string[],
  opts: { offset?: number; length?: number } = {},
): Record<string, unknown[]> {
  const expected = `a parquet file with column(s) ${columns.map((c) => `"${c}"`).join(", ")}`;
  let df;
  try {
    let lf = pl().scanParquet(file);
    const have = lf.columns;
    const missing = columns.filter((c) => !have.includes(c));
    if (missing.length) {
      throw new DataError(
        `The parquet file "${file}" has no column ${missing.map((c) => `"${c}"`).join(", ")} (it has ${
          have.map((c) => `"${c}"`).join(", ")
        }); expected ${expected}.`,
        { file },
      );
    }
    lf = lf.select(...columns);
    if (opts.offset !== undefined || opts.length !== undefined) {
      lf = lf.slice(opts.offset ?? 0, opts.length ?? 2 ** 31 - 1);
    }
    df = lf.collectSync();
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw parquetError(file, e, expected);
  }
  const out: Record<string, unknown[]> = {};
  for (const c of columns) out[c] = df.getColumn(c).toArray() as unknown[];
  return out;
}

/**
 * Stream one string column of a parquet file in row slices of `batchRows`, never holding the whole file's column.
 * Nulls become "".
 */
export async function* iterParquetText(
  file: string,
  column = "text",
  opts: { batchRows?: number; limit?: number } = {},
): AsyncGenerator<string> {
  const batch = opts.batchRows ?? 1024;
  const limit = opts.limit ?? Infinity;
  let offset = 0;
  while (offset < limit) {
    const n = Math.min(batch, limit - offset);
    const rows = readParquetColumns(file, [column], { offset, length: n })[column];
    for (const v of rows) {
      if (v !== null && v !== undefined && typeof v !== "string") {
        throw new DataError(
          `The column "${column}" of "${file}" holds ${typeof v} values; expected strings.`,
          { file },
        );
      }
      yield (v as string | null) ?? "";
    }
    offset += rows.length;
    if (rows.length < n) return;
    await Promise.resolve();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// WikiText-2

/** Hub repo of WikiText (parquet, one folder per config). */
export const WIKITEXT_REPO = "Salesforce/wikitext";
/** WikiText configs known to the loader. */
export const WIKITEXT_CONFIGS = [
  "wikitext-2-raw-v1",
  "wikitext-103-raw-v1",
  "wikitext-2-v1",
  "wikitext-103-v1",
] as const;
/** WikiText split names. */
export const WIKITEXT_SPLITS = ["train", "validation", "test"] as const;
/** A WikiText split name. */
export type WikitextSplit = typeof WIKITEXT_SPLITS[number];

/** Options for {@linkcode loadWikitext2}. */
export interface WikitextOptions {
  /** "train" | "validation" | "test" (default "train"); "valid" is accepted for "validation". */
  split?: WikitextSplit | "valid";
  /** Hub config folder (default "wikitext-2-raw-v1"). */
  config?: string;
  /**
   * Local folder: `<config>/<split>-00000-of-00001.parquet`, `<split>-00000-of-00001.parquet`, `wiki.<s>.raw` or
   * `<s>.txt` (s = train/valid/test), searched in that order. Without it the Hub is used.
   */
  dir?: string;
  /** Hub client (default `new HubClient()`). */
  hub?: HubClient;
  /** Hub revision (default "main"). */
  revision?: string;
}

function checkOneOf<T extends string>(kind: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new DataError(
      `Unknown ${kind} "${value}": expected one of ${allowed.map((a) => `"${a}"`).join(", ")}.`,
    );
  }
  return value as T;
}

/**
 * WikiText-2 raw lines of one split, exactly as the Hub's `text` column (docs/data.md).
 *
 * @example
 * ```ts
 * import { loadWikitext2 } from "./corpora.ts";
 * const { lines } = await loadWikitext2({ split: "test", dir: "data/samples/wikitext-2" });
 * ```
 */
export async function loadWikitext2(opts: WikitextOptions = {}): Promise<CorpusLines> {
  const split = checkOneOf(
    "WikiText split",
    opts.split === "valid" ? "validation" : opts.split ?? "train",
    WIKITEXT_SPLITS,
  );
  const config = checkOneOf("WikiText config", opts.config ?? "wikitext-2-raw-v1", WIKITEXT_CONFIGS);
  const parquetName = `${split}-00000-of-00001.parquet`;
  const short = split === "validation" ? "valid" : split;
  const expected = `WikiText ${config} "${split}" as parquet with a "text" column or as plain text`;
  let file: string;
  if (opts.dir) {
    const candidates = [
      join(opts.dir, config, parquetName),
      join(opts.dir, parquetName),
      join(opts.dir, `wiki.${short}.raw`),
      join(opts.dir, `${short}.txt`),
    ];
    const found = [];
    for (const c of candidates) if (await isFile(c)) found.push(c);
    if (!found.length) {
      throw new DataError(
        `No WikiText "${split}" file in "${opts.dir}": looked for ${
          candidates.map((c) => `"${c}"`).join(", ")
        }; expected ${expected}.`,
        { file: opts.dir },
      );
    }
    file = found[0];
  } else {
    file = await (opts.hub ?? new HubClient()).file(WIKITEXT_REPO, `${config}/${parquetName}`, {
      revision: opts.revision,
      repoType: "dataset",
    });
  }
  let lines: string[];
  if (file.endsWith(".parquet")) {
    lines = (readParquetColumns(file, ["text"]).text as (string | null)[]).map((v) => v ?? "");
  } else {
    lines = splitLines(await readText(file, expected), { hfStyle: true });
  }
  if (!lines.some((l) => l.trim() !== "")) throw emptyFileError(file, lines.length, expected);
  return { name: "wikitext2", split, files: [file], lines };
}

// ---------------------------------------------------------------------------------------------------------------
// BabyLM

/** Hub repo of the BabyLM 2026 strict-small corpus (name not verified offline; override with `repo`). */
export const BABYLM_REPO = "BabyLM-community/BabyLM-2026-Strict-Small";
/** BabyLM split names (file extensions `.train`, `.dev`, `.test`). */
export const BABYLM_SPLITS = ["train", "dev", "test"] as const;

/** Options for {@linkcode loadBabyLM}. */
export interface BabyLMOptions {
  /** "train" (default), "dev" or "test": files `*.<split>` (for "train", `*.txt` too when no `.train` exists). */
  split?: typeof BABYLM_SPLITS[number];
  /** Local folder with one file per source (e.g. `data/samples/babylm`). */
  dir?: string;
  /** Hub client, used when `dir` is not given. */
  hub?: HubClient;
  /** Hub repo (default {@linkcode BABYLM_REPO}). */
  repo?: string;
  /** Hub revision (branch, tag or commit; default the main branch). */
  revision?: string;
  /** Only these sources (file stems). */
  sources?: string[];
  /**
   * Cap on whitespace-separated words. Each source keeps its share (its words / all words × maxWords), taken from
   * the start of the file, line by line, so the mix of sources is preserved.
   */
  maxWords?: number;
  /** Keep blank lines (default false). */
  keepEmpty?: boolean;
}

function countWords(line: string): number {
  let n = 0;
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    const space = c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

/**
 * BabyLM strict-small text per source. Works on the official `.train` files and on any folder of `.txt` files.
 *
 * @example
 * ```ts
 * import { loadBabyLM } from "./corpora.ts";
 * const c = await loadBabyLM({ dir: "data/samples/babylm", maxWords: 1_000_000 });
 * Object.keys(c.bySource); // ["childes_aochildes", "gutenberg_children", ...]
 * ```
 */
export async function loadBabyLM(opts: BabyLMOptions = {}): Promise<BabyLMCorpus> {
  const split = checkOneOf("BabyLM split", opts.split ?? "train", BABYLM_SPLITS);
  let files: string[] = [];
  if (opts.dir) {
    if (!(await isDir(opts.dir))) {
      throw new DataError(
        `The BabyLM folder "${opts.dir}" does not exist; expected a folder of *.${split} or *.txt files.`,
        {
          file: opts.dir,
        },
      );
    }
    const names: string[] = [];
    for await (const e of Deno.readDir(opts.dir)) if (e.isFile || e.isSymlink) names.push(e.name);
    names.sort();
    files = names.filter((n) => n.endsWith(`.${split}`));
    if (!files.length && split === "train") files = names.filter((n) => n.endsWith(".txt"));
    files = files.map((n) => join(opts.dir!, n));
    if (!files.length) {
      throw new DataError(
        `The BabyLM folder "${opts.dir}" has no *.${split} files${split === "train" ? " (nor *.txt)" : ""}.`,
        {
          file: opts.dir,
        },
      );
    }
  } else {
    const hub = opts.hub ?? new HubClient();
    const repo = opts.repo ?? BABYLM_REPO;
    const entries = (await hub.list(repo, { revision: opts.revision })).filter(
      (e) => e.type === "file" && e.path.endsWith(`.${split}`),
    );
    if (!entries.length) throw new DataError(`The Hub dataset "${repo}" has no *.${split} files.`);
    for (const e of entries) files.push(await hub.file(repo, e.path, { revision: opts.revision }));
  }
  const stem = (f: string) => basename(f, extname(f));
  if (opts.sources) {
    const known = files.map(stem);
    for (const s of opts.sources) {
      if (!known.includes(s)) {
        throw new DataError(
          `Unknown BabyLM source "${s}": expected one of ${known.map((k) => `"${k}"`).join(", ")}.`,
        );
      }
    }
    files = files.filter((f) => opts.sources!.includes(stem(f)));
  }
  const bySource: Record<string, string[]> = {};
  const wordsBySource: Record<string, number> = {};
  for (const f of files) {
    const what = "a BabyLM text file (one line per utterance or paragraph)";
    const lines = splitLines(await readText(f, what));
    if (!lines.some((l) => l.trim() !== "")) throw emptyFileError(f, lines.length, what);
    bySource[stem(f)] = opts.keepEmpty ? lines : lines.filter((l) => l.trim() !== "");
    wordsBySource[stem(f)] = bySource[stem(f)].reduce((a, l) => a + countWords(l), 0);
  }
  const total = Object.values(wordsBySource).reduce((a, b) => a + b, 0);
  if (opts.maxWords !== undefined) {
    if (!(opts.maxWords >= 0)) throw new DataError(`BabyLM maxWords must be ≥ 0, got "${opts.maxWords}".`);
    if (opts.maxWords < total) {
      for (const s of Object.keys(bySource)) {
        const quota = Math.floor((wordsBySource[s] / total) * opts.maxWords);
        const kept: string[] = [];
        let w = 0;
        for (const l of bySource[s]) {
          const n = countWords(l);
          if (w + n > quota) break;
          kept.push(l);
          w += n;
        }
        bySource[s] = kept;
        wordsBySource[s] = w;
      }
    }
  }
  const lines = Object.values(bySource).flat();
  const words = Object.values(wordsBySource).reduce((a, b) => a + b, 0);
  return { name: "babylm", split, files, lines, bySource, words };
}

// ---------------------------------------------------------------------------------------------------------------
// FineWeb-Edu

/** Hub repo of FineWeb-Edu. */
export const FINEWEB_EDU_REPO = "HuggingFaceFW/fineweb-edu";

/** Options for {@linkcode streamFineWebEdu}. */
export interface FineWebEduOptions {
  /** Explicit shard files, read in this order. */
  files?: string[];
  /** Local folder of parquet shards (read in sorted path order, recursively under `prefix` if that exists). */
  dir?: string;
  /** Hub client (used when neither `files` nor `dir`). */
  hub?: HubClient;
  /** Default {@linkcode FINEWEB_EDU_REPO}. */
  repo?: string;
  /** Hub revision (branch, tag or commit; default the main branch). */
  revision?: string;
  /** Hub folder of shards (default "sample/10BT"). */
  prefix?: string;
  /** Stop after this many documents (default: all). */
  firstN?: number;
  /** Text column (default "text"). */
  column?: string;
  /** Rows read per slice (default 1024). */
  batchRows?: number;
}

async function listParquet(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string) => {
    const ents: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(d)) ents.push(e);
    for (const e of ents.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory) await visit(p);
      else if (e.name.endsWith(".parquet")) out.push(p);
    }
  };
  await visit(dir);
  return out;
}

/**
 * FineWeb-Edu documents in shard order, one shard at a time and `batchRows` rows at a time (never the whole corpus
 * in memory). Hub shards are downloaded lazily, just before they are read.
 *
 * @example
 * ```ts
 * import { streamFineWebEdu } from "./corpora.ts";
 * for await (const doc of streamFineWebEdu({ dir: "data/fineweb", firstN: 10 })) console.log(doc.length);
 * ```
 */
export async function* streamFineWebEdu(opts: FineWebEduOptions = {}): AsyncGenerator<string> {
  const firstN = opts.firstN ?? Infinity;
  const column = opts.column ?? "text";
  const prefix = (opts.prefix ?? "sample/10BT").replace(/\/+$/, "");
  let shards: (() => Promise<string>)[];
  if (opts.files) {
    shards = opts.files.map((f) => () => Promise.resolve(f));
  } else if (opts.dir) {
    if (!(await isDir(opts.dir))) {
      throw new DataError(`The FineWeb-Edu folder "${opts.dir}" does not exist; expected parquet shards.`, {
        file: opts.dir,
      });
    }
    const sub = join(opts.dir, prefix);
    const files = await listParquet((await isDir(sub)) ? sub : opts.dir);
    if (!files.length) {
      throw new DataError(`The FineWeb-Edu folder "${opts.dir}" has no *.parquet shards.`, {
        file: opts.dir,
      });
    }
    shards = files.map((f) => () => Promise.resolve(f));
  } else {
    const hub = opts.hub ?? new HubClient();
    const repo = opts.repo ?? FINEWEB_EDU_REPO;
    const entries = (await hub.list(repo, { path: prefix, revision: opts.revision })).filter(
      (e) => e.type === "file" && e.path.endsWith(".parquet"),
    );
    if (!entries.length) {
      throw new DataError(`The Hub dataset "${repo}" has no parquet shards under "${prefix}".`);
    }
    shards = entries.map((e) => () => hub.file(repo, e.path, { revision: opts.revision }));
  }
  let n = 0;
  for (const getShard of shards) {
    if (n >= firstN) return;
    const file = await getShard();
    for await (const doc of iterParquetText(file, column, { batchRows: opts.batchRows, limit: firstN - n })) {
      yield doc;
      n++;
    }
  }
}

/** The first `firstN` FineWeb-Edu documents as a {@linkcode CorpusLines} (each document is one element). */
export async function loadFineWebEdu(opts: FineWebEduOptions & { firstN: number }): Promise<CorpusLines> {
  if (!(opts.firstN >= 0) || !Number.isFinite(opts.firstN)) {
    throw new DataError(
      `FineWeb-Edu firstN must be a finite number ≥ 0 (the documents are kept in memory), got "${opts.firstN}".`,
    );
  }
  const lines: string[] = [];
  for await (const d of streamFineWebEdu(opts)) lines.push(d);
  return { name: "fineweb-edu", split: "train", files: opts.files ?? (opts.dir ? [opts.dir] : []), lines };
}

// ---------------------------------------------------------------------------------------------------------------
// Registry

/** Names {@linkcode loadCorpus} knows. */
export type CorpusName = "wikitext2" | "babylm" | "fineweb-edu" | "blimp";

/** What each dataset is and where it lives. */
export const DATASETS: Record<CorpusName, { repo: string; splits: readonly string[]; description: string }> =
  {
    wikitext2: {
      repo: WIKITEXT_REPO,
      splits: WIKITEXT_SPLITS,
      description: "WikiText-2 raw v1 (parquet folder wikitext-2-raw-v1/), one raw line per element",
    },
    babylm: {
      repo: BABYLM_REPO,
      splits: BABYLM_SPLITS,
      description: "BabyLM strict-small: one plain-text file per source (.train/.dev/.test)",
    },
    "fineweb-edu": {
      repo: FINEWEB_EDU_REPO,
      splits: ["train"],
      description: "FineWeb-Edu parquet shards (column text), streamed in order",
    },
    blimp: {
      repo: "nyu-mll/blimp",
      splits: ["train"],
      description:
        "BLiMP minimal pairs: 67 paradigms (parquet folders on the Hub, or the original jsonl files)",
    },
  };

/** Options for {@linkcode loadCorpus}: the options of the chosen loader. */
export type LoadCorpusOptions =
  | WikitextOptions
  | BabyLMOptions
  | (FineWebEduOptions & { firstN?: number })
  | LoadBlimpOptions;

/**
 * Load a dataset by name.
 *
 * @example
 * ```ts
 * import { loadCorpus } from "./corpora.ts";
 * const wt = await loadCorpus("wikitext2", { split: "validation", dir: "data/samples/wikitext-2" });
 * const pairs = await loadCorpus("blimp", { dir: "data/samples/blimp" });
 * ```
 */
export async function loadCorpus(name: "blimp", opts?: LoadBlimpOptions): Promise<BlimpPair[]>;
/** BabyLM text per source (see {@linkcode loadBabyLM}). */
export async function loadCorpus(name: "babylm", opts?: BabyLMOptions): Promise<BabyLMCorpus>;
/** WikiText-2 lines or the first FineWeb-Edu documents (see {@linkcode loadWikitext2}). */
export async function loadCorpus(
  name: "wikitext2" | "fineweb-edu",
  opts?: WikitextOptions | (FineWebEduOptions & { firstN?: number }),
): Promise<CorpusLines>;
/** Any registered dataset by name (see {@linkcode DATASETS}). */
export async function loadCorpus(name: string, opts?: LoadCorpusOptions): Promise<CorpusLines | BlimpPair[]>;
export async function loadCorpus(
  name: string,
  opts: LoadCorpusOptions = {},
): Promise<CorpusLines | BlimpPair[]> {
  switch (name) {
    case "wikitext2":
      return await loadWikitext2(opts as WikitextOptions);
    case "babylm":
      return await loadBabyLM(opts as BabyLMOptions);
    case "fineweb-edu": {
      const o = opts as FineWebEduOptions & { split?: string };
      if (o.split !== undefined && o.split !== "train") checkOneOf("FineWeb-Edu split", o.split, ["train"]);
      if (o.firstN === undefined) {
        throw new DataError(
          `Dataset "fineweb-edu" needs { firstN }: it is too large to load whole (use streamFineWebEdu).`,
        );
      }
      return await loadFineWebEdu({ ...o, firstN: o.firstN });
    }
    case "blimp":
      return await loadBlimp(opts as LoadBlimpOptions);
    default:
      throw new DataError(
        `Unknown dataset "${name}": expected one of ${
          Object.keys(DATASETS).map((k) => `"${k}"`).join(", ")
        }.`,
      );
  }
}
