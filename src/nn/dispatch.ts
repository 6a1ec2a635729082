/**
 * The one place that chooses how an op runs (tinygrad style: layers call the op; they never ask which backend is
 * active).
 *
 * An op with more than one implementation is made by {@linkcode defineOp} from up to four of them:
 *
 * - `ref` — the slow, obviously correct form (a loop over time, one slice per stream, …): the test oracle;
 * - `ops` — plain tf ops, any backend;
 * - `webgpu` — fused WGSL kernels (webgpu backend only);
 * - `host` — a loop over the tensors' host arrays (the host-memory backends cpu and wasm only).
 *
 * Which one runs is a scoped choice, {@linkcode withImpl}, read by {@linkcode currentImpl}:
 *
 * | choice | runs |
 * | --- | --- |
 * | `"fast"` (default) | `webgpu` on the webgpu backend, `host` on cpu and wasm, where the op has one; else `ops` |
 * | `"ops"` | `ops` (on webgpu: the tf-op form, to A/B a fused kernel against it) |
 * | `"ref"` | `ref` |
 *
 * An op whose only forms are a tf-op one and a fused one passes the tf-op form as both `ref` and `ops` (its doc
 * says so); an op whose slow loop is also its only tf form does the same.
 *
 * The choice is taken when an op runs forward; its gradient is the one of the implementation that ran, so
 * `tf.variableGrads(() => withImpl("ref", () => model.loss(x, y)))` is the reference forward and backward.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { diagScan } from "./scan.ts";
 * import { withImpl } from "./dispatch.ts";
 * const u = tf.ones([1, 3, 1]) as tf.Tensor3D, a = tf.tensor1d([0.5]), b = tf.tensor1d([1]);
 * const fast = diagScan(u, a, b); // host loop on cpu, fused kernel on webgpu
 * const ref = withImpl("ref", () => diagScan(u, a, b)); // the plain loop over t
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The implementation choices of {@linkcode withImpl}. */
export const IMPLS = ["fast", "ops", "ref"] as const;

/** `"fast"`: the fused or host kernel where there is one; `"ops"`: plain tf ops; `"ref"`: the slow reference. */
export type Impl = typeof IMPLS[number];

/** The forms one op may have; `ref` and `ops` are required (they may be the same function). */
export interface OpImpls<F> {
  /** The slow reference (test oracle). */
  ref: F;
  /** Plain tf ops, any backend. */
  ops: F;
  /** Fused WGSL kernels: the fast path on the webgpu backend. */
  webgpu?: F;
  /** A loop over host arrays: the fast path on the cpu and wasm backends. */
  host?: F;
}

/** Which form of an op runs. */
export type OpKernel = keyof OpImpls<unknown>;

/** An op made by {@linkcode defineOp}: callable as its implementations, with its name and forms attached. */
export type Op<F> = F & {
  /** The name given to {@linkcode defineOp} (for messages and tests). */
  readonly opName: string;
  /** Every form, to call one directly (benchmarks, tests). */
  readonly impls: Readonly<OpImpls<F>>;
  /** The form that a call would run now. */
  kernel(): OpKernel;
};

let current: Impl = "fast";

/** The current implementation choice (`"fast"` unless inside {@linkcode withImpl}). */
export function currentImpl(): Impl {
  return current;
}

function checkImpl(impl: unknown): asserts impl is Impl {
  if (!(IMPLS as readonly unknown[]).includes(impl)) {
    throw new Error(`withImpl: implementation "${impl}" is unknown, expected "fast", "ops" or "ref".`);
  }
}

/**
 * Run `fn` with the ops set to `impl`, then restore the previous choice (also when `fn` throws or its promise
 * rejects). Nestable. For an async `fn` the choice holds until its promise settles, for any code that runs
 * meanwhile too (one global choice, as `tf.tidy`'s scopes).
 *
 * @param impl `"fast"`, `"ops"` or `"ref"`
 * @param fn the work; its result (or promise) is returned
 * @example
 * ```ts
 * import { currentImpl, withImpl } from "./dispatch.ts";
 * withImpl("ref", () => currentImpl()); // "ref"
 * await withImpl("ops", async () => currentImpl()); // "ops"
 * ```
 */
export function withImpl<T>(impl: Impl, fn: () => T): T {
  checkImpl(impl);
  const prev = current;
  current = impl;
  let out: T;
  try {
    out = fn();
  } catch (e) {
    current = prev;
    throw e;
  }
  if (out instanceof Promise) return out.finally(() => (current = prev)) as T;
  current = prev;
  return out;
}

/** The active tfjs backend's name, or "" when none is set up. */
function backendName(): string {
  try {
    return tf.getBackend() ?? "";
  } catch {
    return "";
  }
}

/** Is the current tfjs backend webgpu? (Kernels check this before they run; layers use ops, not this.) */
export function webgpuBackendActive(): boolean {
  return backendName() === "webgpu";
}

/** The form of an op with forms `impls` that runs under the current choice and backend. */
export function chooseKernel(impls: OpImpls<unknown>): OpKernel {
  if (current !== "fast") return current;
  const be = backendName();
  if (be === "webgpu" && impls.webgpu) return "webgpu";
  if ((be === "cpu" || be === "wasm") && impls.host) return "host";
  return "ops";
}

/**
 * Does the fast path run fused WebGPU kernels now (choice `"fast"` on the webgpu backend)? For code outside the
 * op set with a fused form of its own (the AdamW update).
 */
export function fusedWebGPUActive(): boolean {
  return current === "fast" && webgpuBackendActive();
}

/**
 * Make an op that runs one of `impls` per call, as {@linkcode withImpl} and the backend choose.
 *
 * @param name the op's name
 * @param impls its forms (see {@linkcode OpImpls}); all take the same arguments
 * @returns the op
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { defineOp, withImpl } from "./dispatch.ts";
 * const double = defineOp("double", {
 *   ref: (x: tf.Tensor) => tf.add(x, x),
 *   ops: (x: tf.Tensor) => tf.mul(x, 2),
 * });
 * withImpl("ref", () => double(tf.ones([2]))); // [2, 2] by the reference
 * ```
 */
// deno-lint-ignore no-explicit-any
export function defineOp<F extends (...args: any[]) => any>(name: string, impls: OpImpls<F>): Op<F> {
  if (typeof impls.ref !== "function" || typeof impls.ops !== "function") {
    throw new Error(`defineOp: op "${name}" needs a "ref" and an "ops" implementation.`);
  }
  const forms = Object.freeze({ ...impls });
  const kernel = () => chooseKernel(forms);
  const op = (...args: Parameters<F>): ReturnType<F> => forms[kernel()]!(...args);
  return Object.assign(op, { opName: name, impls: forms, kernel }) as unknown as Op<F>;
}
