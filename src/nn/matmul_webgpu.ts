/**
 * A register-tiled WGSL matrix product for the webgpu backend, with the transposes folded into its loads.
 *
 * `C = op(A) · op(B)` where op is the identity or a transpose, chosen per operand: `mmWebGPU(a, b, ta, tb)`.
 * tfjs-webgpu 4.22 runs `matMul` fast only with an untransposed B and sizes that are multiples of 4 (see
 * `matmul.ts`), so a linear layer paid a transpose dispatch per product and its vec4 kernel was slow on the
 * LM-head shapes (results/bench/h100_probe/README.md). Here every transpose combination is one dispatch:
 *
 * - A workgroup of 256 lanes owns a BM × BN tile of C and walks K in steps of BK: each step loads an A tile
 *   [BK, BM] and a B tile [BK, BN] into workgroup memory (zero-padded at the edges, transposed on the way in when
 *   the operand is stored the other way round), then every lane does TM × TN multiply-adds per k from registers.
 * - Two tile shapes: 128 × 128 with 8 × 8 outputs per lane for large outputs, 64 × 64 with 4 × 4 for smaller ones.
 * - Split-K when the output has too few tiles to fill the GPU (e.g. the head's dh = G·E, inner size 50,257): the
 *   S splits write [S, M, N] partial products that one more dispatch (`SsmlabSumSplits`) adds up.
 *
 * The plain `tf.matMul(a, b, ta, tb)` is the reference; `tests/matmul_webgpu_test.ts` compares them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { intUniforms, requireWebGPU, webgpuKernel, webgpuProgram as program } from "./webgpu_kernel.ts";

/** A tile shape of the kernel: a workgroup computes BM × BN of C, k-steps of BK, each lane TM × TN outputs. */
export interface MatmulTile {
  bm: number;
  bn: number;
  bk: number;
  tm: number;
  tn: number;
  /** Unroll the loop over the bk steps of a tile in the generated WGSL (constant shared-memory offsets). */
  unroll?: boolean;
}

/** 128 × 128 tiles, 8 × 8 per lane (256 lanes): for outputs with many tiles. */
export const TILE_LARGE: MatmulTile = { bm: 128, bn: 128, bk: 8, tm: 8, tn: 8, unroll: false };
/** 64 × 64 tiles, 4 × 4 per lane (256 lanes): for smaller outputs. */
export const TILE_SMALL: MatmulTile = { bm: 64, bn: 64, bk: 16, tm: 4, tn: 4, unroll: true };

/** Workgroups that keep the GPU busy (about two per streaming multiprocessor of an H100). */
const TARGET_WORKGROUPS = 264;
/** Split-K never makes a split shorter than this many k. */
const MIN_SPLIT_K = 256;
/**
 * Split-K only for products of at least this many multiply-adds (2³⁰, ≈ 0.7 ms at 3 TFLOP/s): below it the extra
 * dispatch that adds the partial products (its host cost: results/bench/h100/README.md) costs more than the idle
 * SMs.
 */
const MIN_SPLIT_MACS = 2 ** 30;

/** The WGSL of one (tile, ta, tb) variant. Inputs A, B; uniforms M, N, K, kc (k per split), tilesM, tilesN, splits. */
function mmCode(t: MatmulTile, ta: boolean, tb: boolean): string {
  const { bm, bn, bk, tm, tn } = t;
  const lanesN = bn / tn; // lanes along a row of the tile
  const lanesM = bm / tm;
  const lanes = lanesM * lanesN;
  const gm = tm / 4; // row groups of 4 per lane
  const gn = tn / 4;
  const L: string[] = [];
  // Global → workgroup loads of the A tile [bk, bm] (As[k][m]) and the B tile [bk, bn] (Bs[k][n]).
  for (let i = 0; i < (bk * bm) / lanes; i++) {
    // Consecutive lanes read consecutive addresses: along k when A is [M, K], along m when it is stored [K, M].
    L.push(`{ let idx = ${i * lanes} + tid;`);
    L.push(
      ta ? `let mm = idx % ${bm}; let kk = idx / ${bm};` : `let mm = idx / ${bk}; let kk = idx % ${bk};`,
    );
    L.push(`let gmI = m0 + mm; let gkI = k0 + kk; var v = 0.0;`);
    L.push(`if (gmI < M && gkI < kEnd) { v = A[${ta ? "gkI * M + gmI" : "gmI * K + gkI"}]; }`);
    L.push(`As[kk * ${bm / 4} + mm / 4][mm % 4] = v; }`);
  }
  for (let i = 0; i < (bk * bn) / lanes; i++) {
    L.push(`{ let idx = ${i * lanes} + tid;`);
    L.push(
      tb ? `let nn = idx / ${bk}; let kk = idx % ${bk};` : `let nn = idx % ${bn}; let kk = idx / ${bn};`,
    );
    L.push(`let gnI = n0 + nn; let gkI = k0 + kk; var v = 0.0;`);
    L.push(`if (gnI < N && gkI < kEnd) { v = B[${tb ? "gnI * K + gkI" : "gkI * N + gnI"}]; }`);
    L.push(`Bs[kk * ${bn / 4} + nn / 4][nn % 4] = v; }`);
  }
  const loads = L.join("\n      ");
  // Register block: rows r = g·(lanesM·4) + tr·4 + i, columns c = h·(lanesN·4) + tc·4 + j.
  const decl: string[] = [];
  const fma: string[] = [];
  const store: string[] = [];
  for (let g = 0; g < gm; g++) fma.push(`let a${g} = As[kk * ${bm / 4} + ${g * lanesM} + tr];`);
  for (let h = 0; h < gn; h++) fma.push(`let b${h} = Bs[kk * ${bn / 4} + ${h * lanesN} + tc];`);
  for (let g = 0; g < gm; g++) {
    for (let i = 0; i < 4; i++) {
      for (let h = 0; h < gn; h++) {
        const acc = `c${g}_${i}_${h}`;
        decl.push(`var ${acc} = vec4<f32>(0.0);`);
        fma.push(`${acc} = fma(vec4<f32>(a${g}[${i}]), b${h}, ${acc});`);
        store.push(`{ let m = m0 + ${g * lanesM * 4} + tr * 4 + ${i};`);
        store.push(`  if (valid && m < M) { let base = (z * M + m) * N + n0 + ${h * lanesN * 4} + tc * 4;`);
        store.push(`    let n = n0 + ${h * lanesN * 4} + tc * 4;`);
        for (let j = 0; j < 4; j++) {
          store.push(`    if (n + ${j} < N) { result[base + ${j}] = ${acc}[${j}]; }`);
        }
        store.push(`} }`);
      }
    }
  }
  return `
  var<workgroup> As : array<vec4<f32>, ${(bk * bm) / 4}>;
  var<workgroup> Bs : array<vec4<f32>, ${(bk * bn) / 4}>;
  fn main(index : i32) {
    let M = uniforms.M; let N = uniforms.N; let K = uniforms.K;
    _ = A[0]; _ = B[0]; _ = uniforms.aShape; _ = uniforms.bShape;
    let wid = i32(workgroupId.z * numWorkgroups.x * numWorkgroups.y + workgroupId.y * numWorkgroups.x + workgroupId.x);
    let perSplit = uniforms.tilesM * uniforms.tilesN;
    // No early return and a loop count from uniforms only: the barriers below stay in uniform control flow (the
    // copies of the builtins that tfjs makes are not provably uniform). Extra workgroups store nothing.
    let valid = wid < perSplit * uniforms.splits;
    let z = wid / perSplit;
    let t = wid - z * perSplit;
    // Tiles of one column of C's tile grid are neighbours, so consecutive workgroups share their B tile.
    let tn = t / uniforms.tilesM;
    let tmI = t - tn * uniforms.tilesM;
    let m0 = tmI * ${bm};
    let n0 = tn * ${bn};
    let kBegin = z * uniforms.kc;
    let kEnd = min(K, kBegin + uniforms.kc);
    let tid = i32(localIndex);
    let tr = tid / ${lanesN};
    let tc = tid - tr * ${lanesN};
    ${decl.join("\n    ")}
    let kSteps = (uniforms.kc + ${bk - 1}) / ${bk};
    for (var kt = 0; kt < kSteps; kt = kt + 1) {
      let k0 = kBegin + kt * ${bk};
      ${loads}
      workgroupBarrier();
      ${
    t.unroll
      ? [...Array(bk).keys()].map((k) => `{ let kk = ${k};\n        ${fma.join("\n        ")}\n      }`).join(
        "\n      ",
      )
      : `for (var kk = 0; kk < ${bk}; kk = kk + 1) {\n        ${fma.join("\n        ")}\n      }`
  }
      workgroupBarrier();
    }
    ${store.join("\n    ")}
  }`;
}

/** The launch plan of one product: tile shape and number of k splits. */
export interface MatmulPlan {
  tile: MatmulTile;
  splits: number;
  /** k per split (a multiple of the tile's bk). */
  kc: number;
}

/**
 * Choose the tile and the split-K factor for C [M, N] with inner size K: large tiles when they alone give
 * enough workgroups, small tiles otherwise, and, for products of ≥ 2³⁰ multiply-adds, splits of K (each ≥ 256
 * long) while the workgroups are too few.
 */
export function planMatmul(M: number, N: number, K: number): MatmulPlan {
  const tiles = (t: MatmulTile) => Math.ceil(M / t.bm) * Math.ceil(N / t.bn);
  const tile = tiles(TILE_LARGE) >= TARGET_WORKGROUPS ? TILE_LARGE : TILE_SMALL;
  const n = tiles(tile);
  let splits = 1;
  if (n < TARGET_WORKGROUPS && M * N * K >= MIN_SPLIT_MACS) {
    splits = Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / n), Math.floor(K / MIN_SPLIT_K), 64));
  }
  const kc = Math.ceil(Math.ceil(K / splits) / tile.bk) * tile.bk;
  splits = Math.max(1, Math.ceil(K / kc));
  return { tile, splits, kc };
}

/** Sum of the split-K partial products over the leading axis: [S, M, N] → [M, N], one lane per output. */
const SUM_CODE = `
  fn main(index : i32) {
    let S = uniforms.pShape.x;
    let mn = uniforms.pShape.y * uniforms.pShape.z;
    if (index >= mn) { return; }
    var acc = 0.0;
    for (var z = 0; z < S; z = z + 1) { acc = acc + P[z * mn + index]; }
    result[index] = acc;
  }
`;
const KERNEL = webgpuKernel("SsmlabMatMul", ["A", "B"], (_ins, attrs) => {
  const [ta, tb, bm, bn, bk, tm, tn, M, N, K, kc, splits, unroll] = attrs.p as number[];
  const tile = { bm, bn, bk, tm, tn, unroll: unroll === 1 };
  const tilesM = Math.ceil(M / bm), tilesN = Math.ceil(N / bn);
  const key = `mm_${ta}${tb}_${bm}x${bn}x${bk}_${tm}x${tn}${unroll ? "u" : ""}`;
  const lanes = (bm / tm) * (bn / tn);
  return {
    ...program(key, ["A", "B"], [splits, M, N], tilesM * tilesN * splits, lanes, ""),
    getUserCode: () => mmCode(tile, ta === 1, tb === 1), // built only when the backend compiles the pipeline
    ...intUniforms({ M, N, K, kc, tilesM, tilesN, splits }),
  };
});
/** `SsmlabSumSplits`: SUM_CODE over [S, M, N]. */
const SUM_KERNEL = webgpuKernel("SsmlabSumSplits", ["P"], ([p]) => {
  const [, M, N] = p.shape;
  return program("mm_sum_splits", ["P"], [M, N], Math.ceil((M * N) / 256), 256, SUM_CODE);
});

/** Sizes [M, N, K] of op(a) · op(b), or a clear error. */
export function matmulSizes(a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): [number, number, number] {
  if (a.rank !== 2 || b.rank !== 2) {
    throw new Error(`matmul: operands must be 2-D, got a [${a.shape}] and b [${b.shape}].`);
  }
  const [a0, a1] = a.shape as [number, number], [b0, b1] = b.shape as [number, number];
  const [M, K] = ta ? [a1, a0] : [a0, a1];
  const [K2, N] = tb ? [b1, b0] : [b0, b1];
  if (K !== K2) {
    throw new Error(
      `matmul: inner sizes differ: a [${a.shape}]${ta ? "ᵀ" : ""} · b [${b.shape}]${
        tb ? "ᵀ" : ""
      } (${K} vs ${K2}).`,
    );
  }
  return [M, N, K];
}

/**
 * The plain-loop reference of {@linkcode mmWebGPU} (the test oracle): op(a) · op(b) on host arrays, accumulated
 * in float64.
 *
 * @param a values of a, row-major [M, K] (or [K, M] with `ta`)
 * @param b values of b, row-major [K, N] (or [N, K] with `tb`)
 * @returns C, row-major [M, N]
 * @example
 * ```ts
 * import { matmulRef } from "./matmul_webgpu.ts";
 * matmulRef(new Float32Array([1, 2]), new Float32Array([3, 4]), 1, 1, 2, false, true); // [11]
 * ```
 */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  ta = false,
  tb = false,
): Float32Array {
  const c = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[ta ? k * M + m : m * K + k] * b[tb ? n * K + k : k * N + n];
      c[m * N + n] = s;
    }
  }
  return c;
}

/**
 * op(a) · op(b) in the tiled kernel (webgpu backend only; no gradient — see `matmul.ts` for the differentiable
 * forms). `plan` overrides the automatic tile and split choice (benchmarks and tests).
 *
 * @param a [M, K], or [K, M] with `ta`
 * @param b [K, N], or [N, K] with `tb`
 * @returns [M, N]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { mmWebGPU } from "./matmul_webgpu.ts";
 * // on the webgpu backend:
 * // mmWebGPU(tf.ones([2, 3]), tf.ones([4, 3]), false, true) → [2, 4] of 3
 * ```
 */
export function mmWebGPU(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  ta = false,
  tb = false,
  plan?: MatmulPlan,
): tf.Tensor2D {
  requireWebGPU("mmWebGPU");
  const [M, N, K] = matmulSizes(a, b, ta, tb);
  if (M * N === 0) return tf.zeros([M, N]);
  if (K === 0) return tf.fill([M, N], 0) as tf.Tensor2D;
  const { tile: t, splits, kc } = plan ?? planMatmul(M, N, K);
  const p = [ta ? 1 : 0, tb ? 1 : 0, t.bm, t.bn, t.bk, t.tm, t.tn, M, N, K, kc, splits, t.unroll ? 1 : 0];
  const af = a.dtype === "float32" ? a : a.cast("float32");
  const bf = b.dtype === "float32" ? b : b.cast("float32");
  const out = KERNEL.run<tf.Tensor3D>({ A: af, B: bf }, { p });
  if (af !== a) af.dispose();
  if (bf !== b) bf.dispose();
  if (splits === 1) {
    const c = out.reshape([M, N]) as tf.Tensor2D;
    out.dispose();
    return c;
  }
  // tf.sum over axis 0 would transpose [S, M, N] to put the axis last, then reduce: two dispatches, not one.
  const c = SUM_KERNEL.run<tf.Tensor2D>({ P: out });
  out.dispose();
  return c;
}
