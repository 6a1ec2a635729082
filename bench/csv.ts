/**
 * CSV text for the GPU entries, which cannot load nodejs-polars (a native addon) on the device: the union of the
 * rows' keys as the header, empty cells for null/undefined, and quoting where a value holds a comma, quote or
 * newline. `scripts/report_device_results.ts` reads the files back with Polars here.
 *
 * @module
 */

/**
 * @param rows records (keys may differ between rows)
 * @returns the CSV text, newline-terminated; "" for no rows
 * @example
 * ```ts
 * import { toCsv } from "./csv.ts";
 * toCsv([{ a: 1, b: "x,y" }, { a: 2 }]); // 'a,b\n1,"x,y"\n2,\n'
 * ```
 */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  if (!rows.length) return "";
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return "";
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [cols.join(","), ...rows.map((r) => cols.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}
