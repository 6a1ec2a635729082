/**
 * The WebGPU parity tests in one module, so device-kit can bundle them for the GPU machine (no node_modules there):
 * `deno test -A --filter webgpu .device/gpu_tests.js`. Here they run as part of `deno test tests/`.
 *
 * @module
 */
import "../tests/scan_webgpu_test.ts";
import "../tests/conv_webgpu_test.ts";
import "../tests/head_loss_test.ts";
import "../tests/matmul_test.ts";
import "../tests/matmul_webgpu_test.ts";
import "../tests/stream_mix_test.ts";
import "../tests/models_webgpu_test.ts";
import "../tests/dropout_webgpu_test.ts";
import "../tests/selective_scan_webgpu_test.ts";
import "../tests/norm_webgpu_test.ts";
import "../tests/reduce_webgpu_test.ts";
import "../tests/adamw_webgpu_test.ts";
import "../tests/adapter_test.ts";
import "../tests/ssm_gate_test.ts";
import "../tests/model_impl_test.ts";
import "../tests/step_test.ts";
import "../tests/training_parity_test.ts";
import "../tests/capture_test.ts";
import "../tests/capture_train_test.ts";
import "../tests/long_conv_webgpu_test.ts";
import "../tests/h3_test.ts";
import "../tests/edifice_h3_test.ts";
