"""The official metric names: which rule scores each, and why the others are reported as not scored."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rethinker.eval.suites.megabench.metrics import boxes, dicts, latex, numbers, planning, sequences, sets, strings

FieldMetric = Callable[[Any, Any], float]
ContextMetric = Callable[[Any, Mapping[str, Any]], float]

FIELD_METRICS: dict[str, FieldMetric] = {
    "exact_str_match": strings.exact_str_match,
    "exact_str_match_case_insensitive": strings.exact_str_match_case_insensitive,
    "simple_str_match": strings.simple_str_match,
    "code_result_exact_str_match": strings.code_result_exact_str_match,
    "normalized_similarity_damerau_levenshtein": strings.normalized_similarity_damerau_levenshtein,
    "near_str_match": strings.near_str_match,
    "multi_ref_phrase": strings.multi_ref_phrase,
    "latex_expr_equality": latex.latex_expr_equality,
    "text_with_latex_expr_equality": latex.text_with_latex_expr_equality,
    "number_rel_diff_ratio": numbers.number_rel_diff_ratio,
    "positive_int_match": numbers.positive_int_match,
    "normalized_rmse": numbers.normalized_rmse,
    "angle_seq_float_rmse": numbers.angle_seq_float_rmse,
    "general_single_numerical_match": numbers.general_single_numerical_match,
    "boxed_single_numerical_match": numbers.boxed_single_numerical_match,
    "set_equality": sets.set_equality,
    "set_equality_case_insensitive": sets.set_equality_case_insensitive,
    "str_set_equality_line_break": sets.str_set_equality_line_break,
    "str_set_equality_comma": sets.str_set_equality_comma,
    "jaccard_index": sets.jaccard_index,
    "jaccard_index_case_insensitive": sets.jaccard_index_case_insensitive,
    "set_precision": sets.set_precision,
    "chess_move_list_jaccard_index": sets.chess_move_list_jaccard_index,
    "sequence_equality": sequences.sequence_equality,
    "sequence_equality_case_insensitive": sequences.sequence_equality_case_insensitive,
    "sequence_accuracy_case_insensitive": sequences.sequence_accuracy_case_insensitive,
    "longest_common_list_prefix_ratio": sequences.longest_common_list_prefix_ratio,
    "nbbox_iou_tuple": boxes.nbbox_iou_tuple,
    "nbbox_iou_single": boxes.nbbox_iou_single,
    "nbbox_iou_sequence": boxes.nbbox_iou_sequence,
    "xml_nbbox_iou_single": boxes.xml_nbbox_iou_single,
    "xml_norm_point_distance": boxes.xml_norm_point_distance,
    "sequence_coords_similarity": boxes.sequence_coords_similarity,
    "dict_exact_str_match_agg_recall": dicts.dict_exact_str_match_agg_recall,
    "dict_set_equality_agg_jaccard": dicts.dict_set_equality_agg_jaccard,
    "dict_jaccard_agg_jaccard": dicts.dict_jaccard_agg_jaccard,
    "dict_nbbox_iou_tuple_agg_jaccard": dicts.dict_nbbox_iou_tuple_agg_jaccard,
    "dict_equality": dicts.dict_equality,
    "dict_precision": dicts.dict_precision,
}
"""Metrics of (parsed response field, gold field)."""

CONTEXT_METRICS: dict[str, ContextMetric] = {
    "xml_norm_point_in_bbox": boxes.xml_norm_point_in_bbox,
    "symbolic_planning_test": planning.symbolic_planning_test,
}
"""Metrics of (parsed response field, the query's eval context)."""

JUDGE_METRICS = frozenset({"gpt_4o_as_judge", "ascii_art_gpt4o_judge"})
"""Metrics that need an LLM judge: their tasks are the Open-ended set, scored only through a judge hook."""

NOT_SCORED_REASONS: dict[str, str] = {
    "gpt_4o_as_judge": "needs an LLM judge",
    "ascii_art_gpt4o_judge": "needs an LLM judge",
    "program_judge": "needs to run the model's program against test cases (programs are never executed)",
    "constrained_generation": "needs the constraint checkers (syllable counting, rhyme and word lists)",
    "nli_entailment": "needs an NLI model",
    "bleu": "needs sacreBLEU tokenisation",
    "gleu_cn": "needs Chinese word segmentation",
    "geo_proximity_location_dict": "needs geocoding of place names",
    "unsupported": "the official code does not support it either",
}
"""Why each remaining official metric is reported as not scored (never as 0)."""


def not_scored_reason(name: str) -> str | None:
    """Why the named metric cannot be scored by rule here, or None when it can."""
    if name in FIELD_METRICS or name in CONTEXT_METRICS:
        return None
    return NOT_SCORED_REASONS.get(name, f"unknown metric {name!r}")
