/**
 * The character curriculum's corpus (docs/data.md, docs/models/char_curriculum.md): BabyLM lines cleaned to the
 * 128 base ASCII codes by {@linkcode AsciiTokenizer} (accents folded, long symbol runs removed — configurable),
 * packed into one id stream with EOS (0) after every line, split into train and held-out text per source, and a
 * report of the characters kept and dropped per source.
 *
 * @module
 */
import { AsciiTokenizer, type AsciiTokenizerOptions } from "../tokenizers/ascii.ts";
import type { BabyLMCorpus } from "./corpora.ts";
import { DataError } from "./errors.ts";

/** Characters of one source before and after cleaning (code points; one row of the report). */
export interface CharCleaningRow {
  /** Source name (file stem), or "total". */
  source: string;
  /** Lines read (non-blank). */
  lines: number;
  /** Code points read. */
  rawChars: number;
  /** ASCII characters read (kept unless they were control characters or part of a long symbol run). */
  ascii: number;
  /** Non-ASCII characters folded to ASCII (é → e, “ → ", — → -). */
  folded: number;
  /** Non-ASCII characters dropped (no ASCII form: emoji, CJK, …). */
  droppedNonAscii: number;
  /** Control characters dropped (other than tab; newlines end lines). */
  droppedControl: number;
  /** Characters removed as parts of long runs of one symbol. */
  droppedSymbolRuns: number;
  /** Lines that were empty after cleaning (dropped). */
  droppedLines: number;
  /** Characters written (without the EOS after each line). */
  keptChars: number;
  /** keptChars / rawChars. */
  keptFraction: number;
}

/** Options of {@linkcode cleanCharCorpus}. */
export interface CharCorpusOptions {
  /** Cleaning options of the ASCII tokenizer (fold accents, `maxSymbolRun`, `symbolRunMode`, …). */
  cleaning?: AsciiTokenizerOptions;
  /** Fraction of each source (its last lines) kept as held-out text (default 0.01). */
  heldOutFraction?: number;
}

/** The cleaned corpus: train and held-out id streams (0 = EOS after each line) and the report. */
export interface CharCorpus {
  /** Training ids (ASCII codes, 0 after each line), sources in order. */
  train: Uint8Array;
  /** Held-out ids: the last `heldOutFraction` of each source's lines. */
  valid: Uint8Array;
  /** One row per source, then a "total" row. */
  report: CharCleaningRow[];
  /** The cleaning options in effect (defaults filled in). */
  cleaning: AsciiTokenizer["options"];
}

function emptyRow(source: string): CharCleaningRow {
  return {
    source,
    lines: 0,
    rawChars: 0,
    ascii: 0,
    folded: 0,
    droppedNonAscii: 0,
    droppedControl: 0,
    droppedSymbolRuns: 0,
    droppedLines: 0,
    keptChars: 0,
    keptFraction: 0,
  };
}

/** Counts of one line into `row`; returns the cleaned line. */
function countLine(
  line: string,
  tok: AsciiTokenizer,
  noRuns: AsciiTokenizer,
  foldable: Map<string, boolean>,
  row: CharCleaningRow,
): string {
  for (const ch of line) {
    row.rawChars++;
    const c = ch.codePointAt(0)!;
    if (c < 128) {
      if ((c < 32 && c !== 9 && c !== 10) || c === 127) row.droppedControl++;
      else row.ascii++;
      continue;
    }
    let f = foldable.get(ch);
    if (f === undefined) foldable.set(ch, f = noRuns.clean(ch) !== "");
    if (f) row.folded++;
    else row.droppedNonAscii++;
  }
  const out = tok.clean(line);
  if (tok.options.maxSymbolRun !== null) row.droppedSymbolRuns += noRuns.clean(line).length - out.length;
  return out;
}

/**
 * Clean a BabyLM corpus to ASCII per source, pack it with EOS after every line, hold out the end of each source,
 * and report what was kept and dropped.
 *
 * @example
 * ```ts
 * import { loadBabyLM } from "./corpora.ts";
 * import { cleanCharCorpus } from "./char_corpus.ts";
 * const c = cleanCharCorpus(await loadBabyLM({ dir: "data/samples/babylm" }), { heldOutFraction: 0.05 });
 * console.table(c.report); // source, rawChars, folded, droppedSymbolRuns, keptChars, …
 * ```
 * @throws DataError when the fraction is outside [0, 1) or nothing is left after cleaning.
 */
export function cleanCharCorpus(
  corpus: Pick<BabyLMCorpus, "bySource">,
  opts: CharCorpusOptions = {},
): CharCorpus {
  const frac = opts.heldOutFraction ?? 0.01;
  if (!(frac >= 0 && frac < 1)) {
    throw new DataError(`Option heldOutFraction must be a number in [0, 1), got "${opts.heldOutFraction}".`);
  }
  const tok = new AsciiTokenizer(opts.cleaning);
  const noRuns = new AsciiTokenizer({ ...opts.cleaning, maxSymbolRun: null });
  const foldable = new Map<string, boolean>();
  const report: CharCleaningRow[] = [];
  const trainParts: string[][] = [], validParts: string[][] = [];
  for (const [source, lines] of Object.entries(corpus.bySource)) {
    const row = emptyRow(source);
    const kept: string[] = [];
    for (const line of lines) {
      if (line.trim() === "") continue;
      row.lines++;
      const c = countLine(line, tok, noRuns, foldable, row);
      if (c.trim() === "") row.droppedLines++;
      else kept.push(c);
    }
    row.keptChars = kept.reduce((a, l) => a + l.length, 0);
    row.keptFraction = row.rawChars ? row.keptChars / row.rawChars : 0;
    report.push(row);
    const nValid = Math.floor(kept.length * frac);
    trainParts.push(kept.slice(0, kept.length - nValid));
    validParts.push(kept.slice(kept.length - nValid));
  }
  const total = emptyRow("total");
  for (const r of report) {
    for (const k of Object.keys(total) as (keyof CharCleaningRow)[]) {
      if (k !== "source" && k !== "keptFraction") (total[k] as number) += r[k] as number;
    }
  }
  total.keptFraction = total.rawChars ? total.keptChars / total.rawChars : 0;
  report.push(total);
  if (!trainParts.some((p) => p.length)) {
    throw new DataError("The corpus has no text left after ASCII cleaning.");
  }
  return {
    train: packLines(trainParts.flat()),
    valid: packLines(validParts.flat()),
    report,
    cleaning: tok.options,
  };
}

/**
 * Lines of ASCII text → one id stream with 0 (EOS) after every line.
 * @throws DataError on a non-ASCII character (clean the lines first).
 */
export function packLines(lines: readonly string[]): Uint8Array {
  const n = lines.reduce((a, l) => a + l.length + 1, 0);
  const out = new Uint8Array(n);
  let p = 0;
  for (const [i, l] of lines.entries()) {
    for (let j = 0; j < l.length; j++) {
      const c = l.charCodeAt(j);
      if (c >= 128) {
        throw new DataError(
          `Line ${i + 1} has the non-ASCII character "${l[j]}" at column ${j + 1}; clean it first.`,
        );
      }
      out[p++] = c;
    }
    out[p++] = 0;
  }
  return out;
}

/** The report as a fixed-width text table (one row per source and a total). */
export function formatCleaningReport(report: readonly CharCleaningRow[]): string {
  const cols: (keyof CharCleaningRow)[] = [
    "source",
    "rawChars",
    "folded",
    "droppedNonAscii",
    "droppedControl",
    "droppedSymbolRuns",
    "droppedLines",
    "keptChars",
    "keptFraction",
  ];
  const cell = (r: CharCleaningRow, k: keyof CharCleaningRow) =>
    k === "keptFraction" ? `${(100 * r.keptFraction).toFixed(2)}%` : String(r[k]);
  const widths = cols.map((k) => Math.max(k.length, ...report.map((r) => cell(r, k).length)));
  const line = (vals: string[]) =>
    vals.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join("  ");
  return [line(cols), ...report.map((r) => line(cols.map((k) => cell(r, k))))].join("\n");
}

/** Gzip bytes (the compressed id files carried to the GPU machine). */
export async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Gunzip bytes written by {@linkcode gzipBytes}. */
export async function gunzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/**
 * At most `maxChars` ids of a packed stream that keep its mix of sources: the stream is cut into blocks of
 * `block` ids and evenly spaced blocks are kept (a plain prefix would keep only the first source).
 *
 * @example
 * ```ts
 * import { subsampleStream } from "./char_corpus.ts";
 * subsampleStream(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 4, 2); // [1, 2, 5, 6]
 * ```
 * @throws DataError when maxChars or block is not a positive integer.
 */
export function subsampleStream(ids: Uint8Array, maxChars: number, block = 65_536): Uint8Array {
  for (const [name, v] of [["maxChars", maxChars], ["block", block]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new DataError(`Option ${name} must be a positive integer, got "${v}".`);
    }
  }
  if (ids.length <= maxChars) return ids;
  const nBlocks = Math.ceil(ids.length / block);
  const keep = Math.max(1, Math.floor(maxChars / block));
  const out = new Uint8Array(Math.min(maxChars, keep * block));
  let p = 0;
  for (let k = 0; k < keep && p < out.length; k++) {
    const start = Math.floor((k * nBlocks) / keep) * block;
    const part = ids.subarray(start, Math.min(start + block, ids.length, start + out.length - p));
    out.set(part, p);
    p += part.length;
  }
  return out.subarray(0, p);
}
