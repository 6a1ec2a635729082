/**
 * `ssmlab generate`: prompt → text from a checkpoint, with every sampling control of `src/eval/generate.ts`
 * (temperature, greedy, top-k, top-p, repetition penalty, no-repeat n-grams, context window, EOS stop, seed).
 *
 * @module
 */
import { initBackend } from "../backend.ts";
import { generate } from "../eval/generate.ts";
import { loadCheckpointModel } from "./checkpoint_model.ts";
import {
  BACKEND_OPTION,
  type CliOption,
  HELP_OPTION,
  helpText,
  parse,
  requireCkpt,
  TOKENIZER_OVERRIDE_OPTIONS,
  tokenizerOverride,
} from "./options.ts";

/** Options of `generate`. */
export const GENERATE_OPTIONS: Record<string, CliOption> = {
  ckpt: { type: "string", help: "Checkpoint folder, or a run folder with a `latest` pointer (required)." },
  prompt: { type: "string", value: "", help: "Text to continue (empty: start from the EOS id)." },
  max_new_tokens: { type: "int", min: 0, value: 50, help: "New tokens to generate at most." },
  temperature: { type: "number", min: 0, value: 1, help: "Softmax temperature (0 = greedy)." },
  greedy: { type: "boolean", value: false, help: "Take the most likely token instead of sampling." },
  top_k: { type: "int", min: 0, value: 0, help: "Keep the k most likely tokens (0 = off)." },
  top_p: {
    type: "number",
    min: 0,
    max: 1,
    minExclusive: true,
    value: 1,
    help: "Nucleus sampling: keep the smallest set with probability ≥ p (1 = off).",
  },
  repetition_penalty: {
    type: "number",
    min: 0,
    minExclusive: true,
    value: 1,
    help: "Hugging Face repetition penalty over prompt + output (1 = off).",
  },
  no_repeat_ngram_size: {
    type: "int",
    min: 0,
    value: 0,
    help: "Ban repeating any n-gram of this size (0 = off).",
  },
  context_length: { type: "int", min: 1, help: "Most positions fed per step (default: the model's maxLen)." },
  ignore_eos: { type: "boolean", value: false, help: "Keep generating after the EOS id." },
  seed: { type: "int", value: 0, help: "Seed of the sampling generator." },
  ...TOKENIZER_OVERRIDE_OPTIONS,
  backend: BACKEND_OPTION,
  help: HELP_OPTION,
};

/** Run `ssmlab generate` with its arguments; prints the prompt and its continuation. */
export async function runGenerate(argv: string[]): Promise<void> {
  const f = parse(argv, GENERATE_OPTIONS);
  if (f.help) {
    return console.log(
      helpText('ssmlab generate --ckpt RUN_OR_CHECKPOINT --prompt "TEXT" [options]', GENERATE_OPTIONS),
    );
  }
  requireCkpt(f);
  await initBackend({ backend: f.backend as string });
  const { model, tokenizer } = await loadCheckpointModel(f.ckpt as string, tokenizerOverride(f));
  try {
    const prompt = tokenizer.encode(f.prompt as string);
    if (prompt.length === 0) {
      if (tokenizer.eosId === null) {
        throw new Error(
          `Option --prompt is empty and tokenizer "${tokenizer.name}" has no EOS id to start from.`,
        );
      }
      prompt.push(tokenizer.eosId);
    }
    const ids = await generate(model, prompt, {
      maxNewTokens: f.max_new_tokens as number,
      temperature: f.temperature as number,
      greedy: f.greedy as boolean,
      topK: f.top_k as number,
      topP: f.top_p as number,
      repetitionPenalty: f.repetition_penalty as number,
      noRepeatNgramSize: f.no_repeat_ngram_size as number,
      contextLength: f.context_length as number | undefined,
      eosId: f.ignore_eos ? null : tokenizer.eosId,
      seed: f.seed as number,
    });
    console.log((f.prompt as string) + tokenizer.decode(ids.slice(prompt.length)));
  } finally {
    model.dispose();
  }
}
