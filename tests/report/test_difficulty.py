"""The pass-rate difficulty report: bucket counts overall and per category, the table and the histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from rethinker.data.schema import Example
from rethinker.report.difficulty import bucket_counts, difficulty_report, parse_pass_rate

RATES = (0.0, 0.1, 0.125, 0.25, 0.375, 0.5, 0.7, 0.75, 0.875, 1.0)


def _example(index: int, **metadata: Any) -> Example:
    return Example(id=f"q{index}", question="How many?", answer="3", metadata=metadata)


def test_bucket_counts_follow_the_paper_thresholds() -> None:
    counts = bucket_counts(RATES)
    assert counts == {"all-false": 2, "hard": 2, "medium": 3, "easy": 2, "all-true": 1}
    assert list(counts) == ["all-false", "hard", "medium", "easy", "all-true"]
    assert bucket_counts([]) == dict.fromkeys(counts, 0)


def test_parse_pass_rate_accepts_numbers_and_numeric_text_only() -> None:
    assert parse_pass_rate(0.25, "q") == 0.25 and parse_pass_rate("0.5", "q") == 0.5 and parse_pass_rate(1, "q") == 1
    assert parse_pass_rate(None, "q") is None and parse_pass_rate(float("nan"), "q") is None
    with pytest.raises(ValueError, match="q7: pass rate 1.5 is outside"):
        parse_pass_rate(1.5, "q7")
    with pytest.raises(ValueError, match="not a number"):
        parse_pass_rate("often", "q")
    with pytest.raises(ValueError, match="not a number"):
        parse_pass_rate(True, "q")


def test_report_counts_per_category_and_writes_table_and_histogram(tmp_path: Path) -> None:
    categories = ("geometry", "chart") * 5
    examples = [
        _example(i, PassRate_7BBase=rate, category=category)
        for i, (rate, category) in enumerate(zip(RATES, categories, strict=True))
    ]
    examples += [_example(10, PassRate_7BBase=None, category="chart"), _example(11, PassRate_7BBase=0.5)]
    report = difficulty_report(examples, "PassRate_7BBase", tmp_path / "out", category_key="category")
    assert report.overall == {"all-false": 2, "hard": 2, "medium": 4, "easy": 2, "all-true": 1}
    # geometry: 0.0, 0.125, 0.375, 0.7, 0.875; chart: 0.1, 0.25, 0.5, 0.75, 1.0
    assert report.by_category["geometry"] == {"all-false": 1, "hard": 1, "medium": 2, "easy": 1, "all-true": 0}
    assert report.by_category["chart"] == {"all-false": 1, "hard": 1, "medium": 1, "easy": 1, "all-true": 1}
    assert report.by_category["(none)"] == {"all-false": 0, "hard": 0, "medium": 1, "easy": 0, "all-true": 0}
    assert report.missing == 1
    table = report.markdown.read_text()
    assert f"| all | 2 | 2 | 4 | 2 | 1 | 11 | {(sum(RATES) + 0.5) / 11:.3f} |" in table
    assert "| chart | 1 | 1 | 1 | 1 | 1 | 5 | 0.520 |" in table
    assert table.index("| chart |") < table.index("| (none) |")
    assert "1 examples have no pass rate" in table and "![pass rates](difficulty.png)" in table
    with Image.open(report.figure) as image:
        assert image.format == "PNG" and image.size[0] >= 400 and image.size[1] >= 250


def test_report_without_categories_has_one_row(tmp_path: Path) -> None:
    examples = [_example(i, pass_rate=str(rate)) for i, rate in enumerate(RATES)]
    report = difficulty_report(examples, "pass_rate", tmp_path)
    assert report.by_category == {} and report.missing == 0
    rows = [line for line in report.markdown.read_text().splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 2 and rows[1].startswith("| all | 2 | 2 | 3 | 2 | 1 | 10 |")


def test_report_errors_name_the_column_or_example(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no example has a pass rate in metadata 'PassRate_32BTrained'"):
        difficulty_report([_example(0, PassRate_7BBase=0.5)], "PassRate_32BTrained", tmp_path)
    with pytest.raises(ValueError, match="example 'q3' metadata 'rate'"):
        difficulty_report([_example(3, rate=-0.1)], "rate", tmp_path)
