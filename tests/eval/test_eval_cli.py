"""`rethinker eval` and `rethinker score` as typed: defaults on the tiny model, train-aligned prompting, the vLLM
engine, unmatched response ids, and the rethinking figures of results.md."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from PIL import Image

from rethinker.eval.alignment import find_run_config, read_trained_prompting
from rethinker.eval.lengths import DEFAULT_RESPONSE_TOKENS, default_response_tokens
from rethinker.models.paths import resolve_model_path

FIXTURES = Path(__file__).parent / "fixtures"
FAKE_VLLM = Path(__file__).parent / "fake_vllm"
CLI = Callable[..., Any]


def mathvision_data(folder: Path, count: int = 3) -> Path:
    """A small MATH-V file with drawn pictures: open answers and one multiple choice."""
    (folder / "images").mkdir(parents=True)
    rows = []
    for index in range(count):
        Image.new("RGB", (56, 56), (30 * index, 100, 200)).save(folder / "images" / f"{index}.png")
        options = ["1", "2", "3", "4", "5"] if index == 0 else []
        rows.append(
            {
                "id": str(index),
                "question": f"How many dots are there? <image1> ({index})",
                "options": options,
                "answer": "B" if options else str(index + 2),
                "solution": None,
                "level": 1 + index % 2,
                "subject": "counting",
                "image": f"images/{index}.png",
            }
        )
    path = folder / "testmini.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def eval_argv(model: str | Path, data: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--model", str(model), "--benchmark", "mathvision", "--data", str(data), "--out", str(out), *extra]


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_eval_works_with_its_own_defaults_on_the_tiny_model(rethinker_cli: CLI, tmp_path: Path) -> None:
    data = mathvision_data(tmp_path / "data", 2)
    result = rethinker_cli(*eval_argv("tiny", data, tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    generation = results(tmp_path / "out")["generation"]
    assert generation["max_new_tokens"] == default_response_tokens(2048, rethink=False) == 1024
    assert generation["template"] == "official" and generation["aligned_with"] is None
    assert generation["engine"] == "hf"
    assert "| overall |" in result.stdout


def test_a_response_length_that_does_not_fit_names_the_flag(
    rethinker_cli: CLI, user_error: Callable[..., None], tmp_path: Path
) -> None:
    data = mathvision_data(tmp_path / "data", 1)
    result = rethinker_cli(*eval_argv("tiny", data, tmp_path / "out", "--max-new-tokens", "4096"))
    user_error(result, "context of 2048", "lower --max-new-tokens")
    result = rethinker_cli(
        *eval_argv("tiny", data, tmp_path / "o2", "--max-new-tokens", "8", "--max-prompt-tokens", "2045")
    )
    user_error(result, "--max-prompt-tokens 2045", "exceed the model's context of 2048")


def test_default_response_length_leaves_half_the_context_to_prompts() -> None:
    assert default_response_tokens(32768, rethink=False) == DEFAULT_RESPONSE_TOKENS
    assert default_response_tokens(2048, rethink=True) == (1024 - 16) // 2
    assert default_response_tokens(4, rethink=True) == 1


def make_run(tmp_path: Path, **config: Any) -> Path:
    """RUN_DIR with a config.yaml and checkpoints/step-2 holding the tiny model's files."""
    run = tmp_path / "run"
    checkpoint = run / "checkpoints" / "step-2"
    shutil.copytree(resolve_model_path("tiny"), checkpoint)
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return checkpoint


TRAINED = {
    "run_dir": "runs/aligned",
    "model": {"path": "tiny", "min_pixels": 3136, "max_pixels": 12544},
    "prompt": {"template": "rethink", "system": "Think first.", "max_prompt_tokens": 1024},
    "rollout": {"max_new_tokens": 64},
    "stages": [{"steps": 1, "max_new_tokens": 5, "group_size": 2}, {"steps": 1, "max_new_tokens": 6, "group_size": 2}],
}


def test_a_checkpoint_is_asked_as_its_run_was_trained(rethinker_cli: CLI, tmp_path: Path) -> None:
    checkpoint = make_run(tmp_path, **TRAINED)
    data = mathvision_data(tmp_path / "data", 2)
    result = rethinker_cli(*eval_argv(checkpoint, data, tmp_path / "aligned"))
    assert result.returncode == 0, result.stderr[-2000:]
    generation = results(tmp_path / "aligned")["generation"]
    assert generation["aligned_with"] == str((tmp_path / "run" / "config.yaml").resolve())
    assert "asking as trained" in result.stderr
    assert (generation["template"], generation["system"]) == ("rethink", "Think first.")
    assert (generation["min_pixels"], generation["max_pixels"], generation["max_new_tokens"]) == (3136, 12544, 6)
    samples = [json.loads(line) for line in (tmp_path / "aligned" / "samples.jsonl").read_text().splitlines()]
    assert all(attempt["response_tokens"] <= 6 for s in samples for attempt in s["details"]["attempts"])

    argv = eval_argv(checkpoint, data, tmp_path / "official", "--template", "official", "--max-new-tokens", "3")
    result = rethinker_cli(*argv)
    assert result.returncode == 0, result.stderr[-2000:]
    generation = results(tmp_path / "official")["generation"]
    assert (generation["template"], generation["system"], generation["max_new_tokens"]) == ("official", None, 3)
    assert generation["max_pixels"] == 12544


def test_sft_runs_give_their_template_and_malformed_configs_name_the_key(tmp_path: Path) -> None:
    checkpoint = make_run(tmp_path, run_dir="runs/sft", data={"template": "r1"}, model={"max_pixels": "big"})
    config = find_run_config(str(checkpoint))
    assert config == tmp_path / "run" / "config.yaml"
    try:
        read_trained_prompting(config)
    except ValueError as error:
        assert "'model.max_pixels' must be a positive integer" in str(error)
    else:
        raise AssertionError("a bad max_pixels was accepted")
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"run_dir": "runs/sft", "data": {"template": "r1"}}))
    assert read_trained_prompting(config).template == "r1"
    mixed = {"run_dir": "runs/sft", "data": {"template": ["rethink", "default"]}}
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(mixed))
    assert read_trained_prompting(config).template == "rethink", "several templates: the first"
    assert find_run_config("tiny") is None
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump({"some_other_tool": True}))
    assert find_run_config(str(checkpoint)) is None


def test_eval_with_the_vllm_engine_uses_the_rollout_engine(rethinker_cli: CLI, tmp_path: Path) -> None:
    data = mathvision_data(tmp_path / "data", 2)
    path = os.pathsep.join(filter(None, [str(FAKE_VLLM), os.environ.get("PYTHONPATH")]))
    result = rethinker_cli(
        *eval_argv("tiny", data, tmp_path / "out", "--engine", "vllm", "--max-new-tokens", "8"), PYTHONPATH=path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert results(tmp_path / "out")["generation"]["engine"] == "vllm"
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    # The stand-in answers every greedy request with two tokens and EOS.
    assert [s["details"]["attempts"][0]["response_tokens"] for s in samples] == [3, 3]
    assert all(s["details"]["attempts"][0]["ended_with_eos"] for s in samples)


def test_rethink_figures_are_in_results_md(rethinker_cli: CLI, tmp_path: Path) -> None:
    data = mathvision_data(tmp_path / "data", 3)
    result = rethinker_cli(*eval_argv("tiny", data, tmp_path / "out", "--rethink", "--max-new-tokens", "4"))
    assert result.returncode == 0, result.stderr[-2000:]
    rethink = results(tmp_path / "out")["rethink"]
    flips = rethink["flips"]
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    after = [s["details"]["attempts"][0]["rethink"]["score"] > 0 for s in samples]
    assert flips["right_after"] == sum(after) and flips["problems"] == 3
    markdown = (tmp_path / "out" / "results.md").read_text()
    assert f"accuracy before rethinking: {rethink['acc_before'] * 100:.2f}% ({flips['right_before']}/3)" in markdown
    assert f"accuracy after rethinking: {rethink['acc_after'] * 100:.2f}% ({flips['right_after']}/3)" in markdown
    assert f"wrong -> right: {flips['wrong_to_right']}" in markdown
    assert f"right -> wrong: {flips['right_to_wrong']}" in markdown


def write_responses(path: Path, responses: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in responses.items()))
    return path


def test_score_refuses_responses_to_another_benchmark(
    rethinker_cli: CLI, user_error: Callable[..., None], tmp_path: Path
) -> None:
    mathvision_ids = {f"mv-{index}": "The answer is \\boxed{2}." for index in range(8)}
    responses = write_responses(tmp_path / "mathvision.jsonl", mathvision_ids)
    data = FIXTURES / "mathvista_testmini.json"
    result = rethinker_cli(
        "score",
        "--benchmark",
        "mathvista",
        "--data",
        str(data),
        "--responses",
        str(responses),
        "--out",
        str(tmp_path / "out"),
        "--allow-missing",
    )
    user_error(result, "8 of 8 responses match no mathvista problem id", "'mv-0'", "--benchmark")
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out" / "results.json").exists()


def test_score_counts_and_prints_unmatched_and_missing_ids(rethinker_cli: CLI, tmp_path: Path) -> None:
    data = FIXTURES / "mathvista_testmini.json"
    ids = [json.loads(line)["pid"] if False else key for key, line in json.loads(data.read_text()).items()]
    answers = {pid: "The final answer is \\boxed{1}." for pid in ids[1:]}
    answers["stray"] = "\\boxed{3}"
    responses = write_responses(tmp_path / "r.jsonl", answers)
    argv = ["score", "--benchmark", "mathvista", "--data", str(data), "--responses", str(responses)]
    result = rethinker_cli(*argv, "--out", str(tmp_path / "out"), "--allow-missing")
    assert result.returncode == 0, result.stderr[-2000:]
    counts = results(tmp_path / "out")["counts"]
    assert (counts["unmatched"], counts["unmatched_ids"], counts["missing"], counts["missing_ids"]) == (
        1,
        ["stray"],
        1,
        [ids[0]],
    )
    assert (
        f"responses: {len(ids)} read, 1 match no problem (e.g. stray), 1 problem(s) without a response" in result.stdout
    )
    assert "unmatched: 1" in (tmp_path / "out" / "results.md").read_text()
    limited = rethinker_cli(*argv, "--out", str(tmp_path / "limited"), "--limit", "3", "--allow-missing")
    assert limited.returncode == 0 and results(tmp_path / "limited")["counts"]["unmatched"] == 1
