#!/usr/bin/env bash
# Prepare .device/ (git-ignored) for the GPU machine, which has no Deno, no registry and no native addons:
# pre-tokenized GPT-2 ids (uint16, xz) + Deno + the Vulkan loader + bundled entries: the published-size mHC
# ablation (bench/mhc_ablation_device.ts), the GPU benchmark (bench/device_bench.ts) and the WebGPU parity
# tests (bench/gpu_tests.ts).
#
#   scripts/gpu_prepare.sh                       # defaults below; TRAIN_TOKENS=… VALID_TOKENS=… TRAIN_TEXT=… to change
# then call the device tool with carry [".device"] and the command it prints.
# SHARED names the GPU host's tooling folder (tools/device-kit, and the source texts under data/); it is not part
# of this repository. docs/gpu.md describes the whole path.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
deno=node_modules/.bin/deno
shared=${SHARED:-../shared}
train_text=${TRAIN_TEXT:-$shared/data/babylm-standin/gutenberg_general.txt}
train_tokens=${TRAIN_TOKENS:-2400000}
valid_tokens=${VALID_TOKENS:-260000}
mkdir -p .device/data .git/info
# issue 12 item 2: train = the first 2.4 M GPT-2 ids of the corpus file, in-domain valid = the next 260 k,
# out-of-domain valid = WikiText-2 valid (src/data/slices.ts), each uint16 + xz.
"$deno" run -A scripts/pretokenize.ts --corpus slices --file "$train_text" --train-tokens "$train_tokens" \
  --valid-tokens "$valid_tokens" --dir "$shared/data/wikitext-2" --out-dir .device/data --xz
# BLiMP (original and BabyLM-filtered jsonl) for bench/blimp_device.ts.
tar -C "$shared/data" -cJf .device/data/blimp.tar.xz blimp blimp_filtered
# The BabyLM-style text of the architecture comparison (bench/architectures_device.ts), only with ARCH_TEXT=1: it
# adds the stand-in corpus (≈ 61 MB of text) to .device/data as xz.
if [ -n "${ARCH_TEXT:-}" ]; then
  tar -C "$shared/data" -cJf .device/data/babylm_standin.tar.xz babylm-standin
fi
"$shared/tools/device-kit" bench/mhc_ablation_device.ts bench/blimp_device.ts bench/device_bench.ts bench/gpu_tests.ts bench/gpu_step_profile.ts bench/h3_device.ts bench/architectures_device.ts
cat <<'CMD'
Device commands (carry [".device"]; results come back from $OUT):
  parity tests + benchmark (about 6 minutes):
    source .device/start.sh && (deno test -A --no-config --filter webgpu .device/gpu_tests.js 2>&1 | tee $OUT/tests.log);
    deno run -A .device/device_bench.js --out $OUT/bench 2>&1 | tee $OUT/bench.log
  training parity on the GPU (tests/training_parity_test.ts, the fused AdamW and kernels):
    source .device/start.sh && deno test -A --no-config --filter "[webgpu] 50 ablation" .device/gpu_tests.js
  ablation (the reference's recipe: 10 epochs, eval every 500 steps; add --steps N or --seconds S for less):
    source .device/start.sh && mkdir -p /tmp/d && for s in train valid valid_ood; do
      xz -dc .device/data/$s.u16.xz > /tmp/d/$s.u16; done &&
    deno run -A .device/mhc_ablation_device.js --train /tmp/d/train.u16 --valid /tmp/d/valid.u16 \
      --valid-ood /tmp/d/valid_ood.u16 --out $OUT/abl 2>&1 | tee $OUT/log
  architecture comparison (prepared with ARCH_TEXT=1; one or more rows per call, each into its own folder;
  scripts/import_architectures.ts --from DIR merges them into results/architectures/):
    source .device/start.sh && mkdir -p /tmp/a && tar -C /tmp/a -xJf .device/data/babylm_standin.tar.xz &&
      tar -C /tmp/a -xJf .device/data/blimp.tar.xz &&
    deno run -A .device/architectures_device.js --data /tmp/a/babylm-standin --blimp /tmp/a/blimp \
      --blimp-filtered /tmp/a/blimp_filtered --rows baseline --words 10000000 --out $OUT/arch/baseline 2>&1 | tee $OUT/log
CMD
