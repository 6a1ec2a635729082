/**
 * The read-out and gate of the SimpleSSM block (docs/models/baseline.md, step 6): y = (s ⊙ c + u ⊙ D) ⊙ σ(g),
 * fused on webgpu.
 *
 * As tf ops this is five dispatches forward and about fourteen backward (the products, the sigmoid and its
 * gradient, and two sums over the rows for c and D). {@linkcode ssmGate} on webgpu runs one WGSL kernel forward and
 * five backward: three element-wise (ds, du, dg) and two row sums that form their products on the fly (dc, dD).
 * {@linkcode ssmGateRef} is the tf-op form: the reference, and {@linkcode ssmGate}'s `ref` and `ops` forms
 * (`dispatch.ts`); {@linkcode ssmGateWebGPU} is its `webgpu` form.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type CustomFn,
  elementwiseProgram,
  requireWebGPU,
  webgpuKernel,
  webgpuProgram,
} from "./webgpu_kernel.ts";
import { defineOp, type Op } from "./dispatch.ts";
import { columnSumCode, columnSumLaunch } from "./reduce_webgpu.ts";

/**
 * The tf-op form: (s ⊙ c + u ⊙ D) ⊙ σ(g).
 * @param s [B, T, d] scan output
 * @param u [B, T, d] scan input
 * @param g [B, T, d] gate pre-activation
 * @param c [d]
 * @param dSkip [d] (D)
 * @returns [B, T, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ssmGateRef } from "./ssm_gate.ts";
 * const y = ssmGateRef(tf.ones([1, 2, 3]), tf.ones([1, 2, 3]), tf.zeros([1, 2, 3]), tf.ones([3]), tf.ones([3])); // 1
 * ```
 */
export function ssmGateRef(
  s: tf.Tensor,
  u: tf.Tensor,
  g: tf.Tensor,
  c: tf.Tensor,
  dSkip: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.add(tf.mul(s, c), tf.mul(u, dSkip)), tf.sigmoid(g)));
}

/** Element-wise kernels over [R, d]: inputs S, U, G, C, Dk (, Dy); `what` is the value written. */
function ewCode(what: string, withDy: boolean): string {
  return `
  fn main(index : i32) {
    let d = uniforms.cShape;
    _ = S[0]; _ = U[0]; _ = G[0]; _ = C[0]; _ = Dk[0];${withDy ? " _ = Dy[0];" : ""}
    if (index >= uniforms.sShape.x * d) { return; }
    let j = index % d;
    let sg = 1.0 / (1.0 + exp(-G[index]));
    ${what}
  }
`;
}

const FWD_CODE = ewCode("result[index] = (S[index] * C[j] + U[index] * Dk[j]) * sg;", false);
/** which = 0: ds = dy σ c; 1: du = dy σ D; 2: dg = dy (s c + u D) σ (1 − σ). */
const GRAD_CODES = [
  ewCode("result[index] = Dy[index] * sg * C[j];", true),
  ewCode("result[index] = Dy[index] * sg * Dk[j];", true),
  ewCode("result[index] = Dy[index] * (S[index] * C[j] + U[index] * Dk[j]) * sg * (1.0 - sg);", true),
];

/** Row sums of dy σ(g) ⊙ X (X = S for dc, U for dD): [d]. */
const PARAM_GRAD_CODE = columnSumCode(
  "uniforms.xShape.x",
  "uniforms.xShape.y",
  "Dy[i] * X[i] / (1.0 + exp(-G[i]))",
  "_ = Dy[0]; _ = G[0];",
);

const EW = ["S", "U", "G", "C", "Dk"];
const FWD = webgpuKernel(
  "SsmlabSsmGate",
  EW,
  ([s]) => elementwiseProgram("ssm_gate", EW, s.shape, FWD_CODE),
);
const GRAD = webgpuKernel("SsmlabSsmGateGrad", [...EW, "Dy"], ([s], attrs) => {
  const which = attrs.which as number;
  return elementwiseProgram(`ssm_gate_grad_${which}`, [...EW, "Dy"], s.shape, GRAD_CODES[which]);
});
const PARAM_GRAD = webgpuKernel("SsmlabSsmGateParamGrad", ["Dy", "G", "X"], ([, , x]) => {
  const { workgroups, lanes } = columnSumLaunch(x.shape[1]);
  return webgpuProgram(
    "ssm_gate_param_grad",
    ["Dy", "G", "X"],
    [x.shape[1]],
    workgroups,
    lanes,
    PARAM_GRAD_CODE,
  );
});

/**
 * (s ⊙ c + u ⊙ D) ⊙ σ(g) by the fused kernels (webgpu backend only), with gradients in all five inputs; the
 * values and gradients of {@linkcode ssmGateRef}. Prefer {@linkcode ssmGate}.
 * @param s [B, T, d]
 * @param u [B, T, d]
 * @param g [B, T, d]
 * @param c [d]
 * @param dSkip [d]
 * @returns [B, T, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ssmGateWebGPU } from "./ssm_gate.ts";
 * // on webgpu (all 1):
 * // ssmGateWebGPU(tf.ones([1, 2, 3]), tf.ones([1, 2, 3]), tf.zeros([1, 2, 3]), tf.ones([3]), tf.ones([3]));
 * ```
 */
export const ssmGateWebGPU: typeof ssmGateRef = (s, u, g, c, dSkip) => {
  requireWebGPU("ssmGateWebGPU");
  const shape = s.shape;
  const d = shape[shape.length - 1];
  const R = s.size / d;
  const f = tf.customGrad(
    ((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [s2, u2, g2] = (args.slice(0, 3) as tf.Tensor[]).map((t) => t.reshape([R, d]));
      const [cc, dk] = args.slice(3, 5) as tf.Tensor[];
      const save = args[5] as tf.GradSaveFunc;
      save([s2, u2, g2, cc, dk]);
      const y = FWD.run({ S: s2, U: u2, G: g2, C: cc, Dk: dk });
      return {
        value: y.reshape(shape),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [ss, us, gs, cs, ds] = saved;
          return tf.tidy(() => {
            const dy2 = dy.reshape([R, d]);
            const ins = { S: ss, U: us, G: gs, C: cs, Dk: ds, Dy: dy2 };
            const [dS, dU, dG] = [0, 1, 2].map((which) => GRAD.run(ins, { which }).reshape(shape));
            const dC = PARAM_GRAD.run({ Dy: dy2, G: gs, X: ss });
            const dD = PARAM_GRAD.run({ Dy: dy2, G: gs, X: us });
            return [dS, dU, dG, dC, dD];
          });
        },
      };
    }) as unknown as CustomFn,
  );
  return f(s, u, g, c, dSkip) as tf.Tensor;
};

/**
 * (s ⊙ c + u ⊙ D) ⊙ σ(g) with gradients in all five inputs. Forms (`dispatch.ts`): `webgpu`
 * {@linkcode ssmGateWebGPU}; `ref` and `ops` {@linkcode ssmGateRef} (the tf-op form is also the reference).
 * @param s [B, T, d]
 * @param u [B, T, d]
 * @param g [B, T, d]
 * @param c [d]
 * @param dSkip [d]
 * @returns [B, T, d]
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { ssmGate } from "./ssm_gate.ts";
 * const y = ssmGate(tf.ones([1, 2, 3]), tf.ones([1, 2, 3]), tf.zeros([1, 2, 3]), tf.ones([3]), tf.ones([3])); // 1
 * ```
 */
export const ssmGate: Op<typeof ssmGateRef> = defineOp("ssmGate", {
  ref: ssmGateRef,
  ops: ssmGateRef,
  webgpu: ssmGateWebGPU,
});
