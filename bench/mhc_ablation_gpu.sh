#!/usr/bin/env bash
# The mHC ablation at the published budget on the GPU machine, in the background (issue 12), with BLiMP learning
# curves of each run (issue 16). Start it detached so that it outlives the device call, then watch it with
# `bench/mhc_ablation_gpu.sh status`, which also packs the finished results into $OUT/<run>.tgz:
#
#   source .device/start.sh && setsid nohup bash bench/mhc_ablation_gpu.sh run > /tmp/abl.log 2>&1 &
#   source .device/start.sh && bash bench/mhc_ablation_gpu.sh status     # in later calls, while the machine is held
#
# Environment: VARIANTS (baseline,mhc,mhc_adapters), SEEDS (1337), ROOT (/tmp/abl: data, checkpoints, results),
# EXTRA (more flags for bench/mhc_ablation_device.ts, e.g. "--steps 200" for a smoke run), BLIMP_EXTRA (more flags
# for bench/blimp_device.ts), SRC=1 (run the TypeScript sources instead of the bundles).
# Each run checkpoints every 1000 steps under $ROOT/ck and a restarted `run` resumes it; a finished run (its
# result.json exists) is skipped. When a run ends, BLiMP scores its word milestones and final checkpoint
# (bench/blimp_device.ts) while the next run trains.
set -uo pipefail
variants=${VARIANTS:-baseline,mhc,mhc_adapters}
seeds=${SEEDS:-1337}
root=${ROOT:-/tmp/abl}
mkdir -p "$root/data" "$root/ck" "$root/out"
# shellcheck source=bench/gpu_status.sh
source "$(dirname "$0")/gpu_status.sh"

prepare() {
  for s in train valid valid_ood; do
    [ -s "$root/data/$s.u16" ] || xz -dc ".device/data/$s.u16.xz" > "$root/data/$s.u16"
  done
  [ -d "$root/data/blimp" ] || tar -C "$root/data" -xJf .device/data/blimp.tar.xz
}

run_one() { # variant seed
  local v=$1 s=$2 name="$1-seed$2"
  local out="$root/out/$name"
  [ -f "$out/result.json" ] && return 0
  mkdir -p "$out"
  wpt=$(sed -n 's/.*"words_per_token": \([0-9.]*\).*/\1/p' .device/data/slices.json)
  # shellcheck disable=SC2086
  deno run -A "$(entry mhc_ablation_device)" --train "$root/data/train.u16" --valid "$root/data/valid.u16" \
    --valid-ood "$root/data/valid_ood.u16" --variants "$v" --seed "$s" --out "$out" --eval-every 250 \
    --ckpt-dir "$root/ck" --save-every 1000 \
    --milestone-words 1000000,2000000,3000000,4000000,5000000,6000000,7000000,8000000,9000000,10000000 \
    --words-per-token "$wpt" ${EXTRA:-} >> "$out/run.log" 2>&1
}

blimp_one() { # variant seed
  local name="$1-seed$2"
  # shellcheck disable=SC2086
  deno run -A "$(entry blimp_device)" --runs "$root/ck/$name" --blimp "$root/data/blimp" \
    --blimp-filtered "$root/data/blimp_filtered" --out "$root/out/$name" ${BLIMP_EXTRA:-} >> "$root/out/$name/blimp.log" 2>&1 &&
    touch "$root/out/$name/blimp.done"
}

case ${1:-status} in
run)
  prepare
  for s in ${seeds//,/ }; do
    for v in ${variants//,/ }; do
      if run_one "$v" "$s"; then
        [ -f "$root/out/$v-seed$s/blimp.done" ] || blimp_one "$v" "$s" &
      else
        echo "run $v-seed$s failed; see $root/out/$v-seed$s/run.log"
      fi
    done
  done
  wait
  touch "$root/out/ALL_DONE"
  ;;
status)
  gpu_status "$root"
  ;;
*)
  echo "usage: $0 run|status" >&2
  exit 2
  ;;
esac
