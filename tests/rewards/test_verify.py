"""Verification: pure fast paths, math-verify equivalences in worker processes, and bounded time on hostile answers."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rethinker.rewards.verify import (
    Verifier,
    as_number,
    canonical,
    gold_letter,
    is_explosive,
    leading_letter,
    prepare,
    quick_verdict,
)


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("\\frac{1}{2}", "0.5", True),
        ("0.5", "1/2", True),
        ("\\frac{3}{4}", "0.76", False),
        ("\\dfrac{1}{2}", "\\frac12", True),
        ("\\{1, 2\\}", "\\{2, 1\\}", True),
        ("1, 2", "2, 1", True),
        ("1, 2", "1, 2, 3", False),
        ("[2014, 2016]", "[2014,2016]", True),
        ("[2014, 2016]", "2014, 2016", False),
        ("(1, 2)", "(1,2)", True),
        ("x^2+2x+1", "(x+1)^2", True),
        ("\\sqrt{2}", "\\sqrt 2", True),
        ("5", "5 \\text{cm}", True),
        ("30^\\circ", "30", True),
        ("50\\%", "0.5", True),
        ("6", "7", False),
        ("1,000", "1000", True),
        ("3", "3.0", True),
        ("\\boxed{12}", "<answer>12</answer>", True),
        ("\\boxed{1}, \\boxed{2}", "2, 1", True),
        ("Cat", "cat", True),
        ("red", "blue", False),
        ("\\text{Yes}", "yes", True),
        ("y = 2x + 1", "2x+1", True),
    ],
)
def test_equivalences(verifier: Verifier, gold: str, pred: str, expected: bool) -> None:
    assert verifier.verify(gold, pred) is expected


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("B", "B", True),
        ("B", "(B)", True),
        ("(B)", "B. 12", True),
        ("B", "B) the circle", True),
        ("B", "C", False),
        ("B", "A or B", False),
        ("B", "B or C", False),
        ("B", "B, C", False),
        ("B", "Bob", False),
        ("B", "b", False),
        ("B", "", False),
    ],
)
def test_option_letters_need_the_letter_as_a_leading_token(gold: str, pred: str, expected: bool) -> None:
    assert quick_verdict(gold, pred) is expected


def test_pure_helpers() -> None:
    assert gold_letter("(C)") == "C" and gold_letter("C.") == "C" and gold_letter("CD") is None
    assert leading_letter("(D) 4") == "D" and leading_letter("A triangle") == "A" and leading_letter("A/B") is None
    assert as_number("1,234.5") == 1234.5 and as_number("1,2") is None and as_number("1e999") is None
    assert canonical("\\left( 1,\\, 2 \\right).") == "(1,2)"
    assert canonical("\\frac{1}{23}") != canonical("\\frac{12}{3}")
    assert prepare("<answer> Final Answer: \\boxed{4} </answer>") == "4"


def test_symbolic_answers_are_left_to_math_verify() -> None:
    assert quick_verdict("x^2+2x+1", "(x+1)^2") is None
    assert quick_verdict("2", "3") is False
    assert quick_verdict("ab", "ba") is False
    assert quick_verdict("north east", "North-east") is False
    assert quick_verdict("\\mathrm{north}", "North.") is True


@pytest.mark.parametrize(
    "pred",
    ["10^10^10^10", "10^{10^{10}}", "2^{123456789}", "100000!", "(" * 30 + "1" + ")" * 30, "1" * 5_000],
)
def test_explosive_answers_are_screened(pred: str) -> None:
    assert is_explosive(pred)
    assert quick_verdict("5", pred) is False


@pytest.mark.parametrize("pred", ["e^{-x^2}", "2^{10}", "10!", "\\frac{(n+1)!}{2}", "((1+2)(3+4))"])
def test_ordinary_answers_are_not_screened(pred: str) -> None:
    assert not is_explosive(pred)


@pytest.mark.parametrize(
    "pred",
    [
        "10^10^10^10",
        "9" * 2_000_000,
        "\\boxed{" * 100_000 + "1" + "}" * 100_000,
        "{" * 500 + "1" + "}" * 500,
        "(10^{10})!",
    ],
)
def test_pathological_predictions_score_false_within_a_second(verifier: Verifier, pred: str) -> None:
    start = time.perf_counter()
    verdict = verifier.verify("5", pred, timeout_s=1.0)
    elapsed = time.perf_counter() - start
    assert verdict is False
    assert elapsed < 1.5


def test_an_overrunning_worker_is_replaced_and_checking_goes_on(verifier: Verifier) -> None:
    restarts = verifier.restarts
    pairs = [("5", "(10^{10})!"), ("x^2-1", "(x-1)(x+1)")]
    assert verifier.verify_many(pairs, timeout_s=1.0) == [False, True]
    assert verifier.restarts == restarts + 1
    assert verifier.verify("x^2-1", "(x+1)(x-1)")


def test_verify_many_keeps_order(verifier: Verifier) -> None:
    pairs = [("x^2+2x+1", "(x+1)^2"), ("\\sqrt{4}", "3"), ("B", "B"), ("\\pi", "3.14159265358979")] * 8
    assert verifier.verify_many(pairs) == [True, False, True, True] * 8


def test_verify_works_from_a_thread(verifier: Verifier) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(verifier.verify, "\\frac{2}{4}", "0.5").result()


def test_closed_verifier_refuses_work() -> None:
    pool = Verifier(workers=1)
    pool.close()
    assert pool.verify("2", "2")
    with pytest.raises(RuntimeError, match="closed"):
        pool.verify("x^2", "x*x")


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        Verifier(workers=0)
