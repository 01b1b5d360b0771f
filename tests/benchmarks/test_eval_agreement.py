"""The MathVista agreement script: counts on a hand-made output file, the items set apart, a missing folder, and the
published outputs of three models (skipped where ../shared/real is absent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "eval_agreement" / "run.py"
REAL = ROOT / ".." / "shared" / "real" / "mathvista"


def item(pid: str, response: str, verdict: bool, **fields: object) -> dict:
    """One output item in the official layout: a four-choice question unless `fields` say otherwise."""
    record = {
        "pid": pid,
        "question": "How many cubes are there?",
        "choices": ["2", "3", "4", "5"],
        "answer": "3",
        "question_type": "multi_choice",
        "answer_type": "text",
        "precision": None,
        "metadata": {},
        "query": "Question: How many cubes are there?\nChoices:\n(A) 2\n(B) 3\n(C) 4\n(D) 5",
        "response": response,
        "extraction": "B",
        "prediction": "3",
        "true_false": verdict,
    }
    return {**record, **fields}


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def test_counts_agreement_apart_from_empty_int_rule_and_other_query_items(tmp_path: Path) -> None:
    items = [
        item("1", "The answer is:\nB", True),
        item("2", "There are 3 cubes.", True),
        item("3", "The cube is red.", True),
        item("4", "", True),
        item(
            "5",
            "It is 1.5",
            False,
            choices=None,
            question_type="free_form",
            answer_type="integer",
            answer="1",
            extraction="1.5",
            prediction=None,
        ),
        item("6", "The answer is (A) 2", True, query="Question: How many?\nChoices:\n(A) 3\n(B) 2"),
    ]
    (tmp_path / "output_hand.json").write_text(json.dumps({record["pid"]: record for record in items}), "utf-8")
    result = run_script("--folder", str(tmp_path), "--json", str(tmp_path / "figures.json"))
    assert result.returncode == 0, result.stderr
    assert "hand: agreement 2/3 = 0.6667" in result.stdout
    assert "int-rule items 0/1 agree" in result.stdout and "empty responses 0/1 agree" in result.stdout
    assert "query listed other choices 0/1 agree" in result.stdout
    figures = json.loads((tmp_path / "figures.json").read_text("utf-8"))["hand"]
    assert figures["counts"] == {
        "scored": 3,
        "agree": 2,
        "empty": 1,
        "empty_agree": 0,
        "int_rule": 1,
        "int_rule_agree": 0,
        "query_choices": 1,
        "query_choices_agree": 0,
    }
    assert list(figures["disagreements"]) == ["rules read no answer (none); official right"]


def test_a_folder_without_outputs_is_one_clear_line(tmp_path: Path) -> None:
    result = run_script("--folder", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"eval_agreement: no output_*.json in {tmp_path}"


@pytest.mark.real_data
@pytest.mark.skipif(not (REAL / "output_bard.json").exists(), reason=f"real MathVista outputs not found at {REAL}")
def test_every_published_model_agrees_at_least_97_percent(tmp_path: Path) -> None:
    result = run_script("--folder", str(REAL), "--json", str(tmp_path / "figures.json"))
    assert result.returncode == 0, result.stderr
    figures = json.loads((tmp_path / "figures.json").read_text("utf-8"))
    assert set(figures) == {"bard", "claude", "llava_llama_2_13b"}
    for model, result_of_model in figures.items():
        counts = result_of_model["counts"]
        assert counts["agree"] / counts["scored"] >= 0.97, model
        assert result_of_model["seconds"] < 10.0
