#!/usr/bin/env bash
# The architecture comparison (issue 15, docs/architectures.md) on the GPU machine, in the background, one row (or
# the character curriculum's two rows) per process, each into its own folder; a finished row (its result.json) is
# skipped when `run` starts again. The text is too big to travel with .device/, so it comes in a second call to the
# same warm machine (scripts/gpu_prepare.sh with ARCH_TEXT=1 writes it to .devdata/):
#
#   call 1, carry [".device"]:   true                                   (the machine keeps .device/ while warm)
#   call 2, carry [".devdata"]:  source .device/start.sh && (setsid nohup bash bench/architectures_gpu.sh run > /tmp/arch.log 2>&1 &)
#   later calls, back to back:   source .device/start.sh && bash bench/architectures_gpu.sh status   # packs $OUT/<run>.tgz
#
# Environment: JOBS (space-separated; a job is one or more comma-separated rows, its folder their names joined
# by "_": only letters, digits, ".", "_" and "-" come back from the device; default: every row), WORDS (words
# seen per row, 10000000), ROOT (/tmp/arch), EXTRA (more flags for bench/architectures_device.ts).
# Here: `scripts/import_architectures.ts --from <unpacked <run>.tgz>` merges the folders into results/architectures/.
set -uo pipefail
jobs=${JOBS:-baseline mhc mhc_adapters h3 hssm char_tiny,char_main}
root=${ROOT:-/tmp/arch}
mkdir -p "$root/data" "$root/out"
# shellcheck source=bench/gpu_status.sh
source "$(dirname "$0")/gpu_status.sh"

prepare() {
  [ -d "$root/data/babylm-standin" ] || tar -C "$root/data" -xJf .devdata/babylm_standin.tar.xz
  [ -d "$root/data/blimp" ] || tar -C "$root/data" -xJf .device/data/blimp.tar.xz
}

run_job() { # rows
  local out="$root/out/${1//,/_}"
  [ -f "$out/DONE" ] && return 0
  mkdir -p "$out"
  # shellcheck disable=SC2086
  deno run -A "$(entry architectures_device)" --data "$root/data/babylm-standin" --blimp "$root/data/blimp" \
    --blimp-filtered "$root/data/blimp_filtered" --rows "$1" --words "${WORDS:-10000000}" --out "$out" \
    ${EXTRA:-} >> "$out/run.log" 2>&1 && touch "$out/DONE"
}

case ${1:-status} in
run)
  prepare
  for j in $jobs; do run_job "$j" || echo "job $j failed; see $root/out/${j//,/_}/run.log"; done
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
