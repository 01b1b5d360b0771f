"""MEGA-Bench rule metrics, each checked on hand-made cases written from its definition."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import pytest

from rethinker.eval.suites.megabench.metrics import (
    boxes,
    convert,
    dicts,
    latex,
    numbers,
    planning,
    sequences,
    sets,
    strings,
)
from rethinker.eval.suites.megabench.metrics.table import FIELD_METRICS, NOT_SCORED_REASONS, not_scored_reason


def test_text_is_read_as_items_without_evaluating_it() -> None:
    assert convert.as_list("[1, 2, 3]") == [1, 2, 3]
    assert convert.as_list("[cat, dog]") == ["cat", "dog"]
    assert convert.as_list("cat, dog") == ["cat", "dog"]
    assert convert.as_list("7") == [7]
    assert convert.as_list("(1, 2") == [] and convert.as_list("") == [] and convert.as_list(None) == []
    assert convert.as_list("__import__('os').system('x')") == ["__import__('os').system('x')"]
    assert convert.as_set("[[1, 2], [3, 4]]") == {(1, 2), (3, 4)}
    assert convert.literal("x" * (convert.MAX_LITERAL_CHARS + 1)) is convert.NOT_A_LITERAL
    assert convert.unquote("'cat'") == "cat" and convert.unquote("[1]") == "[1]"


def test_odd_literals_in_model_output_raise_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert convert.literal("[1a, 2]") is convert.NOT_A_LITERAL
        assert convert.literal("9" * 5_000) is convert.NOT_A_LITERAL


def test_boxes_and_points_are_read_strictly() -> None:
    assert convert.as_boxes("[0.1, 0.2, 0.3, 0.4]") == [(0.1, 0.2, 0.3, 0.4)]
    assert convert.as_boxes("[[0, 0, 1, 1], [0, 0, 1], 'x']") == [(0.0, 0.0, 1.0, 1.0)]
    assert convert.as_boxes("[[0, 0, nan, 1]]") == []
    assert convert.xml_boxes("<box>0, 0, 0.5, 0.5</box> and <box>1, 2</box>") == [(0.0, 0.0, 0.5, 0.5)]
    assert convert.xml_point("<point>0.2, 0.3</point>") == (0.2, 0.3)
    assert convert.xml_point("<point>0.2, 0.3</point><point>0.1, 0.1</point>") is None


def test_exact_match_reads_a_leading_option_letter_only_for_letter_golds() -> None:
    assert strings.exact_str_match("B", "B") == 1.0
    assert strings.exact_str_match("(B) blue", "B") == 1.0 and strings.exact_str_match("B. blue", "B") == 1.0
    assert strings.exact_str_match("Blue", "B") == 0.0
    assert strings.exact_str_match("b", "B") == 0.0 and strings.exact_str_match(12, "12") == 1.0
    assert strings.exact_str_match_case_insensitive("PARIS", "paris") == 1.0
    assert strings.exact_str_match_case_insensitive(["x"], "x") == 0.0


def test_simplified_near_and_edit_similarity() -> None:
    assert strings.simple_str_match("New-York City.", "new york city") == 1.0
    assert strings.simple_str_match("Boston", "new york city") == 0.0
    assert strings.near_str_match("The Café de Flore", "cafe de flore") == 1.0
    assert strings.near_str_match("cafe de flor", "cafe de flore") == pytest.approx(12 / 13)
    assert strings.near_str_match("cafe", "cafe de flore") == 0.0
    assert strings.normalized_similarity_damerau_levenshtein("abcd", "abdc") == pytest.approx(0.75)
    assert strings.normalized_similarity_damerau_levenshtein("", "") == 1.0
    assert strings.code_result_exact_str_match("42", "```\n42\n```") == 1.0


def test_multiple_references_accept_any_one() -> None:
    assert strings.multi_ref_phrase("new-york", "['NYC', 'New York']") == 1.0
    assert strings.multi_ref_phrase("LA", "['NYC', 'New York']") == 0.0
    assert strings.multi_ref_phrase("北京", "上海，北京") == 1.0


def test_latex_expressions_compare_by_value_and_text_with_math_by_both() -> None:
    assert latex.normalize_latex("α + Δ \\(x\\)") == "\\alpha  + \\Delta  x"
    assert latex.normalize_latex("\\bar{x} + ȳ") == "\\overline{x} + \\overline{y}"
    assert latex.latex_expr_equality("\\frac{1}{2}", "0.5") == 1.0
    assert latex.latex_expr_equality("x + 1", "x + 2") == 0.0
    assert latex.latex_expr_equality("\\alpha", "α") == 1.0
    assert latex.text_with_latex_expr_equality("Area: $\\frac{1}{2}$ m", "area: $0.5$ m") == 1.0
    assert latex.text_with_latex_expr_equality("Area: $\\frac{1}{2}$ km", "area: $0.5$ m") == 0.0


def test_edit_similarity_is_bounded_on_runaway_output() -> None:
    started = time.perf_counter()
    strings.normalized_similarity_damerau_levenshtein("ab" * 200_000, "ba" * 200_000)
    assert time.perf_counter() - started < 5


def test_set_metrics() -> None:
    assert sets.set_equality("[b, a]", "['a', 'b']") == 1.0 and sets.set_equality("a", "a, b") == 0.0
    assert sets.set_equality_case_insensitive("A, b", "a, B") == 1.0
    assert sets.set_equality_case_insensitive("[1, 2]", "[1, 2]") == 0.0
    assert sets.jaccard_index("a, b, c", "b, c, d") == pytest.approx(0.5)
    assert sets.jaccard_index(None, "a") == 0.0 and sets.jaccard_index("[]", "[]") == 1.0
    assert sets.jaccard_index_case_insensitive("[('New York', 'NY')]", "[('new-york', 'ny')]") == 1.0
    assert sets.set_precision("a, b, x, y", "a, b, c") == pytest.approx(0.5)
    assert sets.str_set_equality_line_break("Cat\\ndog", "dog\ncat") == 1.0
    assert sets.str_set_equality_comma("None, Cat", "cat, none") == 1.0
    assert sets.chess_move_list_jaccard_index("Qxf7#, Nf3!", "['Qxf7', 'Nf3', 'e4']") == pytest.approx(2 / 3)


def test_sequence_metrics() -> None:
    assert sequences.sequence_equality("[1, 2, 3]", "[1, 2, 3]") == 1.0
    assert sequences.sequence_equality("[3, 2, 1]", "[1, 2, 3]") == 0.0
    assert sequences.sequence_equality_case_insensitive("[A, b]", "['a', 'B']") == 1.0
    assert sequences.sequence_accuracy_case_insensitive("['A', 'x', 3]", "['a', 'b', 3]") == pytest.approx(2 / 3)
    assert sequences.sequence_accuracy_case_insensitive("['a']", "['a', 'b']") == 0.0
    assert sequences.longest_common_list_prefix_ratio("[1, 2, 9, 4]", "[1, 2, 3, 4]") == pytest.approx(0.5)


def test_number_metrics() -> None:
    assert numbers.number_rel_diff_ratio("90", "100") == pytest.approx(0.9)
    assert numbers.number_rel_diff_ratio("300", "100") == 0.0 and numbers.number_rel_diff_ratio("x", "1") == 0.0
    assert numbers.number_rel_diff_ratio("1", "0") == 0.0
    assert numbers.positive_int_match("3", "3") == 1.0 and numbers.positive_int_match("2", "3") == 0.0
    assert numbers.positive_int_match("0", "-1") == numbers.NOT_APPLICABLE
    assert numbers.normalized_rmse("0.55", "0.5") == pytest.approx(0.5)
    assert numbers.normalized_rmse("0.9", "0.5") == 0.0
    assert numbers.angle_seq_float_rmse("[10, 20]", "[15, 20]") == pytest.approx(0.75)
    assert numbers.angle_seq_float_rmse("[10]", "[15, 20]") == 0.0
    assert numbers.general_single_numerical_match("100.5", "100") == 1.0
    assert numbers.general_single_numerical_match("102", "100") == 0.0
    assert numbers.general_single_numerical_match("50%", "0.5") == 1.0
    assert numbers.general_single_numerical_match("\\frac{1}{4}", "0.25") == 1.0
    assert numbers.general_single_numerical_match("[2, 1]", "[1, 2]") == 1.0
    assert numbers.boxed_single_numerical_match("so \\boxed{3.14}", "3.1416") == 1.0
    assert numbers.general_single_numerical_match("__import__('os')", "1") == 0.0


def test_box_and_point_metrics() -> None:
    assert boxes.box_iou((0, 0, 2, 2), (1, 1, 3, 3)) == pytest.approx(1 / 7)
    assert boxes.nbbox_iou_tuple("[[0, 0, 2, 2], [5, 5, 6, 6]]", "[[0, 0, 2, 2]]") == pytest.approx(0.5)
    assert boxes.nbbox_iou_tuple("[]", "[[0, 0, 2, 2]]") == 0.0
    assert boxes.nbbox_iou_single("[0, 0, 1, 1]", "[0, 0, 1, 0.5]") == pytest.approx(0.5)
    assert boxes.nbbox_iou_sequence("[[0, 0, 1, 1], [0, 0, 1, 1]]", "[[0, 0, 1, 1], [0, 0, 1, 0.5]]") == 0.75
    assert boxes.nbbox_iou_sequence("[[0, 0, 1, 1]]", "[[0, 0, 1, 1], [0, 0, 1, 1]]") == 0.0
    assert boxes.xml_nbbox_iou_single("<box>0, 0, 1, 1</box>", "<box>0, 0, 1, 1</box>") == 1.0
    assert boxes.xml_norm_point_distance("<point>0.3, 0.4</point>", "<point>0, 0</point>") == pytest.approx(0.5)
    assert boxes.xml_norm_point_distance("<point>3, 4</point>", "<point>0, 0</point>") == 0.0
    assert boxes.sequence_coords_similarity("[[0.1, 0.1], [0.5, 0.5]]", "[[0.1, 0.1], [0.5, 0.5]]") == 1.0
    assert boxes.sequence_coords_similarity("[[0, 0]]", "[[0.1, 0]]") == pytest.approx(
        math.exp(-10 * 0.1 / math.sqrt(2))
    )
    assert boxes.sequence_coords_similarity("[[0, 0]]", "[[0, 0], [1, 1]]") == 0.0
    context = {"bounding_boxes": ["[0.5, 0.5, 1, 1]", "[0, 0, 0.2, 0.2]"]}
    assert boxes.xml_norm_point_in_bbox("<point>0.1, 0.2</point>", context) == 1.0
    assert boxes.xml_norm_point_in_bbox("<point>0.3, 0.3</point>", context) == 0.0


def test_dict_metrics_aggregate_over_gold_or_all_keys() -> None:
    gold = "{'a': '1', 'b': '2'}"
    assert dicts.dict_exact_str_match_agg_recall({"a": "1", "c": "3"}, gold) == 0.5
    assert dicts.dict_exact_str_match_agg_recall("not a dict", gold) == 0.0
    assert dicts.dict_set_equality_agg_jaccard({"a": "x, y", "z": "1"}, {"a": "y, x", "b": "2"}) == pytest.approx(1 / 3)
    assert dicts.dict_jaccard_agg_jaccard({"a": "x, y"}, {"a": "x, z"}) == pytest.approx(1 / 3)
    assert dicts.dict_nbbox_iou_tuple_agg_jaccard({"car": "[[0, 0, 1, 1]]"}, {"car": "[[0, 0, 1, 1]]"}) == 1.0
    assert dicts.dict_equality('{"a": "1", "b": "2"}', gold) == 1.0
    assert dicts.dict_precision({"a": "1", "b": "5"}, gold) == 0.5


PDDL = Path(__file__).parent / "fixtures" / "megabench_pddl"
BLOCKS = {
    "domain_pddl": (PDDL / "blocks_domain.pddl").read_text(),
    "task_pddl": (PDDL / "blocks_task.pddl").read_text(),
}


def test_plans_are_simulated_step_by_step_against_the_domain() -> None:
    assert planning.symbolic_planning_test("Plan:\n(pick-up a)\n(stack a b)", BLOCKS) == 1.0
    assert planning.symbolic_planning_test(["(pick-up a)", "(Stack A B)"], BLOCKS) == 1.0
    assert planning.symbolic_planning_test("(stack a b)", BLOCKS) == 0.0
    assert planning.symbolic_planning_test("(pick-up a)", BLOCKS) == 0.0
    assert planning.symbolic_planning_test("(pick-up a)\n(fly a b)", BLOCKS) == 0.0
    assert planning.symbolic_planning_test("(pick-up a b)\n(stack a b)", BLOCKS) == 0.0
    assert planning.symbolic_planning_test("(pick-up a)\n(stack a b", BLOCKS) == 0.0
    assert planning.symbolic_planning_test("(pick-up a)\n" * 2_000, BLOCKS) == 0.0
    assert planning.symbolic_planning_test("(pick-up a)\n(stack a b)", {"domain_pddl": BLOCKS["domain_pddl"]}) == 0.0


def test_every_official_metric_is_either_scored_or_has_a_reason() -> None:
    assert not set(FIELD_METRICS) & set(NOT_SCORED_REASONS)
    assert not_scored_reason("exact_str_match") is None
    assert "judge" in not_scored_reason("gpt_4o_as_judge")
    assert "never executed" in not_scored_reason("program_judge")
    assert not_scored_reason("symbolic_planning_test") is None
    assert "unknown metric" in not_scored_reason("made_up_metric")
