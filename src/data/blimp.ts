/**
 * BLiMP minimal pairs (docs/blimp.md): from the Hub dataset `nyu-mll/blimp` (one parquet folder per paradigm) or a
 * folder of the original jsonl files (`alexwarstadt/blimp` `data/*.jsonl`, or BabyLM's `blimp_filtered` with an
 * integer `pair_id`), plus the 12-phenomenon grouping of the BLiMP paper. This module is the one source of the
 * phenomenon table and of jsonl parsing; `src/eval/blimp.ts` only scores and aggregates.
 *
 * Normalisation: `field` "syntax_semantics" is written "syntax/semantics" (as the BabyLM pipeline does); the two
 * paradigms tagged `s-selection` in the data are grouped under the phenomenon "argument_structure" (as the BLiMP
 * repository's results summary does), so the data's 13 `linguistics_term` values map onto 12 phenomena.
 *
 * @module
 */
import { basename, join } from "node:path";
import { DataError, errorMessage } from "./errors.ts";
import { HubClient } from "./hub.ts";
import { emptyFileError, parquetColumns, readParquetColumns, readText } from "./corpora.ts";

/** One minimal pair. */
export interface BlimpPair {
  /** Paradigm id (the file stem), e.g. "adjunct_island". */
  uid: string;
  /** "morphology" | "syntax" | "semantics" | "syntax/semantics". */
  field: string;
  /** The data's `linguistics_term` (13 values, including "s-selection"). */
  linguisticsTerm: string;
  /** One of the 12 phenomena of {@linkcode BLIMP_PHENOMENA} ({@linkcode phenomenonOf}). */
  phenomenon: string;
  /** `pairID` / `pair_id` as a number. */
  pairId: number;
  /** The acceptable sentence. */
  good: string;
  /** The unacceptable sentence. */
  bad: string;
}

/** The 12 BLiMP phenomena, in the paper's (alphabetical) order. */
export const BLIMP_PHENOMENON_NAMES = [
  "anaphor_agreement",
  "argument_structure",
  "binding",
  "control_raising",
  "determiner_noun_agreement",
  "ellipsis",
  "filler_gap_dependency",
  "irregular_forms",
  "island_effects",
  "npi_licensing",
  "quantifiers",
  "subject_verb_agreement",
] as const;

/** One of the 12 BLiMP phenomena. */
export type BlimpPhenomenon = typeof BLIMP_PHENOMENON_NAMES[number];

/**
 * The 12 BLiMP phenomena and their paradigm UIDs (67 in all; docs/blimp.md). UIDs and terms were checked against the
 * 67 files of `alexwarstadt/blimp/data/*.jsonl`.
 *
 * @example
 * ```ts
 * import { BLIMP_PHENOMENA } from "./blimp.ts";
 * BLIMP_PHENOMENA.ellipsis; // ["ellipsis_n_bar_1", "ellipsis_n_bar_2"]
 * ```
 */
export const BLIMP_PHENOMENA: Readonly<Record<BlimpPhenomenon, readonly string[]>> = {
  anaphor_agreement: ["anaphor_gender_agreement", "anaphor_number_agreement"],
  argument_structure: [
    "animate_subject_passive",
    "animate_subject_trans",
    "causative",
    "drop_argument",
    "inchoative",
    "intransitive",
    "passive_1",
    "passive_2",
    "transitive",
  ],
  binding: [
    "principle_A_c_command",
    "principle_A_case_1",
    "principle_A_case_2",
    "principle_A_domain_1",
    "principle_A_domain_2",
    "principle_A_domain_3",
    "principle_A_reconstruction",
  ],
  control_raising: [
    "existential_there_object_raising",
    "existential_there_subject_raising",
    "expletive_it_object_raising",
    "tough_vs_raising_1",
    "tough_vs_raising_2",
  ],
  determiner_noun_agreement: [
    "determiner_noun_agreement_1",
    "determiner_noun_agreement_2",
    "determiner_noun_agreement_irregular_1",
    "determiner_noun_agreement_irregular_2",
    "determiner_noun_agreement_with_adj_2",
    "determiner_noun_agreement_with_adj_irregular_1",
    "determiner_noun_agreement_with_adj_irregular_2",
    "determiner_noun_agreement_with_adjective_1",
  ],
  ellipsis: ["ellipsis_n_bar_1", "ellipsis_n_bar_2"],
  filler_gap_dependency: [
    "wh_questions_object_gap",
    "wh_questions_subject_gap",
    "wh_questions_subject_gap_long_distance",
    "wh_vs_that_no_gap",
    "wh_vs_that_no_gap_long_distance",
    "wh_vs_that_with_gap",
    "wh_vs_that_with_gap_long_distance",
  ],
  irregular_forms: ["irregular_past_participle_adjectives", "irregular_past_participle_verbs"],
  island_effects: [
    "adjunct_island",
    "complex_NP_island",
    "coordinate_structure_constraint_complex_left_branch",
    "coordinate_structure_constraint_object_extraction",
    "left_branch_island_echo_question",
    "left_branch_island_simple_question",
    "sentential_subject_island",
    "wh_island",
  ],
  npi_licensing: [
    "matrix_question_npi_licensor_present",
    "npi_present_1",
    "npi_present_2",
    "only_npi_licensor_present",
    "only_npi_scope",
    "sentential_negation_npi_licensor_present",
    "sentential_negation_npi_scope",
  ],
  quantifiers: [
    "existential_there_quantifiers_1",
    "existential_there_quantifiers_2",
    "superlative_quantifiers_1",
    "superlative_quantifiers_2",
  ],
  subject_verb_agreement: [
    "distractor_agreement_relational_noun",
    "distractor_agreement_relative_clause",
    "irregular_plural_subject_verb_agreement_1",
    "irregular_plural_subject_verb_agreement_2",
    "regular_plural_subject_verb_agreement_1",
    "regular_plural_subject_verb_agreement_2",
  ],
};

/** All 67 paradigm ids, sorted. */
export const BLIMP_PARADIGMS: readonly string[] = Object.values(BLIMP_PHENOMENA).flat().sort();

/** All 67 paradigm ids, grouped by phenomenon (in {@linkcode BLIMP_PHENOMENON_NAMES} order). */
export const BLIMP_UIDS: readonly string[] = BLIMP_PHENOMENON_NAMES.flatMap((p) => BLIMP_PHENOMENA[p]);

const UID_TO_PHENOMENON: ReadonlyMap<string, BlimpPhenomenon> = new Map(
  BLIMP_PHENOMENON_NAMES.flatMap((p) =>
    BLIMP_PHENOMENA[p].map((uid) => [uid, p] as [string, BlimpPhenomenon])
  ),
);

/** `linguistics_term` values that the phenomenon table renames (the two s-selection paradigms). */
const TERM_ALIASES: Readonly<Record<string, string>> = { "s-selection": "argument_structure" };

/**
 * The phenomenon of a paradigm: the table for the 67 BLiMP UIDs, else the item's `linguistics_term`
 * (with "s-selection" folded into "argument_structure"), else "other".
 *
 * @param uid paradigm id (BLiMP `UID`, the file stem)
 * @param linguisticsTerm the item's `linguistics_term`, used only for UIDs the table does not know
 * @example
 * ```ts
 * import { phenomenonOf } from "./blimp.ts";
 * phenomenonOf("animate_subject_trans"); // "argument_structure"
 * phenomenonOf("hypernym", "supplement"); // "supplement"
 * phenomenonOf("mystery"); // "other"
 * ```
 */
export function phenomenonOf(uid: string, linguisticsTerm?: string | null): string {
  const known = UID_TO_PHENOMENON.get(uid);
  if (known) return known;
  if (linguisticsTerm) return TERM_ALIASES[linguisticsTerm] ?? linguisticsTerm;
  return "other";
}

/** "syntax_semantics" → "syntax/semantics"; other fields unchanged. */
export function normalizeBlimpField(field: string): string {
  return field === "syntax_semantics" ? "syntax/semantics" : field;
}

function toPair(
  rec: Record<string, unknown>,
  uidFallback: string,
  where: () => string,
  info: { file: string; line?: number },
): BlimpPair {
  const str = (k: string, required = true): string => {
    const v = rec[k];
    if (typeof v === "string") return v;
    if (!required && (v === undefined || v === null)) return "";
    throw new DataError(
      `${where()}: the field "${k}" is ${
        v === undefined ? "missing" : `${JSON.stringify(v)} (not a string)`
      }; expected a string.`,
      info,
    );
  };
  const good = str("sentence_good");
  const bad = str("sentence_bad");
  const rawId = rec.pairID ?? rec.pair_id;
  const pairId = typeof rawId === "number"
    ? rawId
    : typeof rawId === "string" && /^\d+$/.test(rawId)
    ? Number(rawId)
    : NaN;
  if (!Number.isInteger(pairId)) {
    throw new DataError(
      `${where()}: the field "pairID" (or "pair_id") is ${
        rawId === undefined ? "missing" : `${JSON.stringify(rawId)}`
      }; expected an integer or a digit string.`,
      info,
    );
  }
  const uid = (typeof rec.UID === "string" && rec.UID) || uidFallback;
  const linguisticsTerm = str("linguistics_term", false);
  return {
    uid,
    field: normalizeBlimpField(str("field", false)),
    linguisticsTerm,
    phenomenon: phenomenonOf(uid, linguisticsTerm),
    pairId,
    good,
    bad,
  };
}

/**
 * Parse BLiMP jsonl text. A malformed line throws a {@linkcode DataError} naming the file, the 1-based line number
 * and the missing or invalid field.
 *
 * @example
 * ```ts
 * import { parseBlimpJsonl } from "./blimp.ts";
 * const pairs = parseBlimpJsonl('{"sentence_good":"A.","sentence_bad":"B.","UID":"x","pairID":"0"}\n', "x.jsonl");
 * ```
 */
export function parseBlimpJsonl(text: string, file: string): BlimpPair[] {
  const uidFallback = basename(file).replace(/\.jsonl$/, "");
  const out: BlimpPair[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const where = () => `BLiMP file "${file}" line ${i + 1}`;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch (e) {
      throw new DataError(
        `${where()} is not valid JSON (${errorMessage(e)}); expected one JSON object per line.`,
        {
          file,
          line: i + 1,
          cause: e,
        },
      );
    }
    if (!rec || typeof rec !== "object" || Array.isArray(rec)) {
      throw new DataError(`${where()} is ${JSON.stringify(rec)}; expected a JSON object.`, {
        file,
        line: i + 1,
      });
    }
    out.push(toPair(rec as Record<string, unknown>, uidFallback, where, { file, line: i + 1 }));
  }
  if (!out.length) throw emptyFileError(file, lines.length - 1, "a BLiMP jsonl file (one pair per line)");
  return out;
}

/** Read one BLiMP jsonl file. */
export async function readBlimpJsonl(file: string): Promise<BlimpPair[]> {
  return parseBlimpJsonl(await readText(file, "a BLiMP jsonl file (one pair per line)"), file);
}

/** Read one BLiMP parquet file (Hub `nyu-mll/blimp` layout); `uid` defaults to the parent folder name. */
export function readBlimpParquet(file: string, uid?: string): BlimpPair[] {
  const parent = uid ?? basename(join(file, ".."));
  const cols = ["sentence_good", "sentence_bad"];
  const all = new Set(parquetColumns(file));
  for (const c of cols) {
    if (!all.has(c)) {
      throw new DataError(
        `The BLiMP parquet file "${file}" has no column "${c}"; expected sentence_good, sentence_bad, pair_id.`,
        { file },
      );
    }
  }
  const want = ["sentence_good", "sentence_bad", "field", "linguistics_term", "UID", "pair_id", "pairID"]
    .filter((c) => all.has(c));
  const data = readParquetColumns(file, want);
  const n = data.sentence_good.length;
  if (!n) throw emptyFileError(file, 0, "a BLiMP parquet file with at least one pair");
  const out: BlimpPair[] = [];
  for (let r = 0; r < n; r++) {
    const rec: Record<string, unknown> = {};
    for (const c of want) rec[c] = data[c][r];
    out.push(toPair(rec, parent, () => `BLiMP file "${file}" row ${r}`, { file }));
  }
  return out;
}

/** Options for {@linkcode loadBlimp}. */
export interface LoadBlimpOptions {
  /**
   * Local folder: either `*.jsonl` files (original / filtered BLiMP) or one folder per paradigm holding `*.parquet`
   * (Hub layout). Without it, the Hub dataset is used.
   */
  dir?: string;
  /** Hub client (default `new HubClient()`). */
  hub?: HubClient;
  /** Hub repo (default "nyu-mll/blimp"). */
  repo?: string;
  /** Hub revision (branch, tag or commit; default the main branch). */
  revision?: string;
  /** Only these paradigms (default: every one found). */
  paradigms?: string[];
  /** Keep at most this many pairs per paradigm (the first ones). */
  maxPairsPerParadigm?: number;
}

/**
 * Load BLiMP pairs, sorted by paradigm then file order.
 *
 * @example
 * ```ts
 * import { loadBlimp } from "./blimp.ts";
 * const pairs = await loadBlimp({ dir: "data/samples/blimp", paradigms: ["adjunct_island"] });
 * pairs[0]; // { uid: "adjunct_island", field: "syntax", phenomenon: "island_effects", pairId: 0, good, bad, ... }
 * ```
 */
export async function loadBlimp(opts: LoadBlimpOptions = {}): Promise<BlimpPair[]> {
  const want = opts.paradigms ? new Set(opts.paradigms) : null;
  const perParadigm: [string, () => Promise<BlimpPair[]>][] = [];
  if (opts.dir) {
    let ents: Deno.DirEntry[];
    try {
      ents = [];
      for await (const e of Deno.readDir(opts.dir)) ents.push(e);
    } catch (e) {
      throw new DataError(
        `Cannot read the BLiMP folder "${opts.dir}" (${
          errorMessage(e)
        }); expected *.jsonl files or paradigm folders.`,
        {
          file: opts.dir,
          cause: e,
        },
      );
    }
    ents.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of ents) {
      const p = join(opts.dir, e.name);
      if (e.name.endsWith(".jsonl")) {
        perParadigm.push([e.name.replace(/\.jsonl$/, ""), () => readBlimpJsonl(p)]);
      } else if (e.isDirectory) {
        const parquets: string[] = [];
        for await (const f of Deno.readDir(p)) {
          if (f.name.endsWith(".parquet")) parquets.push(join(p, f.name));
        }
        if (parquets.length) {
          parquets.sort();
          perParadigm.push([
            e.name,
            () => Promise.resolve(parquets.flatMap((f) => readBlimpParquet(f, e.name))),
          ]);
        }
      }
    }
    if (!perParadigm.length) {
      throw new DataError(
        `The BLiMP folder "${opts.dir}" has no *.jsonl files nor paradigm folders with *.parquet.`,
        {
          file: opts.dir,
        },
      );
    }
  } else {
    const hub = opts.hub ?? new HubClient();
    const repo = opts.repo ?? "nyu-mll/blimp";
    const entries = (await hub.list(repo, { revision: opts.revision })).filter(
      (e) => e.type === "file" && e.path.endsWith(".parquet") && e.path.includes("/"),
    );
    const byParadigm = new Map<string, string[]>();
    for (const e of entries) {
      const par = e.path.split("/")[0];
      if (!byParadigm.has(par)) byParadigm.set(par, []);
      byParadigm.get(par)!.push(e.path);
    }
    for (const [par, paths] of [...byParadigm].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      perParadigm.push([par, async () => {
        const out: BlimpPair[] = [];
        for (const p of paths.sort()) {
          out.push(...readBlimpParquet(await hub.file(repo, p, { revision: opts.revision }), par));
        }
        return out;
      }]);
    }
  }
  if (want) {
    const found = new Set(perParadigm.map(([p]) => p));
    for (const p of want) {
      if (!found.has(p)) {
        throw new DataError(
          `Unknown BLiMP paradigm "${p}"${opts.dir ? ` in "${opts.dir}"` : ""}; known: ${
            [...found].join(", ")
          }.`,
        );
      }
    }
  }
  const out: BlimpPair[] = [];
  for (const [par, load] of perParadigm) {
    if (want && !want.has(par)) continue;
    let pairs = await load();
    if (opts.maxPairsPerParadigm !== undefined) pairs = pairs.slice(0, opts.maxPairsPerParadigm);
    out.push(...pairs);
  }
  return out;
}

/**
 * Group pairs by paradigm (`uid`), keeping order.
 *
 * @example
 * ```ts
 * import { groupBlimpByParadigm } from "./blimp.ts";
 * // const byUid = groupBlimpByParadigm(pairs); byUid.get("adjunct_island")!.length
 * ```
 */
export function groupBlimpByParadigm(pairs: BlimpPair[]): Map<string, BlimpPair[]> {
  const m = new Map<string, BlimpPair[]>();
  for (const p of pairs) {
    if (!m.has(p.uid)) m.set(p.uid, []);
    m.get(p.uid)!.push(p);
  }
  return m;
}
