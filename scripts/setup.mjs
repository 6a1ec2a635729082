#!/usr/bin/env node
// One-time set-up behind the README's npm commands, safe to run every time (it skips what is already done):
//   1. npm dependencies (Deno itself comes from npm: node_modules/.bin/deno);
//   2. a system font for chart PNGs (fonts-dejavu-core via apt, when none is installed and we are root);
//   3. with --jupyter: Debian's jupyter-nbconvert + jupyter-core and the Deno kernel (for the notebook runner);
//   4. with --browser: Debian's chromium (headless), which opens the notebooks' HTML as a reader sees it.
// Nothing here downloads from anywhere but the npm registry and Debian's apt.
import { execSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const args = new Set(process.argv.slice(2));
const say = (m) => console.error(`[setup] ${m}`);
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const has = (cmd) => spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
const run = (cmd) => execSync(cmd, { stdio: ["ignore", "inherit", "inherit"] });

// 1. npm dependencies
const stamp = join(root, "node_modules", ".package-lock.json");
const deno = join(root, "node_modules", ".bin", "deno");
if (
  !existsSync(deno) || !existsSync(stamp) ||
  statSync(join(root, "package-lock.json")).mtimeMs > statSync(stamp).mtimeMs
) {
  say("installing npm dependencies (npm ci)…");
  run(
    existsSync(join(root, "package-lock.json"))
      ? "npm ci --no-audit --no-fund --loglevel=error"
      : "npm install --no-audit --no-fund --loglevel=error",
  );
}

// 2. a font for resvg (without one, text in PNG charts silently vanishes)
function fontInstalled() {
  const dirs = ["/usr/share/fonts", "/usr/local/share/fonts", join(process.env.HOME ?? "/root", ".fonts")];
  const walk = (d, depth = 0) => {
    if (!existsSync(d) || depth > 4) return false;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isFile() && /\.(ttf|otf)$/i.test(e.name)) return true;
      if (e.isDirectory() && walk(join(d, e.name), depth + 1)) return true;
    }
    return false;
  };
  return dirs.some((d) => walk(d));
}
let aptUpdated = false;
function apt(pkgs) {
  if (!isRoot || !has("apt-get")) {
    say(`please install: apt-get install -y --no-install-recommends ${pkgs.join(" ")}`);
    return false;
  }
  if (!aptUpdated) {
    say("apt-get update…");
    run("apt-get update -qq");
    aptUpdated = true;
  }
  say(`apt-get install ${pkgs.join(" ")}…`);
  run(
    `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${
      pkgs.join(" ")
    } >/dev/null`,
  );
  return true;
}
if (!fontInstalled()) apt(["fonts-dejavu-core"]);

// 3. Jupyter + the Deno kernel
if (args.has("--jupyter")) {
  if (!has("jupyter") || spawnSync("jupyter", ["nbconvert", "--version"], { stdio: "ignore" }).status !== 0) {
    apt(["jupyter-nbconvert", "jupyter-core"]);
  }
  // The kernelspec is this clone's own (scripts/run_notebooks.ts: projectKernelName), checked every run.
  if (has("jupyter")) run(`"${deno}" run -A scripts/run_notebooks.ts --install --check`);
}

// 4. Chromium for scripts/check_notebooks_html.ts
if (args.has("--browser") && !has("chromium")) apt(["chromium"]);
