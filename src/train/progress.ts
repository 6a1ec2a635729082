/**
 * Training progress display: a one-line bar on stderr updated in place when stderr is a terminal, log lines
 * every N steps otherwise, a live-updating cell output in Jupyter (`Deno.jupyter`), or nothing.
 *
 * @module
 */
import { inJupyter, jupyter, type JupyterApi } from "../results/jupyter.ts";

/** What one progress update shows. */
export interface ProgressInfo {
  /** 1-based step just completed. */
  step: number;
  /** Total steps of the run, when known. */
  total: number | null;
  /** Training loss of the step. */
  loss: number;
  /** Learning rate of the step. */
  lr: number;
  /** Training tokens per second. */
  tokensPerSec: number;
  /** Data epoch. */
  epoch: number;
  /** Validation loss, on evaluation steps. */
  valLoss?: number;
  /** Seconds since this session's first step. */
  elapsedSec: number;
  /** Steps run in this session (for the ETA after a resume). */
  sessionSteps: number;
}

/** A progress display. */
export interface ProgressReporter {
  /** Called once before the first step, with the total steps (when known) and the step resumed from. */
  start(total: number | null, startStep: number): void;
  /** Called after every step. */
  update(info: ProgressInfo): void;
  /** A one-off message (evaluation results, checkpoint saved, …). */
  message(text: string): void;
  /** Called once at the end of training. */
  end(): void;
}

/** Display modes: `auto` picks jupyter, bar (stderr is a TTY) or log. */
export type ProgressMode = "auto" | "bar" | "log" | "jupyter" | "none";

/**
 * Seconds as `1h02m`, `3m05s` or `12s`.
 * @example
 * ```ts
 * import { formatDuration } from "./progress.ts";
 * formatDuration(185); // "3m05s"
 * ```
 */
export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return "?";
  const s = Math.round(sec);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/**
 * The text of one progress line.
 * @example
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * formatProgress({ step: 5, total: 10, loss: 2.5, lr: 3e-4, tokensPerSec: 1000, epoch: 0, elapsedSec: 5, sessionSteps: 5 });
 * // "[█████░░░░░] step 5/10 | loss 2.5000 | lr 3.0e-4 | 1,000 tok/s | ETA 5s"
 * ```
 */
export function formatProgress(i: ProgressInfo, barWidth = 10): string {
  const parts: string[] = [];
  if (i.total) {
    const f = Math.min(1, i.step / i.total);
    const n = Math.round(f * barWidth);
    parts.push(`[${"█".repeat(n)}${"░".repeat(barWidth - n)}] step ${i.step}/${i.total}`);
  } else parts.push(`step ${i.step}`);
  parts.push(`loss ${i.loss.toFixed(4)}`);
  if (i.valLoss !== undefined) parts.push(`val ${i.valLoss.toFixed(4)}`);
  parts.push(`lr ${i.lr.toExponential(1)}`);
  parts.push(`${Math.round(i.tokensPerSec).toLocaleString("en-US")} tok/s`);
  if (i.total && i.sessionSteps > 0) {
    parts.push(`ETA ${formatDuration((i.elapsedSec / i.sessionSteps) * Math.max(0, i.total - i.step))}`);
  }
  return parts.join(" | ");
}

/**
 * Records updates and messages; prints nothing (for tests, and `progress: "none"`).
 * @example
 * ```ts
 * import { SilentProgress } from "./progress.ts";
 * const p = new SilentProgress(); // pass as `progress: p`, then read p.updates
 * ```
 */
export class SilentProgress implements ProgressReporter {
  /** Every update received. */
  readonly updates: ProgressInfo[] = [];
  /** Every message received. */
  readonly messages: string[] = [];
  /** Does nothing. */
  start(): void {}
  /** Record the update. */
  update(info: ProgressInfo): void {
    this.updates.push(info);
  }
  /** Record the message. */
  message(text: string): void {
    this.messages.push(text);
  }
  /** Does nothing. */
  end(): void {}
}

const enc = new TextEncoder();
function writeErr(s: string): void {
  try {
    Deno.stderr.writeSync(enc.encode(s));
  } catch { /* stderr closed */ }
}

/**
 * A one-line bar on stderr redrawn in place (at most every `intervalMs`).
 * @example
 * ```ts
 * import { BarProgress } from "./progress.ts";
 * const bar = new BarProgress(100); // or new BarProgress(0, (s) => lines.push(s)) to capture
 * ```
 */
export class BarProgress implements ProgressReporter {
  #last = 0;
  #drawn = false;
  /** A bar redrawn at most every `intervalMs`, written with `write` (default: stderr). */
  constructor(readonly intervalMs = 100, readonly write: (s: string) => void = writeErr) {}
  /** Does nothing (the bar appears with the first update). */
  start(): void {}
  /** Redraw the bar (throttled; the last step is always drawn). */
  update(info: ProgressInfo): void {
    const now = Date.now();
    if (now - this.#last < this.intervalMs && info.step !== info.total) return;
    this.#last = now;
    let line = formatProgress(info, 20);
    let cols = 120;
    try {
      cols = Deno.consoleSize().columns;
    } catch { /* not a console */ }
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.write(`\r\x1b[2K${line}`);
    this.#drawn = true;
  }
  /** Print the message on its own line, then continue the bar below it. */
  message(text: string): void {
    this.write(`${this.#drawn ? "\r\x1b[2K" : ""}${text}\n`);
    this.#drawn = false;
  }
  /** End the bar's line. */
  end(): void {
    if (this.#drawn) this.write("\n");
    this.#drawn = false;
  }
}

/**
 * A log line on stderr every `every` steps (and at the last).
 * @example
 * ```ts
 * import { LogProgress } from "./progress.ts";
 * const log = new LogProgress(100);
 * ```
 */
export class LogProgress implements ProgressReporter {
  /** A log line every `every` steps, written with `write` (default: stderr). */
  constructor(readonly every = 50, readonly write: (s: string) => void = writeErr) {}
  /** Print a start line (resumed or fresh, and the total). */
  start(total: number | null, startStep: number): void {
    this.write(
      `training: ${startStep ? `resuming at step ${startStep}` : "starting"}${
        total ? `, ${total} steps` : ""
      }\n`,
    );
  }
  /** Print a line every `every` steps and at the last. */
  update(info: ProgressInfo): void {
    if (info.step % this.every === 0 || info.step === info.total) this.write(formatProgress(info) + "\n");
  }
  /** Print the message. */
  message(text: string): void {
    this.write(text + "\n");
  }
  /** Does nothing. */
  end(): void {}
}

export { inJupyter };

/**
 * A live-updating output in a Jupyter cell: `display_data` once, then `update_display_data` with the same
 * `display_id` (at most every `intervalMs`).
 * @example
 * ```ts
 * import { JupyterProgress } from "./progress.ts";
 * const p = new JupyterProgress(500); // inert outside a kernel
 * ```
 */
export class JupyterProgress implements ProgressReporter {
  /** The Jupyter display id updated in place. */
  readonly displayId = `ssmlab-progress-${Math.random().toString(36).slice(2, 10)}`;
  #shown = false;
  #last = 0;
  #log: string[] = [];
  #line = "";
  /** A display updated at most every `intervalMs` through `api` (default: the kernel's, none outside Jupyter). */
  constructor(readonly intervalMs = 500, readonly api: Pick<JupyterApi, "broadcast"> | null = jupyter()) {}
  #send(): void {
    if (!this.api) return;
    const text = [...this.#log.slice(-8), this.#line].filter(Boolean).join("\n");
    const html = `<pre style="margin:0">${
      text.replace(/[&<>]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" })[c]!)
    }</pre>`;
    const content = {
      data: { "text/plain": text, "text/html": html },
      metadata: {},
      transient: { display_id: this.displayId },
    };
    this.api.broadcast(this.#shown ? "update_display_data" : "display_data", content).catch(() => {});
    this.#shown = true;
  }
  /** Does nothing (the output appears with the first update). */
  start(): void {}
  /** Update the cell output (throttled; the last step is always shown). */
  update(info: ProgressInfo): void {
    this.#line = formatProgress(info, 30);
    const now = Date.now();
    if (now - this.#last < this.intervalMs && info.step !== info.total) return;
    this.#last = now;
    this.#send();
  }
  /** Append the message to the output's log lines. */
  message(text: string): void {
    this.#log.push(text);
    this.#send();
  }
  /** Show the final state. */
  end(): void {
    this.#send();
  }
}

/**
 * Build a progress display.
 * @param mode `auto`: Jupyter when `Deno.jupyter` exists, else a bar when stderr is a TTY, else log lines
 * @example
 * ```ts
 * import { createProgress } from "./progress.ts";
 * const p = createProgress("none");
 * ```
 */
export function createProgress(
  mode: ProgressMode | ProgressReporter = "auto",
  opts: { logEvery?: number } = {},
): ProgressReporter {
  if (typeof mode === "object") return mode;
  switch (mode) {
    case "none":
      return new SilentProgress();
    case "bar":
      return new BarProgress();
    case "log":
      return new LogProgress(opts.logEvery);
    case "jupyter":
      return new JupyterProgress();
    case "auto": {
      if (inJupyter()) return new JupyterProgress();
      let tty = false;
      try {
        tty = Deno.stderr.isTerminal();
      } catch { /* no stderr */ }
      return tty ? new BarProgress() : new LogProgress(opts.logEvery);
    }
    default:
      throw new Error(`Unknown progress mode "${mode}": expected auto, bar, log, jupyter or none.`);
  }
}
