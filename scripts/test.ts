/**
 * The test command behind `npm test`: `deno test -A --quiet tests/` (or the paths given), with Mesa's software
 * GL driver kept loaded for the whole process where this machine has one.
 *
 * ```sh
 * deno run -A scripts/test.ts                    # every test
 * deno run -A scripts/test.ts tests/scan_test.ts # some files; further `deno test` flags may follow the paths
 * ```
 *
 * Why the preload. On a machine without a GPU, Deno's WebGPU runs on Mesa's llvmpipe through wgpu's GL backend.
 * `deno test` runs each test file in a runtime of its own; every file that opens a WebGPU device makes wgpu
 * `dlopen` the driver (`swrast_dri.so`) and `dlclose` it again when that runtime ends. The driver leaves an exit
 * handler behind that points into its unmapped code, so the process sometimes dies after the last test has
 * passed: a segmentation fault, or glibc's `corrupted size vs. prev_size` abort (exit 134). A core dump shows
 * the main thread in `__run_exit_handlers` jumping to an address no library maps any more. With the driver in
 * `LD_PRELOAD` the loader holds it from start to exit, so it is never unmapped: in a repro (20 workers, each
 * opening a device, with nodejs-polars loaded) the crash rate went from 2 in 15 runs to 0 in 45.
 *
 * @module
 */

/** Folders where Debian, Fedora and Arch keep Mesa's DRI drivers. */
const DRI_DIRS = [
  "/usr/lib/x86_64-linux-gnu/dri",
  "/usr/lib/aarch64-linux-gnu/dri",
  "/usr/lib64/dri",
  "/usr/lib/dri",
];

/**
 * The path of Mesa's software GL driver (`swrast_dri.so`), or null where there is none (no Mesa, not Linux).
 *
 * @example
 * ```ts
 * import { mesaSoftwareDriver } from "./test.ts";
 * console.log(mesaSoftwareDriver()); // "/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so" on Debian with Mesa
 * ```
 */
export function mesaSoftwareDriver(dirs: string[] = DRI_DIRS): string | null {
  if (Deno.build.os !== "linux") return null;
  for (const dir of dirs) {
    const path = `${dir}/swrast_dri.so`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not in this folder */ }
  }
  return null;
}

/**
 * The environment for `deno test`: the current one with the software driver prepended to `LD_PRELOAD`.
 *
 * @example
 * ```ts
 * import { testEnv } from "./test.ts";
 * testEnv({ PATH: "/bin" }, "/x/swrast_dri.so").LD_PRELOAD; // "/x/swrast_dri.so"
 * ```
 */
export function testEnv(base: Record<string, string>, driver: string | null): Record<string, string> {
  if (!driver) return { ...base };
  const preload = (base.LD_PRELOAD ?? "").split(/[: ]/).filter((p) => p && p !== driver);
  return { ...base, LD_PRELOAD: [driver, ...preload].join(":") };
}

/** Run `deno test` and return its exit code. */
export async function main(args: string[]): Promise<number> {
  const targets = args.length > 0 ? args : ["tests/"];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--quiet", ...targets],
    env: testEnv(Deno.env.toObject(), mesaSoftwareDriver()),
    clearEnv: true,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
