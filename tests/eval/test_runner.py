"""`rethinker eval` and `rethinker score` end to end with the tiny model: every benchmark, resume, rethinking, skips."""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rethinker.eval.cli import add_parsers
from rethinker.eval.lengths import default_prompt_limit
from rethinker.eval.registry import BENCHMARK_MODULES, get_benchmark
from rethinker.eval.rescore import oracle_responses
from rethinker.eval.responses import PROMPT_TOO_LONG, PromptStyle, encode_problem
from rethinker.eval.runner import EvalSettings, run_eval
from rethinker.eval.samples_log import ResumeError
from rethinker.models.loading import load_processor

FIXTURES = Path(__file__).parent / "fixtures"
REAL_MATHVISION = Path(__file__).resolve().parents[2].parent / "shared" / "real" / "mathvision"
FIXTURE_DATA = {
    "mathvista": "mathvista_testmini.json",
    "mathvision": "mathvision_sample.jsonl",
    "mathverse": "mathverse/testmini.json",
    "mmmu": "mmmu",
    "mmmu_pro": "mmmu_pro",
    "emma": "emma",
}
"""The data path of each benchmark's fixture, relative to `fixtures/`."""


def benchmark_data(name: str, tmp_path: Path) -> Path:
    """A copy of a benchmark's fixture whose missing pictures are drawn, ready for a real run."""
    if importlib.util.find_spec(BENCHMARK_MODULES[name]) is None:
        pytest.skip(f"{BENCHMARK_MODULES[name]} is not written yet")
    source = FIXTURES / FIXTURE_DATA[name]
    if not source.exists():
        pytest.skip(f"no fixture for {name} at {source}")
    top = FIXTURE_DATA[name].split("/")[0]
    target = tmp_path / "data" / top
    if (FIXTURES / top).is_dir():
        shutil.copytree(FIXTURES / top, target)
    else:
        target.parent.mkdir(parents=True)
        shutil.copy(source, target)
    data = tmp_path / "data" / FIXTURE_DATA[name]
    for example in get_benchmark(name).load(data):
        for index, image in enumerate(example.images):
            if isinstance(image, Path) and not image.exists():
                image.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (56 + 28 * index, 56), (40 * index, 120, 200)).save(image)
    return data


def cli(*argv: str) -> int:
    """Run one sub-command through the parsers `add_parsers` registers."""
    parser = argparse.ArgumentParser(prog="rethinker")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def eval_args(model: Path, benchmark: str, data: Path, out: Path, *extra: str) -> list[str]:
    """`rethinker eval` arguments for a quick tiny-model run."""
    return ["eval", "--model", str(model), "--benchmark", benchmark, "--data", str(data), "--out", str(out)] + [
        "--max-new-tokens",
        "4",
        "--batch-size",
        "3",
        *extra,
    ]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", sorted(FIXTURE_DATA))
def test_eval_runs_every_benchmark_end_to_end(name: str, tiny_dir: Path, tmp_path: Path, capsys) -> None:
    data = benchmark_data(name, tmp_path)
    examples = get_benchmark(name).load(data, limit=3)
    assert cli(*eval_args(tiny_dir, name, data, tmp_path / "out", "--limit", "3")) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    samples = lines(tmp_path / "out" / "samples.jsonl")
    assert [sample["id"] for sample in samples] == [example.id for example in examples]
    assert results["benchmark"] == name and results["counts"]["generated"] == len(examples)
    assert results["generation"]["temperature"] == 0.0 and results["generation"]["max_new_tokens"] == 4
    for sample in samples:
        (attempt,) = sample["details"]["attempts"]
        assert attempt["response"] == sample["response"] and 1 <= attempt["response_tokens"] <= 4
        assert sample["score"] in (0.0, 1.0) and sample["details"]["prompt_tokens"] > 0
    assert "| Group | Accuracy |" in capsys.readouterr().out
    assert "## Generation" in (tmp_path / "out" / "results.md").read_text()


def test_mathvision_testmini_with_real_pictures(tiny_dir: Path, tmp_path: Path) -> None:
    if not (REAL_MATHVISION / "testmini.jsonl").exists():
        pytest.skip(f"real MATH-V data not found at {REAL_MATHVISION} (a clone without ../shared/real)")
    out = tmp_path / "out"
    argv = eval_args(tiny_dir, "mathvision", REAL_MATHVISION / "testmini.jsonl", out, "--limit", "6")
    assert cli(*argv, "--max-pixels", str(112 * 112)) == 0
    samples = lines(out / "samples.jsonl")
    results = json.loads((out / "results.json").read_text())
    assert len(samples) == 6 and results["overall"]["total"] == 6
    assert set(results["level"]) and results["counts"]["skipped"] == 0
    assert all(sample["details"]["prompt_tokens"] > 16 for sample in samples)


def test_a_stopped_run_resumes_without_redoing_finished_problems(tiny_dir: Path, tmp_path: Path, capsys) -> None:
    data = benchmark_data("mathvista", tmp_path)
    out = tmp_path / "out"
    assert cli(*eval_args(tiny_dir, "mathvista", data, out, "--limit", "3")) == 0
    first = (out / "samples.jsonl").read_bytes()
    with (out / "samples.jsonl").open("ab") as handle:
        handle.write(b'{"id": "4", "response": "cut sho')
    capsys.readouterr()
    assert cli(*eval_args(tiny_dir, "mathvista", data, out, "--limit", "6")) == 0
    counts = json.loads((out / "results.json").read_text())["counts"]
    assert counts["resumed"] == 3 and counts["generated"] == 3 and counts["examples"] == 6
    assert (out / "samples.jsonl").read_bytes().startswith(first)
    assert "3/6" in capsys.readouterr().err
    assert cli(*eval_args(tiny_dir, "mathvista", data, out, "--limit", "6")) == 0
    assert json.loads((out / "results.json").read_text())["counts"]["generated"] == 0


@pytest.mark.slow
def test_a_killed_run_resumes_where_it_stopped(tiny_dir: Path, tmp_path: Path) -> None:
    data = benchmark_data("mathvista", tmp_path)
    out = tmp_path / "out"
    argv = eval_args(tiny_dir, "mathvista", data, out, "--batch-size", "1")
    code = (
        "import argparse, sys\n"
        "from rethinker.eval.cli import add_parsers\n"
        "parser = argparse.ArgumentParser()\n"
        "add_parsers(parser.add_subparsers(dest='command', required=True))\n"
        "args = parser.parse_args(sys.argv[1:])\n"
        "sys.exit(args.func(args))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, *argv], stderr=subprocess.DEVNULL)
    log = out / "samples.jsonl"
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if log.exists() and log.read_bytes().count(b"\n") >= 2:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = log.read_bytes()
    done = saved[: saved.rfind(b"\n") + 1]
    finished = done.count(b"\n")
    assert 2 <= finished < 8
    assert cli(*argv) == 0
    counts = json.loads((out / "results.json").read_text())["counts"]
    assert (counts["resumed"], counts["generated"]) == (finished, 8 - finished)
    assert log.read_bytes().startswith(done)


def test_resuming_with_other_settings_or_a_smaller_selection_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    data = benchmark_data("mathvista", tmp_path)
    out = tmp_path / "out"
    assert cli(*eval_args(tiny_dir, "mathvista", data, out, "--limit", "2")) == 0
    settings = EvalSettings(str(tiny_dir), "mathvista", data, out, max_new_tokens=4, samples=2)
    with pytest.raises(ResumeError, match="samples: 1 -> 2"):
        run_eval(settings)
    with pytest.raises(ValueError, match="outside this selection"):
        run_eval(EvalSettings(str(tiny_dir), "mathvista", data, out, limit=1, max_new_tokens=4))


def test_rethink_scores_both_responses_and_summarises_the_flips(tiny_dir: Path, tmp_path: Path) -> None:
    data = benchmark_data("mathvista", tmp_path)
    out = tmp_path / "out"
    assert cli(*eval_args(tiny_dir, "mathvista", data, out, "--rethink", "--limit", "4")) == 0
    results = json.loads((out / "results.json").read_text())
    samples = lines(out / "samples.jsonl")
    rethink = results["rethink"]
    before = [sample["score"] > 0 for sample in samples]
    after = [sample["details"]["attempts"][0]["rethink"]["score"] > 0 for sample in samples]
    assert rethink["trigger"] == "\n\nWait" and results["generation"]["trigger"] == "\n\nWait"
    assert rethink["acc_before"] == pytest.approx(sum(before) / len(samples))
    assert rethink["acc_after"] == pytest.approx(sum(after) / len(samples))
    assert rethink["wrong_to_right"] == pytest.approx(
        sum(a and not b for a, b in zip(after, before, strict=True)) / len(samples)
    )
    assert rethink["with_rethink"]["average"]["correct"] == sum(after)
    for sample in samples:
        second = sample["details"]["attempts"][0]["rethink"]
        assert "\n\nWait" in second["response"] and 1 <= second["continuation_tokens"] <= 4


def test_samples_give_pass_and_maj_rows(tiny_dir: Path, tmp_path: Path) -> None:
    data = benchmark_data("mathvista", tmp_path)
    out = tmp_path / "out"
    assert cli(*eval_args(tiny_dir, "mathvista", data, out, "--samples", "4", "--limit", "3")) == 0
    results = json.loads((out / "results.json").read_text())
    samples = lines(out / "samples.jsonl")
    assert list(results["sampling"]) == ["pass@1", "pass@2", "pass@4", "maj@4"]
    assert results["generation"]["temperature"] == 1.0
    assert all(len(sample["details"]["attempts"]) == 4 for sample in samples)
    mean = sum(a["score"] for s in samples for a in s["details"]["attempts"]) / 12 * 100
    assert results["sampling"]["pass@1"]["accuracy"] == pytest.approx(mean, abs=0.01)


def test_an_over_long_prompt_is_skipped_and_counted_wrong(tiny_dir: Path, tmp_path: Path) -> None:
    data = benchmark_data("mathvision", tmp_path)
    benchmark = get_benchmark("mathvision")
    examples = benchmark.load(data)
    processor = load_processor(tiny_dir)
    lengths = {e.id: encode_problem(e, benchmark, PromptStyle(), processor, None).length for e in examples}
    limit = sorted(lengths.values())[len(lengths) // 2]
    out = tmp_path / "out"
    assert cli(*eval_args(tiny_dir, "mathvision", data, out, "--max-prompt-tokens", str(limit))) == 0
    results = json.loads((out / "results.json").read_text())
    samples = lines(out / "samples.jsonl")
    skipped = {s["id"] for s in samples if s["rule"] == PROMPT_TOO_LONG}
    assert skipped == {example_id for example_id, length in lengths.items() if length > limit}
    assert 0 < results["counts"]["skipped"] == len(skipped) < len(examples)
    assert results["overall"]["total"] == len(examples)
    for sample in samples:
        assert sample["details"]["prompt_tokens"] == lengths[sample["id"]]
        if sample["id"] in skipped:
            assert sample["score"] == 0.0 and sample["details"]["attempts"] == []


def test_default_prompt_limit_leaves_room_for_responses_and_rethinks() -> None:
    assert default_prompt_limit(2048, 512, None) == 1536
    assert default_prompt_limit(2048, 512, 3) == 2048 - 1027
    with pytest.raises(ValueError, match="no room for a prompt"):
        default_prompt_limit(1024, 512, 3)


def test_settings_refuse_identical_samples() -> None:
    with pytest.raises(ValueError, match="temperature above 0"):
        EvalSettings("tiny", "mathvista", Path("x"), Path("y"), samples=4, temperature=0.0)


def test_score_command_rescores_saved_responses(tmp_path: Path, capsys) -> None:
    benchmark = get_benchmark("mathvista")
    data = FIXTURES / "mathvista_testmini.json"
    examples = benchmark.load(data)
    responses = oracle_responses(benchmark, examples)
    responses[examples[0].id] = "I cannot tell."
    file = tmp_path / "responses.jsonl"
    file.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in responses.items()))
    argv = ["score", "--benchmark", "mathvista", "--data", str(data), "--responses", str(file)]
    assert cli(*argv, "--out", str(tmp_path / "out")) == 0
    average = json.loads((tmp_path / "out" / "results.json").read_text())["average"]
    assert (average["correct"], average["total"]) == (len(examples) - 1, len(examples))
    assert "| average |" in capsys.readouterr().out
    file.write_text(file.read_text().split("\n", 1)[1])
    assert cli(*argv, "--out", str(tmp_path / "again")) == 2
    assert "have no response" in capsys.readouterr().err


def test_unknown_benchmark_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert cli("eval", "--model", "tiny", "--benchmark", "nope", "--data", "x", "--out", str(tmp_path)) == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err
