#!/usr/bin/env bash
# Prepare .device/ (git-ignored) for the GPU machine, which has no Deno, no registry and no native addons:
# pre-tokenized GPT-2 ids (uint16, xz) + Deno + the Vulkan loader + bundled entries: the published-size mHC
# ablation (bench/mhc_ablation_device.ts), the GPU benchmark (bench/device_bench.ts) and the WebGPU parity
# tests (bench/gpu_tests.ts).
#
#   scripts/gpu_prepare.sh                       # defaults below; TRAIN_TOKENS=3000000 TRAIN_TEXT=… to change
# then call the device tool with carry [".device"] and the command it prints.
# SHARED names the GPU host's tooling folder (tools/device-kit, and the source texts under data/); it is not part
# of this repository. docs/gpu.md describes the whole path.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
deno=node_modules/.bin/deno
shared=${SHARED:-../shared}
train_text=${TRAIN_TEXT:-$shared/data/babylm-standin/gutenberg_general.txt}
train_tokens=${TRAIN_TOKENS:-3000000}
mkdir -p data/cache/tok .device/data .git/info
tok_train=data/cache/tok/$(basename "${train_text%.*}").gpt2.u16
tok_valid=data/cache/tok/wikitext2_valid.gpt2.u16
[ -f "$tok_train" ] || "$deno" run -A scripts/pretokenize.ts --corpus text --file "$train_text" --out "$tok_train"
[ -f "$tok_valid" ] || "$deno" run -A scripts/pretokenize.ts --corpus wikitext2 --split valid \
  --dir "$shared/data/wikitext-2" --out "$tok_valid"
head -c $((2 * train_tokens)) "$tok_train" | xz -T2 -6 > .device/data/train.u16.xz
xz -T2 -6 -c "$tok_valid" > .device/data/valid.u16.xz
"$shared/tools/device-kit" bench/mhc_ablation_device.ts bench/device_bench.ts bench/gpu_tests.ts bench/gpu_step_profile.ts
cat <<'CMD'
Device commands (carry [".device"]; results come back from $OUT):
  parity tests + benchmark (about 6 minutes):
    source .device/start.sh && (deno test -A --filter webgpu .device/gpu_tests.js 2>&1 | tee $OUT/tests.log);
    deno run -A .device/device_bench.js --out $OUT/bench 2>&1 | tee $OUT/bench.log
  ablation:
    source .device/start.sh && mkdir -p /tmp/d && xz -dc .device/data/train.u16.xz > /tmp/d/train.u16 &&
    xz -dc .device/data/valid.u16.xz > /tmp/d/valid.u16 &&
    deno run -A .device/mhc_ablation_device.js --train /tmp/d/train.u16 --valid /tmp/d/valid.u16 --out $OUT/abl \
      --seconds 95 --eval-every 40 2>&1 | tee $OUT/log
CMD
