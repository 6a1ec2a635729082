import pl from "nodejs-polars";
import { assert, assertEquals, assertRejects } from "./assert.ts";
import {
  loadBabyLM,
  loadCorpus,
  loadFineWebEdu,
  loadWikitext2,
  splitLines,
  streamFineWebEdu,
} from "../src/data/corpora.ts";
import { DataError } from "../src/data/errors.ts";
import { HubClient } from "../src/data/hub.ts";

const SAMPLES = new URL("../data/samples/", import.meta.url).pathname;
const WT_LINES = [
  " = Valkyria Chronicles III = \n",
  "",
  " Senjō no Valkyria 3 : <unk> Chronicles \n",
  "",
  "\n",
];

async function tmp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "ssmlab_corpora_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function writeTextParquet(file: string, texts: string[]) {
  Deno.mkdirSync(file.replace(/\/[^/]+$/, ""), { recursive: true });
  pl.DataFrame({ text: texts }).writeParquet(file);
}

Deno.test("splitLines: HF style keeps '\\n' on non-blank lines and '' for blank ones", () => {
  assertEquals(splitLines("a\r\n\r\nb\n", { hfStyle: true }), ["a\n", "", "b\n"]);
  assertEquals(splitLines("a\n \nb"), ["a", " ", "b"]);
  assertEquals(splitLines(""), []);
});

Deno.test("wikitext2: polars parquet round trip (Hub layout in a local folder and via HubClient offline)", async () => {
  await tmp(async (dir) => {
    writeTextParquet(`${dir}/wikitext-2-raw-v1/test-00000-of-00001.parquet`, WT_LINES);
    const c = await loadWikitext2({ split: "test", dir });
    assertEquals(c.lines, WT_LINES);
    assertEquals(c.split, "test");
    assert(c.files[0].endsWith("test-00000-of-00001.parquet"));
    const hub = new HubClient({ offline: true, localDir: dir, cacheDir: `${dir}/cache` });
    assertEquals((await loadWikitext2({ split: "test", hub })).lines, WT_LINES);
    const viaRegistry = await loadCorpus("wikitext2", { split: "test", dir });
    assertEquals(viaRegistry.lines, WT_LINES);
  });
});

Deno.test("wikitext2: a truncated parquet gives a clear error naming the file", async () => {
  await tmp(async (dir) => {
    const f = `${dir}/wikitext-2-raw-v1/validation-00000-of-00001.parquet`;
    writeTextParquet(f, WT_LINES);
    const bytes = Deno.readFileSync(f);
    Deno.writeFileSync(f, bytes.slice(0, Math.floor(bytes.length / 2)));
    const e = await assertRejects(() => loadWikitext2({ split: "validation", dir }), DataError);
    assert(
      e.message.includes(f) && /corrupt or truncated/.test(e.message) && e.message.includes('"text"'),
      e.message,
    );
    // wrong column
    const g = `${dir}/train-00000-of-00001.parquet`;
    pl.DataFrame({ content: ["x"] }).writeParquet(g);
    const e2 = await assertRejects(() => loadWikitext2({ split: "train", dir }), DataError);
    assert(
      e2.message.includes(g) && e2.message.includes('no column "text"') && e2.message.includes('"content"'),
      e2.message,
    );
  });
});

Deno.test("wikitext2: plain-text files (shipped sample), missing files and bad names", async () => {
  const c = await loadWikitext2({ split: "test", dir: `${SAMPLES}wikitext-2` });
  assertEquals(c.lines.length, 167);
  assert(c.lines.every((l) => l.endsWith("\n") && !l.includes("\r")));
  assert(c.lines[0].startsWith(" = Robert Boulter ="));
  await tmp(async (dir) => {
    const e = await assertRejects(() => loadWikitext2({ split: "train", dir }), DataError);
    assert(e.message.includes(`${dir}/wiki.train.raw`) && e.message.includes("train.txt"), e.message);
    Deno.writeFileSync(`${dir}/valid.txt`, new Uint8Array([0x61, 0xff, 0xfe, 0x0a]));
    const e2 = await assertRejects(() => loadWikitext2({ split: "valid", dir }), DataError);
    assert(e2.message.includes("valid.txt") && e2.message.includes("UTF-8"), e2.message);
  });
  await assertRejects(() => loadWikitext2({ split: "dev" as "test" }), DataError, '"dev"');
  await assertRejects(() => loadWikitext2({ config: "wikitext-3" }), DataError, '"wikitext-3"');
  await assertRejects(() => loadCorpus("c4"), DataError, 'Unknown dataset "c4"');
});

Deno.test("babylm: per-source lines, proportional maxWords, .txt fallback, source filter", async () => {
  await tmp(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/childes.train`,
      "*MOT:\twhat's that ?\n\n*CHI:\tdoggy .\n*MOT:\tyes a doggy .\n",
    );
    await Deno.writeTextFile(
      `${dir}/gutenberg.train`,
      "one two three four\nfive six seven eight\nnine ten\n",
    );
    await Deno.writeTextFile(`${dir}/notes.md`, "ignored\n");
    const all = await loadBabyLM({ dir });
    assertEquals(Object.keys(all.bySource), ["childes", "gutenberg"]);
    assertEquals(all.bySource.childes, ["*MOT:\twhat's that ?", "*CHI:\tdoggy .", "*MOT:\tyes a doggy ."]);
    assertEquals(all.words, 12 + 10);
    const cut = await loadBabyLM({ dir, maxWords: 11 });
    assertEquals(cut.bySource.childes, ["*MOT:\twhat's that ?"]); // quota 6 words
    assertEquals(cut.bySource.gutenberg, ["one two three four"]); // quota 5 words
    assert(cut.words <= 11);
    const only = await loadBabyLM({ dir, sources: ["gutenberg"] });
    assertEquals(only.lines.length, 3);
    await assertRejects(() => loadBabyLM({ dir, sources: ["bnc"] }), DataError, '"bnc"');
    await assertRejects(() => loadBabyLM({ dir, split: "dev" }), DataError, "*.dev");
  });
  await tmp(async (dir) => {
    await Deno.writeTextFile(`${dir}/switchboard.txt`, "A.1: Uh, hi.\nB.2: Hello.\n");
    assertEquals((await loadBabyLM({ dir })).bySource.switchboard, ["A.1: Uh, hi.", "B.2: Hello."]);
  });
  const sample = await loadCorpus("babylm", { dir: `${SAMPLES}babylm` });
  assert(sample.bySource.gutenberg_children.some((l) => l.startsWith("Alice was beginning")));
  await assertRejects(() => loadBabyLM({ dir: "/nonexistent/babylm" }), DataError, '"/nonexistent/babylm"');
});

Deno.test("fineweb-edu: streams shards in order in slices, firstN across shards", async () => {
  await tmp(async (dir) => {
    writeTextParquet(`${dir}/sample/10BT/000_00000.parquet`, ["d0", "d1", "d2", "d3", "d4"]);
    writeTextParquet(`${dir}/sample/10BT/001_00000.parquet`, ["d5", "d6", "d7", "d8", "d9"]);
    const docs: string[] = [];
    for await (const d of streamFineWebEdu({ dir, firstN: 7, batchRows: 2 })) docs.push(d);
    assertEquals(docs, ["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
    const all = await loadFineWebEdu({ dir, firstN: 100, batchRows: 3 });
    assertEquals(all.lines.length, 10);
    const hub = new HubClient({ offline: true, localDir: dir, cacheDir: `${dir}/cache` });
    const viaHub = await loadCorpus("fineweb-edu", { hub, firstN: 6 });
    assertEquals(viaHub.lines, ["d0", "d1", "d2", "d3", "d4", "d5"]);
    await assertRejects(() => loadCorpus("fineweb-edu", { dir }), DataError, "firstN");
    // a truncated second shard fails only when reached, naming it
    const f = `${dir}/sample/10BT/001_00000.parquet`;
    Deno.writeFileSync(f, Deno.readFileSync(f).slice(0, 40));
    const seen: string[] = [];
    const e = await assertRejects(async () => {
      for await (const d of streamFineWebEdu({ dir })) seen.push(d);
    }, DataError);
    assertEquals(seen.length, 5);
    assert(e.message.includes("001_00000.parquet"), e.message);
  });
});

Deno.test("loaders: an empty file is an error naming the file, never 0 rows", async () => {
  await tmp(async (dir) => {
    await Deno.writeTextFile(`${dir}/wiki.valid.raw`, "");
    let e = await assertRejects(() => loadWikitext2({ split: "validation", dir }), DataError);
    assert(
      e.message.includes(`"${dir}/wiki.valid.raw" is empty`) && e.message.includes("WikiText"),
      e.message,
    );
    await Deno.writeTextFile(`${dir}/train.txt`, "\n \n\n");
    e = await assertRejects(() => loadWikitext2({ split: "train", dir }), DataError);
    assert(e.message.includes(`"${dir}/train.txt" has 3 line(s) or row(s), all blank`), e.message);
    writeTextParquet(`${dir}/wikitext-2-raw-v1/test-00000-of-00001.parquet`, []);
    e = await assertRejects(() => loadWikitext2({ split: "test", dir }), DataError);
    assert(e.message.includes('test-00000-of-00001.parquet" is empty'), e.message);
  });
  await tmp(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.train`, "one line\n");
    await Deno.writeTextFile(`${dir}/b.train`, "");
    const e = await assertRejects(() => loadBabyLM({ dir }), DataError);
    assert(e.message.includes(`"${dir}/b.train" is empty`) && e.message.includes("BabyLM"), e.message);
  });
});
