/**
 * Text that grows in place: in a Jupyter notebook one display updated through a `display_id` (generation streamed
 * token by token), elsewhere the new pieces written straight to stdout.
 *
 * @module
 */
import { jupyter } from "../results/jupyter.ts";

let nextId = 0;

/**
 * A growing line of text.
 *
 * @example
 * ```ts
 * import { LiveText } from "./live_text.ts";
 * const live = new LiveText("Once upon a time");
 * await live.append(" there");
 * await live.append(" was");
 * await live.finish();
 * ```
 */
export class LiveText {
  /** The text so far. */
  text: string;
  /** The display id used for in-place updates. */
  readonly displayId = `ssmlab-live-text-${Date.now()}-${nextId++}`;
  #shown = false;
  readonly #enc = new TextEncoder();

  /**
   * A text display that grows as tokens arrive.
   * @param start the text shown first (e.g. the prompt)
   */
  constructor(start = "") {
    this.text = start;
    if (!jupyter() && start) Deno.stdout.writeSync(this.#enc.encode(start));
  }

  /** Add a piece and show it. */
  async append(piece: string): Promise<void> {
    this.text += piece;
    const j = jupyter();
    if (!j) {
      Deno.stdout.writeSync(this.#enc.encode(piece));
      return;
    }
    const content = {
      data: { "text/plain": this.text },
      metadata: {},
      transient: { display_id: this.displayId },
    };
    await j.broadcast(this.#shown ? "update_display_data" : "display_data", content);
    this.#shown = true;
  }

  /** End the line (outside Jupyter: a newline). */
  async finish(): Promise<void> {
    if (!jupyter()) Deno.stdout.writeSync(this.#enc.encode("\n"));
    else if (!this.#shown) await this.append("");
  }
}
