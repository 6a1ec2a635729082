/**
 * Nothing half-written: a command that creates a folder records what it wrote, and on failure removes it again
 * (the folder too when the command created it), unless a checkpoint made it worth keeping.
 *
 * @example
 * ```ts
 * import { OutputGuard } from "./cleanup.ts";
 * const guard = await OutputGuard.open("runs/x");
 * try {
 *   await Deno.writeTextFile(guard.track("runs/x/run.json"), "{}");
 * } catch (e) {
 *   await guard.rollback();
 *   throw e;
 * }
 * ```
 *
 * @module
 */
import { dirname } from "node:path";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The files a command wrote into a folder, and whether it created the folder. */
export class OutputGuard {
  readonly #files: string[] = [];
  private constructor(readonly dir: string, readonly createdRoot: string | null) {}

  /** Whether this guard created `dir`. */
  get created(): boolean {
    return this.createdRoot !== null;
  }

  /** Create `dir` (with its parents) if needed, remembering the outermost folder that was not there before. */
  static async open(dir: string): Promise<OutputGuard> {
    let root: string | null = null;
    for (let p = dir; p && p !== "." && p !== "/" && !(await exists(p)); p = dirname(p)) root = p;
    if (root) await Deno.mkdir(dir, { recursive: true });
    return new OutputGuard(dir, root);
  }

  /** Remember a file to remove on rollback; returns it. */
  track(path: string): string {
    this.#files.push(path);
    return path;
  }

  /** Remove the tracked files, or the folder (and the parents it needed) if this guard created it. */
  async rollback(): Promise<void> {
    if (this.createdRoot) {
      await Deno.remove(this.createdRoot, { recursive: true }).catch(() => {});
      return;
    }
    for (const f of this.#files) await Deno.remove(f, { recursive: true }).catch(() => {});
  }
}
