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
# The BabyLM-style text of the architecture comparison (bench/architectures_device.ts), only with ARCH_TEXT=1: the
# stand-in corpus (≈ 61 MB of text, 17 MB as xz) goes to .devdata/, which travels in a call of its own (with
# .device/ the working tree would pass the 64 MiB a call may carry; bench/architectures_gpu.sh says how).
if [ -n "${ARCH_TEXT:-}" ]; then
  mkdir -p .devdata
  tar -C "$shared/data" -cf - babylm-standin | xz -T2 -6 > .devdata/babylm_standin.tar.xz
fi
"$shared/tools/device-kit" bench/mhc_ablation_device.ts bench/blimp_device.ts bench/device_bench.ts bench/gpu_tests.ts bench/gpu_step_profile.ts bench/h3_device.ts bench/architectures_device.ts
cat <<'CMD'
Device commands (carry [".device"]; results come back from $OUT):
  parity tests + benchmark (about 6 minutes):
    source .device/start.sh && (deno test -A --no-config --filter webgpu .device/gpu_tests.js 2>&1 | tee $OUT/tests.log);
    deno run -A .device/device_bench.js --out $OUT/bench 2>&1 | tee $OUT/bench.log
  training parity on the GPU (tests/training_parity_test.ts, the fused AdamW and kernels):
    source .device/start.sh && deno test -A --no-config --filter "[webgpu] 50 ablation" .device/gpu_tests.js
  the mHC ablation at the published budget, in the background (results/mhc_ablation/README.md; keep the calls
  back to back, or the machine is given back and the run with it):
    source .device/start.sh && (VARIANTS=mhc_adapters,baseline setsid nohup bash bench/mhc_ablation_gpu.sh run > /tmp/abl.log 2>&1 &)
    source .device/start.sh && sleep 500; bash bench/mhc_ablation_gpu.sh status      # packs $OUT/<run>.tgz
  architecture comparison (prepared with ARCH_TEXT=1; docs/architectures.md): call 1 carries .device, call 2
  carries .devdata to the same warm machine and starts the runs, later calls watch them:
    true
    source .device/start.sh && (setsid nohup bash bench/architectures_gpu.sh run > /tmp/arch.log 2>&1 &)
    source .device/start.sh && sleep 500; bash bench/architectures_gpu.sh status
CMD
