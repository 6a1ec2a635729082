/** Run the command line's `main(argv)` in-process with its console output captured (shared by the CLI tests). */
import { main } from "../src/cli.ts";

/** Run `main(argv)` with console.log/error/warn captured (and silenced); returns the exit code and the text. */
export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const saved = { log: console.log, error: console.error, warn: console.warn, info: console.info };
  const fmt = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : Deno.inspect(a))).join(" ");
  console.log = (...a: unknown[]) => out.push(fmt(a));
  console.info = (...a: unknown[]) => out.push(fmt(a));
  console.error = (...a: unknown[]) => err.push(fmt(a));
  console.warn = (...a: unknown[]) => err.push(fmt(a));
  try {
    const code = await main(argv);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    Object.assign(console, saved);
  }
}

/** The JSON object a command printed (from the first "{" to the last "}"). */
export function printedJson(out: string): Record<string, unknown> {
  return JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1));
}

/** The names in a folder, sorted. */
export function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

/** Whether a path exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
