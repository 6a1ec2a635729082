/**
 * The 12 BLiMP phenomena (Warstadt et al. 2020) and the 67 paradigm UIDs that belong to each, as in SPEC §5.1.
 *
 * The data carries 13 `linguistics_term` values because two argument-structure paradigms
 * (`animate_subject_passive`, `animate_subject_trans`) are tagged `s-selection`; like the BLiMP repository's
 * results summary, this table folds them into `argument_structure`. UIDs and terms were checked against the 67
 * files of `alexwarstadt/blimp/data/*.jsonl`.
 *
 * @module
 */

/** The 12 BLiMP phenomena, in the paper's (alphabetical) order. */
export const BLIMP_PHENOMENA = [
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
export type BlimpPhenomenon = typeof BLIMP_PHENOMENA[number];

/**
 * Paradigm UIDs per phenomenon (67 in all).
 *
 * @example
 * ```ts
 * import { BLIMP_PARADIGMS } from "./phenomena.ts";
 * BLIMP_PARADIGMS.ellipsis; // ["ellipsis_n_bar_1", "ellipsis_n_bar_2"]
 * ```
 */
export const BLIMP_PARADIGMS: Readonly<Record<BlimpPhenomenon, readonly string[]>> = {
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

/** All 67 BLiMP paradigm UIDs, grouped by phenomenon. */
export const BLIMP_UIDS: readonly string[] = BLIMP_PHENOMENA.flatMap((p) => BLIMP_PARADIGMS[p]);

const UID_TO_PHENOMENON: ReadonlyMap<string, BlimpPhenomenon> = new Map(
  BLIMP_PHENOMENA.flatMap((p) => BLIMP_PARADIGMS[p].map((uid) => [uid, p] as [string, BlimpPhenomenon])),
);

/** `linguistics_term` values that the phenomenon table renames (the two s-selection paradigms). */
const TERM_ALIASES: Readonly<Record<string, string>> = { "s-selection": "argument_structure" };

/**
 * The phenomenon of a paradigm: the table for the 67 BLiMP UIDs, else the item's `linguistics_term`
 * (with `s-selection` folded into `argument_structure`), else `"other"`.
 *
 * @param uid paradigm id (BLiMP `UID`, the file stem)
 * @param linguisticsTerm the item's `linguistics_term`, used only for UIDs the table does not know
 * @example
 * ```ts
 * import { phenomenonOf } from "./phenomena.ts";
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
