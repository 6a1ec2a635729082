import * as tf from "@tensorflow/tfjs";
import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "./assert.ts";
import { initBackend } from "../src/backend.ts";
import {
  assignVariables,
  decodeSafetensors,
  encodeSafetensors,
  loadSafetensors,
  type SafeTensor,
  saveSafetensors,
  tensorsFromVariables,
} from "../src/train/safetensors.ts";

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** Expected bytes, built by hand: F32 tensor "a" = [1, −2]. */
function fixtureA(): Uint8Array {
  const json = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`; // 54 bytes
  assertEquals(json.length, 54);
  return new Uint8Array([
    56,
    0,
    0,
    0,
    0,
    0,
    0,
    0, // header length: 54 + 2 spaces → 8 + 56 = 64, a multiple of 8
    ...ascii(json),
    0x20,
    0x20,
    0x00,
    0x00,
    0x80,
    0x3f, // 1.0f little-endian
    0x00,
    0x00,
    0x00,
    0xc0, // -2.0f
  ]);
}

/** Metadata first, then an I32 [1, 1] tensor = 258. */
function fixtureB(): Uint8Array {
  const json = `{"__metadata__":{"k":"v"},"i":{"dtype":"I32","shape":[1,1],"data_offsets":[0,4]}}`; // 81 bytes
  assertEquals(json.length, 81);
  return new Uint8Array([
    88,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...ascii(json),
    ...ascii("       "),
    0x02,
    0x01,
    0x00,
    0x00,
  ]);
}

Deno.test("safetensors: encoder reproduces hand-built bytes exactly", () => {
  const a = encodeSafetensors(new Map([["a", { data: new Float32Array([1, -2]), shape: [2] }]]));
  assertEquals(a, fixtureA());
  assertEquals(a.length % 8, 0);
  const b = encodeSafetensors(new Map([["i", { data: new Int32Array([258]), shape: [1, 1] }]]), { k: "v" });
  assertEquals(b, fixtureB());
});

Deno.test("safetensors: decoder reads hand-built bytes", () => {
  const a = decodeSafetensors(fixtureA());
  assertEquals([...a.tensors.keys()], ["a"]);
  assertEquals(a.tensors.get("a")!.data, new Float32Array([1, -2]));
  assertEquals(a.tensors.get("a")!.dtype, "F32");
  assertEquals(a.metadata, {});
  const b = decodeSafetensors(fixtureB());
  assertEquals(b.tensors.get("i")!.data, new Int32Array([258]));
  assertEquals(b.tensors.get("i")!.shape, [1, 1]);
  assertEquals(b.metadata, { k: "v" });
  // F16 / BF16 (as PyTorch may write) widen to float32
  const json =
    `{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"bf":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]}}`;
  const pad = (8 - ((8 + json.length) % 8)) % 8;
  const bytes = new Uint8Array([
    json.length + pad,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...ascii(json + " ".repeat(pad)),
    0x00,
    0x3c,
    0x00,
    0xc0,
    0x80,
    0x3f,
  ]);
  const h = decodeSafetensors(bytes);
  assertEquals(h.tensors.get("h")!.data, new Float32Array([1, -2]));
  assertEquals(h.tensors.get("bf")!.data, new Float32Array([1]));
});

Deno.test("safetensors: round trip of every writable dtype, empty and scalar tensors", () => {
  const t = new Map<string, SafeTensor>([
    ["f32", { data: new Float32Array([0.1, -3.5, 1e-30, 7]), shape: [2, 2] }],
    ["i32", { data: new Int32Array([-1, 2 ** 31 - 1, 5]), shape: [3] }],
    ["f64", { data: new Float64Array([Math.PI]), shape: [] }],
    ["i64", { data: new BigInt64Array([-5n, 2n ** 40n]), shape: [2] }],
    ["i16", { data: new Int16Array([-300, 300]), shape: [2, 1] }],
    ["i8", { data: new Int8Array([-7]), shape: [1] }],
    ["u8", { data: new Uint8Array([255, 0, 1]), shape: [3] }],
    ["empty", { data: new Float32Array(0), shape: [0, 4] }],
  ]);
  const bytes = encodeSafetensors(t, { format: "pt", note: "héllo" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals((8 + n) % 8, 0, "data section starts 8-aligned");
  assertEquals(bytes[8 + n - 1], 0x20, "padded with spaces");
  const back = decodeSafetensors(bytes);
  assertEquals([...back.tensors.keys()], [...t.keys()], "order kept");
  for (const [k, v] of t) {
    assertEquals(back.tensors.get(k)!.data, v.data, k);
    assertEquals(back.tensors.get(k)!.shape, v.shape, k);
  }
  assertEquals(back.metadata, { format: "pt", note: "héllo" });
  // a subarray view (non-zero byteOffset) is written correctly
  const big = new Float32Array([9, 1, 2, 9]);
  const v = decodeSafetensors(encodeSafetensors(new Map([["s", { data: big.subarray(1, 3), shape: [2] }]])));
  assertEquals(v.tensors.get("s")!.data, new Float32Array([1, 2]));
  assertThrows(
    () => encodeSafetensors(new Map([["bad", { data: new Float32Array(3), shape: [2, 2] }]])),
    Error,
    `"bad" has 12 bytes but shape [2,2]`,
  );
});

Deno.test("safetensors: corrupt and truncated files give errors naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir();
  const good = fixtureA();
  const cases: [string, Uint8Array, string][] = [
    ["short", good.slice(0, 5), "fewer than the 8-byte header length"],
    ["trunc-header", good.slice(0, 30), "the header says 56 bytes of JSON but the file has only 22"],
    ["trunc-data", good.slice(0, 68), `tensor "a" ends at data byte 8 but the file has only 4 data bytes`],
    ["trailing", new Uint8Array([...good, 0, 0, 0, 0]), "trailing bytes"],
    [
      "huge",
      (() => {
        const b = good.slice();
        b[5] = 1; // 2^40 + 56
        return b;
      })(),
      "larger than",
    ],
    [
      "badjson",
      (() => {
        const b = good.slice();
        b[8] = 0x5b; // "[" … not an object / invalid
        return b;
      })(),
      "not valid JSON",
    ],
  ];
  const mk = (json: string, data: number[]) => {
    const pad = (8 - ((8 + json.length) % 8)) % 8;
    return new Uint8Array([
      json.length + pad,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      ...ascii(json + " ".repeat(pad)),
      ...data,
    ]);
  };
  cases.push([
    "dtype",
    mk(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, [0, 0, 0, 0]),
    `unsupported dtype "Q7"`,
  ]);
  cases.push([
    "shape",
    mk(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, [0, 0, 0, 0]),
    "spans 4 bytes but shape [2]",
  ]);
  cases.push([
    "gap",
    mk(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, [0, 0, 0, 0, 0, 0, 0, 0]),
    "starts at data byte 4, expected 0",
  ]);
  for (const [name, bytes, msg] of cases) {
    const p = `${dir}/${name}.safetensors`;
    await Deno.writeFile(p, bytes);
    const e = await assertRejects(() => loadSafetensors(p), Error, msg);
    assertStringIncludes(e.message, p, name);
  }
  await assertRejects(() => loadSafetensors(`${dir}/missing.safetensors`), Error, "does not exist");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("safetensors: atomic save leaves no temp files and replaces the old file", async () => {
  const dir = await Deno.makeTempDir();
  const p = `${dir}/w.safetensors`;
  await saveSafetensors(p, new Map([["a", { data: new Float32Array([1]), shape: [1] }]]));
  await saveSafetensors(p, new Map([["a", { data: new Float32Array([1, -2]), shape: [2] }]]));
  assertEquals(await Deno.readFile(p), fixtureA());
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  assertEquals(names, ["w.safetensors"]);
  await Deno.remove(dir, { recursive: true });
});

for (const backend of ["cpu", "wasm"]) {
  Deno.test(`[${backend}] safetensors ↔ tf.Variables`, async () => {
    await initBackend({ backend });
    const w = new Map<string, tf.Variable>([
      ["x.weight", tf.variable(tf.tensor2d([[1, 2, 3], [4, 5, 6]]), true, `st_${backend}_x`)],
      ["x.count", tf.variable(tf.tensor1d([3, -4], "int32"), false, `st_${backend}_c`)],
    ]);
    const n0 = tf.memory().numTensors;
    const t = await tensorsFromVariables(w);
    assertEquals(t.get("x.weight")!.data, new Float32Array([1, 2, 3, 4, 5, 6]));
    assertEquals(t.get("x.count")!.data, new Int32Array([3, -4]));
    const back = decodeSafetensors(encodeSafetensors(t)).tensors;
    (back.get("x.weight")!.data as Float32Array)[0] = 42;
    assignVariables(w, back);
    assertEquals(w.get("x.weight")!.dataSync()[0], 42);
    assertEquals(w.get("x.count")!.dtype, "int32");
    assertEquals(tf.memory().numTensors, n0, "no leak");
    // every problem listed, nothing assigned
    const wrong = new Map<string, SafeTensor>([
      ["x.weight", { data: new Float32Array(6), shape: [3, 2] }],
      ["y.extra", { data: new Float32Array(1), shape: [1] }],
    ]);
    const e = assertThrows(() => assignVariables(w, wrong, { source: "m.safetensors" }));
    for (
      const s of [
        `missing "x.count"`,
        `unexpected "y.extra"`,
        `"x.weight" is [3,2] in the file but [2,3]`,
        "m.safetensors",
      ]
    ) {
      assertStringIncludes(e.message, s);
    }
    assertEquals(w.get("x.weight")!.dataSync()[0], 42, "unchanged after a failed load");
    assert(
      assignVariables(w, new Map([["x.weight", back.get("x.weight")!]]), { strict: false }).length === 1,
    );
    for (const v of w.values()) v.dispose();
  });
}
