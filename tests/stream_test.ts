/**
 * Streaming pretraining (`src/data/stream.ts`, `src/train/streaming.ts`): samples cut by line or paragraph across
 * chunk boundaries (CRLF, multi-byte characters), seek to a saved position, batches packed in order and resumed
 * exactly, the tokenizer trained on the start of the stream and saved beside the checkpoints, and a run stopped in
 * the middle of the stream then resumed equal to the uninterrupted run (cpu, bit for bit).
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import { StreamingBatchSource, TextSampleStream, trainTokenizerOnStream } from "../src/data/stream.ts";
import { pretrainStreaming } from "../src/train/streaming.ts";

const SAMPLE = "data/samples/babylm/gutenberg_children.train";

function all(s: TextSampleStream): string[] {
  const out: string[] = [];
  for (let t = s.next(); t !== null; t = s.next()) out.push(t);
  return out;
}

Deno.test("TextSampleStream: paragraphs and lines across tiny chunks, CRLF, multi-byte text; seek", async () => {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  await Deno.writeTextFile(path, "\r\nÉté au\r\nchâteau.\r\n\r\n\r\nSecond ☃ para\nends here\n\nlast");
  const para = new TextSampleStream(path, { chunkBytes: 5 });
  assertEquals(all(para), ["Été au château.", "Second ☃ para ends here", "last"]);
  const lines = new TextSampleStream(path, { unit: "line", chunkBytes: 3 });
  assertEquals(all(lines), ["Été au", "château.", "Second ☃ para", "ends here", "last"]);
  const s = new TextSampleStream(path, { unit: "line", chunkBytes: 4, maxSamples: 4 });
  s.next();
  s.next();
  const at = s.position;
  assertEquals(at.sample, 2);
  const rest = all(s);
  assertEquals(rest, ["Second ☃ para", "ends here"], "maxSamples stops after 4");
  s.seek(at);
  assertEquals(all(s), rest, "seek continues at the exact sample");
  assertThrows(
    () => new TextSampleStream("/no/such/file.txt"),
    Error,
    `Cannot open the corpus "/no/such/file.txt"`,
  );
  [para, lines, s].forEach((x) => x.close());
  await Deno.remove(path);
});

Deno.test("TextSampleStream: JSON lines (FineWeb-Edu rows) by their text field; bad rows named", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  await Deno.writeTextFile(
    path,
    '{"text": "First doc.\\nTwo lines."}\n\n{"text": "Second", "id": 2}\n{"id": 3}\n',
  );
  const s = new TextSampleStream(path, { unit: "jsonl", chunkBytes: 8 });
  assertEquals([s.next(), s.next()], ["First doc.\nTwo lines.", "Second"]);
  assertThrows(() => s.next(), Error, `sample 2 (the line before byte`);
  s.close();
  await Deno.writeTextFile(path, "not json\n");
  const t = new TextSampleStream(path, { unit: "jsonl" });
  assertThrows(() => t.next(), Error, "is not valid JSON");
  t.close();
  await Deno.remove(path);
});

Deno.test("StreamingBatchSource: contiguous packed rows, one epoch, exact resume from getState", () => {
  const tok = trainTokenizerOnStream(SAMPLE, { samples: 40, vocabSize: 300, unit: "line" });
  const make = () =>
    new StreamingBatchSource(new TextSampleStream(SAMPLE, { unit: "line", maxSamples: 30 }), tok, {
      batch: 3,
      seqLen: 8,
    });
  const a = make();
  const ids: number[] = [];
  const batches: Int32Array[] = [];
  let state: unknown = null;
  for (let b = a.next(); b !== null; b = a.next()) {
    for (let r = 0; r < b.batch; r++) {
      assertEquals(
        b.y[r * 8 + 7],
        r + 1 < b.batch ? b.x[(r + 1) * 8] : b.y[r * 8 + 7],
        "rows are contiguous",
      );
    }
    ids.push(...b.x);
    batches.push(b.x);
    if (batches.length === 2) state = a.getState();
  }
  assertEquals(a.epoch, 1, "one epoch ends with null");
  // the stream is the first 30 lines, tokenized, EOS after each
  const s = new TextSampleStream(SAMPLE, { unit: "line", maxSamples: 30 });
  const want = all(s).flatMap((t) => [...tok.encode(t), tok.eosId]);
  s.close();
  assertEquals(ids, want.slice(0, ids.length));
  assert(want.length - ids.length <= 3 * 8, "at most one batch of tokens left over");
  const b = make();
  b.setState(JSON.parse(JSON.stringify(state)));
  const rest: Int32Array[] = [];
  for (let x = b.next(); x !== null; x = b.next()) rest.push(x.x);
  assertEquals(rest.map((r) => Array.from(r)), batches.slice(2).map((r) => Array.from(r)));
  a.stream.close();
  b.stream.close();
});

Deno.test("[cpu] pretrainStreaming: tokenizer saved beside the checkpoints; stop mid-stream + resume = uninterrupted", async () => {
  await initBackend({ backend: "cpu" });
  const base = {
    corpus: SAMPLE,
    unit: "line" as const,
    maxSamples: 100,
    valSamples: 10,
    tokenizerSamples: 60,
    vocabSize: 300,
    model: {
      kind: "hssm",
      dim: 16,
      numBlocks: 1,
      dState: 4,
      dtRank: 2,
      numExperts: 4,
      expertDim: 16,
      maxLen: 16,
    },
    batch: 2,
    seqLen: 16,
    seed: 3,
  };
  const train = { lr: 3e-3, saveEvery: 3, evalEvery: 3, evalBatches: 2, progress: "none" as const };
  const dirA = await Deno.makeTempDir(), dirB = await Deno.makeTempDir();
  const a = await pretrainStreaming({ ...base, outDir: dirA, train: { ...train, steps: 6 } });
  const b1 = await pretrainStreaming({ ...base, outDir: dirB, train: { ...train, steps: 3 } });
  assert(
    b1.samplesRead > 0 && b1.samplesRead < 100,
    `stopped in the middle of the stream (${b1.samplesRead})`,
  );
  b1.model.dispose();
  const b = await pretrainStreaming({ ...base, outDir: dirB, train: { ...train, steps: 6 } });
  assertEquals(b.history.length, 6);
  assertEquals(b.samplesRead, a.samplesRead, "same stream position");
  for (const [k, v] of a.model.weights) {
    const x = v.dataSync(), y = b.model.weights.get(k)!.dataSync();
    assert(x.every((e, i) => e === y[i]), `weight ${k} differs after resume`);
  }
  assertEquals(
    await Deno.readTextFile(`${dirA}/tokenizer.json`),
    await Deno.readTextFile(`${dirB}/tokenizer.json`),
    "the tokenizer is trained on the start of the stream and saved in the run folder",
  );
  const routing = (await Deno.readTextFile(`${dirA}/routing.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assertEquals(routing.map((r) => r.step), [3, 6]);
  assertEquals(routing[0].load[0].length, 4, "expert-load histogram per block at each evaluation");
  a.model.dispose();
  b.model.dispose();
  await Deno.remove(dirA, { recursive: true });
  await Deno.remove(dirB, { recursive: true });
});
