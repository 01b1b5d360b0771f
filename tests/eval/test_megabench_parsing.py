"""MEGA-Bench response parsers: the single answer string (plain, ASCII art, verbatim) and JSON objects."""

from __future__ import annotations

import time

from rethinker.eval.suites.megabench.parsing import (
    Parser,
    json_spans,
    parse_answer_string,
    parse_json,
    parse_json_fields,
)


def test_the_last_answer_label_wins_and_think_blocks_are_ignored() -> None:
    assert parse_answer_string("It is red.\n\nAnswer: B") == "B"
    assert parse_answer_string("answer: maybe A... final Answer: C") == "C"
    assert parse_answer_string("**Answer: C**") == "C"
    assert parse_answer_string("**Answer:** C") == "C" and parse_answer_string("**Answer**: C") == "C"
    assert parse_answer_string("<think>Answer: A</think>Answer: B") == "B"
    assert parse_answer_string("just text") == "just text"


def test_code_blocks_quotes_and_literal_answers() -> None:
    assert parse_answer_string("Answer: ```python\nprint(1)\n```") == "print(1)"
    assert parse_answer_string("Answer: 'cat'") == "cat"
    assert parse_answer_string("Answer: [1,2]") == "[1, 2]"
    assert parse_answer_string("Answer: [not json") == "[not json"


def test_a_short_first_paragraph_stands_alone_only_for_single_line_golds() -> None:
    response = "Answer: B\n\nBecause the square is blue."
    assert parse_answer_string(response, single_line_gold=True) == "B"
    assert parse_answer_string(response, single_line_gold=False) == "B\n\nBecause the square is blue."
    assert parse_answer_string("Answer: The square\n\nis blue", single_line_gold=True) == "The square"
    assert parse_answer_string("Answer: B\nC\n\nD", single_line_gold=True) == "B\nC\n\nD"


def test_ascii_art_keeps_inner_spacing() -> None:
    art = "Answer:\n\n  /\\\n /  \\\n\n\n"
    assert parse_answer_string(art, Parser.ASCII_ANSWER_STRING) == "  /\\\n /  \\"
    assert parse_answer_string("Answer: ```\n  x  \n```", Parser.VERBATIM_ANSWER_STRING) == "  x  "


def test_json_objects_are_found_and_decoded_safely() -> None:
    assert parse_json('Here: ```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json('first {"a": 1} then {"a": 2}') == {"a": 2}
    assert parse_json("{'a': 'x', 'b': [1, 2]}") == {"a": "x", "b": [1, 2]}
    assert parse_json('{"a": "{\\"b\\": 1}"}') == {"a": {"b": 1}}
    assert parse_json('Answer: {"a": "}"}') == {"a": "}"}
    assert parse_json('Answer: {"a": 1}\nNote: {"b": 2}') == {"a": 1}
    assert parse_json('**Answer:**\n```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_json("Answer: none\n\nfixed: [1, 2]") == [1, 2]
    assert parse_json("no json here") == {} and parse_json("[broken") == []
    assert parse_json('{"a": ' + "9" * 5_000 + "}") == {} and parse_answer_string("Answer: " + "9" * 5_000)[:3] == "999"
    assert parse_json_fields('{"a": "\'x\'"}') == {"a": "x"}
    assert parse_json_fields("[1, 2]") is None


def test_json_scan_is_linear_on_pathological_output() -> None:
    started = time.perf_counter()
    assert json_spans("[" * 200_000) == []
    assert parse_json("{" * 50_000 + "}" * 50_000) == {}
    assert time.perf_counter() - started < 5
