/**
 * The Deno Jupyter kernel's API, found safely (no dependencies, so training code and bundled GPU entries can
 * import it without pulling in Polars or the chart renderer).
 *
 * @module
 */

/** The part of the kernel's `Deno.jupyter` that ssmlab uses. */
export interface JupyterApi {
  /** Show a value or (with `raw`) a MIME bundle as the cell's output. */
  display(obj: unknown, options?: { raw?: boolean; update?: boolean; display_id?: string }): Promise<void>;
  /** Send a Jupyter message (`display_data`, `update_display_data`, …) with its content. */
  broadcast(msgType: string, content: Record<string, unknown>): Promise<void>;
}

/** The kernel's `Deno.jupyter`, or null: outside `deno jupyter`, even reading `Deno.jupyter` throws. */
export function jupyter(): JupyterApi | null {
  try {
    const j = (globalThis as { Deno?: { jupyter?: JupyterApi } }).Deno?.jupyter;
    return j && typeof j.broadcast === "function" ? j : null;
  } catch {
    return null;
  }
}

/**
 * True inside a Deno Jupyter kernel.
 *
 * @example
 * ```ts
 * import { inJupyter } from "./jupyter.ts";
 * if (!inJupyter()) console.log("running as a script");
 * ```
 */
export function inJupyter(): boolean {
  return jupyter() !== null;
}
