/**
 * `ssmlab quickstart`: train, evaluate and chart tiny models on the shipped sample (results/quickstart/<run>/).
 * A quickstart that fails leaves no run folder behind (unless --run named one that was already there).
 *
 * @module
 */
import { join } from "node:path";
import { quickstart } from "../experiments/quickstart.ts";
import { validateName } from "../results/run_dir.ts";
import { OutputGuard } from "./cleanup.ts";
import { BACKEND_OPTION, type CliOption, HELP_OPTION, helpText, parse } from "./options.ts";

/** Options of `quickstart`. */
export const QUICKSTART_OPTIONS: Record<string, CliOption> = {
  steps: { type: "int", min: 1, value: 150, help: "Training steps per model." },
  backend: BACKEND_OPTION,
  seed: { type: "int", value: 1337, help: "Seed of everything." },
  run: { type: "string", help: "Run folder name (default: a timestamp)." },
  help: HELP_OPTION,
};

/** Run `ssmlab quickstart` with its arguments; prints the results table. */
export async function runQuickstart(argv: string[]): Promise<void> {
  const f = parse(argv, QUICKSTART_OPTIONS);
  if (f.help) return console.log(helpText("ssmlab quickstart [options]", QUICKSTART_OPTIONS));
  const runName = validateName(
    (f.run as string | undefined) ?? new Date().toISOString().replace(/[:.]/g, "-"),
    "run (--run)",
  );
  const root = Deno.env.get("SSMLAB_RESULTS") || "results";
  const guard = await OutputGuard.open(join(root, "quickstart", runName));
  const t0 = performance.now();
  let result;
  try {
    result = await quickstart({
      steps: f.steps as number,
      backend: f.backend as string,
      seed: f.seed as number,
      runName,
    });
  } catch (e) {
    await guard.rollback();
    throw e;
  }
  console.log(`\nvariant        params  steps  bits/char  BLiMP(first-token-unscored)  tokens/s`);
  for (const r of result.rows) {
    console.log(
      `${r.variant.padEnd(13)} ${String(r.params).padStart(7)} ${String(r.steps).padStart(6)} ${
        r.bits_per_char.toFixed(3).padStart(10)
      } ${(r.blimp_first_token_unscored * 100).toFixed(1).padStart(26)}% ${
        Math.round(r.tokens_per_sec ?? 0).toString().padStart(9)
      }`,
    );
  }
  console.log(
    `\n${result.run.dir}: table.csv/.parquet, loss_curves.svg/.png, bits_per_char.svg/.png, config.json`,
  );
  console.log(`quickstart finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
