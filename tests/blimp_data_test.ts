import pl from "nodejs-polars";
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import {
  BLIMP_PARADIGMS,
  BLIMP_PHENOMENA,
  BLIMP_UIDS,
  groupBlimpByParadigm,
  loadBlimp,
  parseBlimpJsonl,
  phenomenonOf,
} from "../src/data/blimp.ts";
import { DataError } from "../src/data/errors.ts";
import { loadCorpus } from "../src/data/corpora.ts";

const SAMPLES = new URL("../data/samples/blimp", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("blimp: the 12 phenomena cover the 67 paradigms once", () => {
  assertEquals(Object.keys(BLIMP_PHENOMENA).length, 12);
  assertEquals(BLIMP_PARADIGMS.length, 67);
  assertEquals(new Set(BLIMP_PARADIGMS).size, 67);
  assertEquals([...BLIMP_UIDS].sort(), [...BLIMP_PARADIGMS]);
  assertEquals(phenomenonOf("animate_subject_trans", "s-selection"), "argument_structure");
  assertEquals(phenomenonOf("new_paradigm", "s-selection"), "argument_structure");
  assertEquals(phenomenonOf("wh_island"), "island_effects");
});

Deno.test("blimp: original jsonl sample (string pairID, syntax/semantics field)", async () => {
  const pairs = await loadBlimp({ dir: SAMPLES });
  assertEquals(pairs.length, 150);
  const by = groupBlimpByParadigm(pairs);
  assertEquals([...by.keys()], ["adjunct_island", "determiner_noun_agreement_1", "principle_A_case_2"]);
  const p = by.get("adjunct_island")![0];
  assertEquals(p, {
    uid: "adjunct_island",
    field: "syntax",
    linguisticsTerm: "island_effects",
    phenomenon: "island_effects",
    pairId: 0,
    good: "Who should Derek hug after shocking Richard?",
    bad: "Who should Derek hug Richard after shocking?",
  });
  assertEquals(by.get("principle_A_case_2")![0].field, "syntax/semantics");
  assertEquals(by.get("determiner_noun_agreement_1")![49].pairId, 49);
  const some = await loadCorpus("blimp", {
    dir: SAMPLES,
    paradigms: ["principle_A_case_2"],
    maxPairsPerParadigm: 5,
  });
  assertEquals(some.length, 5);
  await assertRejects(() => loadBlimp({ dir: SAMPLES, paradigms: ["nope"] }), DataError, '"nope"');
});

Deno.test("blimp: filtered jsonl with int pair_id and syntax_semantics", () => {
  const pairs = parseBlimpJsonl(
    Deno.readTextFileSync(`${FIXTURES}blimp_filtered_sample.jsonl`),
    "x/anaphor_gender_agreement.jsonl",
  );
  assertEquals(pairs.map((p) => p.pairId), [0, 2, 5]);
  assertEquals(pairs[0].field, "syntax/semantics");
  assertEquals(pairs[0].phenomenon, "anaphor_agreement");
});

Deno.test("blimp: a malformed jsonl line names the file, line number and field", async () => {
  const f = `${FIXTURES}blimp_malformed.jsonl`;
  const e = await assertRejects(
    () => loadBlimp({ dir: FIXTURES, paradigms: ["blimp_malformed"] }),
    DataError,
  );
  assert(
    e.message.includes(f) && e.message.includes("line 3") && e.message.includes('"sentence_bad"'),
    e.message,
  );
  assertEquals((e as DataError).line, 3);
  const e2 = assertThrows(
    () => parseBlimpJsonl('{"sentence_good":"a","sentence_bad":"b","pairID":"0"}\n{oops\n', "bad.jsonl"),
    DataError,
  );
  assert(e2.message.includes('"bad.jsonl" line 2') && e2.message.includes("not valid JSON"), e2.message);
  const e3 = assertThrows(
    () => parseBlimpJsonl('{"sentence_good":"a","sentence_bad":"b","pairID":"x1"}\n', "c.jsonl"),
    DataError,
  );
  assert(
    e3.message.includes("line 1") && e3.message.includes('"pairID"') && e3.message.includes('"x1"'),
    e3.message,
  );
});

Deno.test("blimp: an empty jsonl or parquet file is an error naming the file, never 0 pairs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssmlab_blimp_" });
  try {
    await Deno.writeTextFile(`${dir}/anaphor_gender_agreement.jsonl`, "");
    let e = await assertRejects(() => loadBlimp({ dir }), DataError);
    assert(e.message.includes(`"${dir}/anaphor_gender_agreement.jsonl" is empty`), e.message);
    await Deno.writeTextFile(`${dir}/anaphor_gender_agreement.jsonl`, "\n\n");
    e = await assertRejects(() => loadBlimp({ dir }), DataError);
    assert(e.message.includes("all blank") && e.message.includes("BLiMP jsonl"), e.message);
    await Deno.remove(`${dir}/anaphor_gender_agreement.jsonl`);
    Deno.mkdirSync(`${dir}/wh_island`);
    const f = `${dir}/wh_island/train-00000-of-00001.parquet`;
    pl.DataFrame([pl.Series("sentence_good", [], pl.Utf8), pl.Series("sentence_bad", [], pl.Utf8)])
      .writeParquet(f);
    e = await assertRejects(() => loadBlimp({ dir }), DataError);
    assert(e.message.includes(`"${f}" is empty`), e.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("blimp: Hub parquet layout (one folder per paradigm), truncated file error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ssmlab_blimp_" });
  try {
    Deno.mkdirSync(`${dir}/wh_island`);
    const df = pl.DataFrame([
      pl.Series("sentence_good", ["What had Pam known?", "Who has Ann hidden?"]),
      pl.Series("sentence_bad", ["What had Pam known who?", "Who has Ann hidden where?"]),
      pl.Series("field", ["syntax", "syntax"]),
      pl.Series("linguistics_term", ["island_effects", "island_effects"]),
      pl.Series("UID", ["wh_island", "wh_island"]),
      pl.Series("pair_id", [0, 1], pl.Int32),
    ]);
    df.writeParquet(`${dir}/wh_island/train-00000-of-00001.parquet`);
    const pairs = await loadBlimp({ dir });
    assertEquals(pairs.map((p) => [p.uid, p.pairId, p.phenomenon]), [["wh_island", 0, "island_effects"], [
      "wh_island",
      1,
      "island_effects",
    ]]);
    const f = `${dir}/wh_island/train-00000-of-00001.parquet`;
    Deno.writeFileSync(f, Deno.readFileSync(f).slice(0, 100));
    const e = await assertRejects(() => loadBlimp({ dir }), DataError);
    assert(e.message.includes(f) && e.message.includes("truncated"), e.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
