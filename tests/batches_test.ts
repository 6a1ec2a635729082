import { assert, assertEquals, assertNotEquals, assertRejects, assertThrows } from "./assert.ts";
import { BatchIterator, loadIds, PackedDataset, saveIds, tokenizeLines } from "../src/data/batches.ts";
import { DataError } from "../src/data/errors.ts";
import { Gpt2Tokenizer } from "../src/tokenizers/gpt2.ts";
import { AsciiTokenizer } from "../src/tokenizers/ascii.ts";
import type { Tokenizer } from "../src/tokenizers/types.ts";
import { epochBatches, toBatchSource } from "../src/train/batch_input.ts";
import type { Batch } from "../src/train/batch_source.ts";

Deno.test("tokenizeLines: each line separately, EOS after every line (blank line → lone EOS)", () => {
  const tok = new Gpt2Tokenizer();
  const lines = [" = Valkyria = \n", "", "Hello world"];
  const ids = tokenizeLines(lines, tok);
  const expected = [...tok.encode(lines[0]), 50256, 50256, 15496, 995, 50256];
  assertEquals(Array.from(ids), expected);
  assert(ids instanceof Int32Array);
  assertEquals(Array.from(tokenizeLines(lines, tok, { eos: false })), expected.filter((i) => i !== 50256));
  const u16 = tokenizeLines(lines, tok, { dtype: "uint16" });
  assert(u16 instanceof Uint16Array);
  assertEquals(Array.from(u16), expected);
  assertEquals(Array.from(tokenizeLines(["Hi", "!"], new AsciiTokenizer())), [72, 105, 0, 33, 0]);
  const noEos: Tokenizer = { name: "x", vocabSize: 70000, eosId: null, encode: () => [1], decode: () => "" };
  assertThrows(() => tokenizeLines(["a"], noEos), DataError, "no EOS");
  assertThrows(() => tokenizeLines(["a"], noEos, { eos: false, dtype: "uint16" }), DataError, "uint16");
});

Deno.test("PackedDataset: n_seq = floor((N-1)/T), x/y shifted by one", () => {
  const ids = Int32Array.from({ length: 11 }, (_, i) => i);
  const ds = new PackedDataset(ids, 3);
  assertEquals(ds.length, 3); // floor(10/3)
  assertEquals(Array.from(ds.get(0).x), [0, 1, 2]);
  assertEquals(Array.from(ds.get(0).y), [1, 2, 3]);
  assertEquals(Array.from(ds.get(2).x), [6, 7, 8]);
  assertEquals(Array.from(ds.get(2).y), [7, 8, 9]);
  assertEquals(new PackedDataset(Int32Array.from([1, 2, 3, 4]), 3).length, 1);
  assertEquals(new PackedDataset(Int32Array.from([1, 2, 3]), 3).length, 0);
  assertThrows(() => ds.get(3), DataError, '"3"');
  const { x, y } = ds.gather([2, 0]);
  assertEquals(Array.from(x), [6, 7, 8, 0, 1, 2]);
  assertEquals(Array.from(y), [7, 8, 9, 1, 2, 3]);
});

Deno.test("BatchIterator: val keeps the last partial batch, train drops it and shuffles per epoch", () => {
  const ds = new PackedDataset(Int32Array.from({ length: 10 * 4 + 1 }, (_, i) => i), 4); // 10 sequences
  const val = new BatchIterator(ds, { batchSize: 4 });
  const vb = [...val.epoch()];
  assertEquals(vb.map((b) => b.batchSize), [4, 4, 2]);
  assertEquals(Array.from(vb[2].indices), [8, 9]);
  assertEquals(val.position, { epoch: 1, index: 0 });

  const train = new BatchIterator(ds, { batchSize: 4, shuffle: true, dropLast: true, seed: 1337 });
  assertEquals(train.batchesPerEpoch, 2);
  const e0 = [...train.epoch()];
  const e1 = [...train.epoch()];
  assertEquals(e0.length, 2);
  const seen0 = e0.flatMap((b) => Array.from(b.indices));
  assertEquals(new Set(seen0).size, 8);
  assertNotEquals(seen0, [0, 1, 2, 3, 4, 5, 6, 7]);
  assertNotEquals(e1.flatMap((b) => Array.from(b.indices)), seen0);
  // rows are the dataset items
  const r = e0[0].indices[1];
  assertEquals(Array.from(e0[0].x.subarray(4, 8)), Array.from(ds.get(r).x));
  // same seed → same order; different seed → different order
  const again = new BatchIterator(ds, { batchSize: 4, shuffle: true, dropLast: true, seed: 1337 });
  assertEquals(Array.from(again.next().indices), Array.from(e0[0].indices));
  const other = new BatchIterator(ds, { batchSize: 4, shuffle: true, dropLast: true, seed: 7 });
  assertNotEquals([...other.epoch()].flatMap((b) => Array.from(b.indices)), seen0);
});

Deno.test("BatchIterator: resume from a serialised {epoch, index}", () => {
  const ds = new PackedDataset(Int32Array.from({ length: 50 * 2 + 1 }, (_, i) => i % 97), 2);
  const opts = { batchSize: 8, shuffle: true, dropLast: true, seed: 42 };
  const a = new BatchIterator(ds, opts);
  const seq: number[][] = [];
  for (let i = 0; i < 15; i++) seq.push(Array.from(a.next().indices));
  const b = new BatchIterator(ds, opts);
  for (let i = 0; i < 9; i++) b.next();
  const saved = JSON.parse(JSON.stringify(b.position));
  assertEquals(saved, { epoch: 1, index: 3 }); // 6 batches per epoch
  const c = new BatchIterator(ds, { ...opts, position: saved });
  for (let i = 9; i < 15; i++) assertEquals(Array.from(c.next().indices), seq[i]);
  assertThrows(
    () => new BatchIterator(ds, { ...opts, position: { epoch: 0, index: 99 } }),
    DataError,
    "Invalid batch position",
  );
  const tiny = new BatchIterator(new PackedDataset(new Int32Array(5), 2), { batchSize: 4, dropLast: true });
  assertThrows(() => tiny.next(), DataError, "No batch can be made");
});

Deno.test("saveIds/loadIds: uint16 round trip, range and truncation errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssmlab_ids_" });
  try {
    const p = `${dir}/val.bin`;
    const ids = Int32Array.from([0, 1, 50256, 65535, 7]);
    await saveIds(p, ids);
    assertEquals(Deno.statSync(p).size, 10);
    assertEquals(Array.from(await loadIds(p)), Array.from(ids));
    await assertRejects(() => saveIds(p, [1, 70000]), DataError, '"70000"');
    Deno.writeFileSync(`${dir}/odd.bin`, new Uint8Array(3));
    await assertRejects(() => loadIds(`${dir}/odd.bin`), DataError, "multiple of 2");
    await assertRejects(() => loadIds(`${dir}/missing.bin`), DataError, "missing.bin");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("one batch type: BatchIterator batches carry `batch`; the source adapters end epochs and resume", async () => {
  const ds = new PackedDataset(Int32Array.from({ length: 31 }, (_, i) => i), 3); // 10 sequences
  const it = new BatchIterator(ds, { batchSize: 4 }); // 4, 4, 2
  const b = it.next();
  assertEquals([b.batch, b.batchSize, b.seqLen], [4, 4, 3]);
  // a BatchIterator as a BatchSource: null once at each epoch end, resumable from its state
  const src = toBatchSource(new BatchIterator(ds, { batchSize: 4 }), "data");
  const sizes = () => {
    const out: (number | null)[] = [];
    for (let i = 0; i < 5; i++) out.push((src.next() as Batch | null)?.batch ?? null);
    return out;
  };
  assertEquals(sizes(), [4, 4, 2, null, 4]);
  assertEquals(src.epoch, 1);
  const saved = structuredClone(src.getState());
  const after = sizes();
  const again = toBatchSource(new BatchIterator(ds, { batchSize: 4 }), "data");
  again.setState(saved);
  assertEquals([again.epoch, ...[0, 1, 2, 3, 4].map(() => (again.next() as Batch | null)?.batch ?? null)], [
    1,
    ...after,
  ]);
  assertEquals(again.length, 3);
  // an array: one pass per epoch; its state is { epoch, cursor }
  const arr = [...new BatchIterator(ds, { batchSize: 4 }).epoch()];
  const a = toBatchSource(arr, "data");
  assertEquals([a.next(), a.next(), a.next(), a.next(), a.epoch], [arr[0], arr[1], arr[2], null, 1]);
  a.next();
  const a2 = toBatchSource(arr, "data");
  a2.setState(a.getState());
  assertEquals(a2.next(), arr[1]);
  // an async generator
  const g = toBatchSource(
    (async function* () {
      yield { x: Int32Array.of(1), y: Int32Array.of(2), batchSize: 1, seqLen: 1 };
    })(),
    "data",
  );
  assertEquals(await g.next(), { x: Int32Array.of(1), y: Int32Array.of(2), batch: 1, seqLen: 1 });
  assertEquals(await g.next(), null);
  // what is not a source, and a batch without a row count
  assertThrows(
    () => toBatchSource(42 as never, "train: `data`"),
    Error,
    "train: `data` is not a source of batches",
  );
  const noRows = toBatchSource([{ x: Int32Array.of(1), y: Int32Array.of(2), seqLen: 1 }], "data");
  assertThrows(
    () => noRows.next(),
    Error,
    `Batch 0 of epoch 0 has no row count: expected a number in "batch"`,
  );
  const collected: Batch[] = [];
  for await (const x of epochBatches(new BatchIterator(ds, { batchSize: 4 }), "data")) collected.push(x);
  assertEquals(collected.map((x) => x.batch), [4, 4, 2]);
  await assertRejects(
    async () => {
      for await (
        const _ of epochBatches(
          [{ x: Int32Array.of(1), y: Int32Array.of(2, 3), batch: 1, seqLen: 1 }],
          "valid",
        )
      ) {
        // consumed
      }
    },
    Error,
    `Batch 0 of valid holds "1" inputs and "2" targets`,
  );
});
