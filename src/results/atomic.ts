/**
 * Atomic file writes: write a temporary file beside the target, then rename it over the target, so a reader never
 * sees a half-written file. The one implementation used by run folders, charts, frames and id files.
 *
 * @module
 */
import { dirname, extname } from "node:path";

/** Options for {@linkcode writeViaTemp}. */
export interface WriteViaTempOptions {
  /**
   * Keep `path`'s extension at the end of the temporary name (`x.tmp-<pid>-<random>.csv`), for writers that choose
   * the format by extension. Default false (`x.csv.tmp-<pid>-<random>`).
   */
  keepExtension?: boolean;
}

/**
 * Call `write(tmp)` with a temporary path in the same folder as `path`, then rename `tmp` over `path`; the
 * temporary file is removed if writing or renaming fails. The folder must exist.
 *
 * @example
 * ```ts
 * import { writeViaTemp } from "./atomic.ts";
 * await writeViaTemp("/tmp/x.txt", (tmp) => Deno.writeTextFile(tmp, "hi"));
 * ```
 */
export async function writeViaTemp(
  path: string,
  write: (tmp: string) => void | Promise<void>,
  opts: WriteViaTempOptions = {},
): Promise<void> {
  const tag = `.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const ext = opts.keepExtension ? extname(path) : "";
  const tmp = `${path.slice(0, path.length - ext.length)}${tag}${ext}`;
  try {
    await write(tmp);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Write a file atomically: create its folder if needed, write `<path>.tmp-<pid>-<random>` in the same folder, then
 * rename it over `path`. The temporary file is removed if writing fails.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * await writeFileAtomic("results/x/state.bin", new Uint8Array([1, 2, 3]));
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  await Deno.mkdir(dirname(path) || ".", { recursive: true });
  await writeViaTemp(path, (tmp) => Deno.writeFile(tmp, data));
}

/**
 * Write a text file atomically (see {@linkcode writeFileAtomic}).
 *
 * @example
 * ```ts
 * import { writeTextAtomic } from "./atomic.ts";
 * await writeTextAtomic("results/x/notes.txt", "hello\n");
 * ```
 */
export function writeTextAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, new TextEncoder().encode(text));
}
