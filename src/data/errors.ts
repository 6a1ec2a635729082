/**
 * Error types for the data layer: every message is a sentence naming the file (or repo/path/revision) and
 * what was expected.
 *
 * @module
 */

/**
 * A data file is missing, unreadable, truncated or malformed.
 *
 * @example
 * ```ts
 * import { DataError } from "./errors.ts";
 * try { throw new DataError(`Missing field "UID".`, { file: "a.jsonl", line: 3 }); }
 * catch (e) { if (e instanceof DataError) console.log(e.file, e.line); }
 * ```
 */
export class DataError extends Error {
  /** The offending file, when there is one. */
  readonly file?: string;
  /** 1-based line number inside `file`, when known. */
  readonly line?: number;
  /** A data error with the message (a sentence) and, when known, the file, line and cause. */
  constructor(message: string, info: { file?: string; line?: number; cause?: unknown } = {}) {
    super(message, info.cause !== undefined ? { cause: info.cause } : undefined);
    this.name = "DataError";
    this.file = info.file;
    this.line = info.line;
  }
}

/**
 * A Hub download or lookup failed (network, HTTP status, size mismatch, offline cache miss).
 *
 * @example
 * ```ts
 * import { HubError } from "./errors.ts";
 * const e = new HubError("Could not download.", { repo: "a/b", path: "x.parquet", revision: "main" });
 * e.repo; // "a/b"
 * ```
 */
export class HubError extends Error {
  /** The Hub repository, when known. */
  readonly repo?: string;
  /** The file path inside the repository, when known. */
  readonly path?: string;
  /** The revision asked for, when known. */
  readonly revision?: string;
  /** A Hub error with the message (a sentence) and, when known, the repository, path, revision and cause. */
  constructor(
    message: string,
    info: { repo?: string; path?: string; revision?: string; cause?: unknown } = {},
  ) {
    super(message, info.cause !== undefined ? { cause: info.cause } : undefined);
    this.name = "HubError";
    this.repo = info.repo;
    this.path = info.path;
    this.revision = info.revision;
  }
}

/** The message of an unknown thrown value, without a trailing period. */
export function errorMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/[.\s]+$/, "");
}
