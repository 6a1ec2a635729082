#!/usr/bin/env bash
# Shared by the background GPU drivers (bench/mhc_ablation_gpu.sh, bench/architectures_gpu.sh); source it.
# gpu_status ROOT: the last lines of every run's log under ROOT/out, the GPU's load, and — when $OUT is set (a device
# call) — each run folder of ROOT/out packed into $OUT/<run>.tgz, so that every watching call brings back what has finished.
gpu_status() {
  local root=$1 f
  for f in "$root"/out/*/run.log; do
    [ -f "$f" ] || continue
    echo "== $f"
    grep -v "^{" "$f" | tail -n 3
  done
  tail -n 2 "$root"/out/*/blimp.log 2>/dev/null
  [ -f "$root/out/ALL_DONE" ] && echo "ALL_DONE"
  nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
  # One archive per run folder (a device call brings back at most 8 files of 16 MiB each; a finished ablation run
  # with its BLiMP scores packs to a few MiB).
  if [ -n "${OUT:-}" ]; then
    for f in "$root"/out/*/; do
      [ -d "$f" ] && tar -C "$root/out" -czf "$OUT/$(basename "$f").tgz" "$(basename "$f")"
    done
    ls -la "$OUT"
  fi
}

# The bundled entries of .device/ (the GPU machine), or with SRC=1 the TypeScript sources (a smoke run here).
entry() { if [ -n "${SRC:-}" ]; then echo "bench/$1.ts"; else echo ".device/$1.js"; fi; }
