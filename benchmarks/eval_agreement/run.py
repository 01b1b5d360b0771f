"""Agreement of the rule-based MathVista reader with the official verdicts, per model, on the published outputs.

For every `output_*.json` in the MathVista folder of the shared real data (default `../shared/real/mathvista` from the
project root): score each raw `response` with `rethinker.eval.suites.mathvista.score` and compare with the
official `true_false`. Empty responses (the official GPT step gave them letters) and items whose official verdict came
from an older integer rule (`int(x)`, so the published prediction is None where `int(float(x))` converts) are counted
apart, since no rule reproduces them. Disagreements are grouped by kind and listed with a short excerpt.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from rethinker.eval.suites import mathvista

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / ".." / "shared" / "real" / "mathvista"
EXCERPT_CHARS = 160
QUERY_CHOICE = re.compile(r"^\([A-Z]\) (.*)$", re.MULTILINE)


def is_int_rule_item(item: dict[str, Any]) -> bool:
    """Whether the published verdict used the older `int(x)` rule: an integer question whose extraction converts by
    `int(float(x))` but whose published prediction is None."""
    if item.get("answer_type") != "integer" or item.get("prediction") is not None:
        return False
    try:
        int(float(item.get("extraction")))
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def has_other_query_choices(item: dict[str, Any]) -> bool:
    """Whether the query the model saw listed other choices (or another order) than the file's `choices`: the
    official step read the letter against the query, then mapped it through the file's choices."""
    if not item.get("choices"):
        return False
    listed = QUERY_CHOICE.findall(str(item.get("query", "")).split("Choices:")[-1])
    return listed != [str(choice) for choice in item["choices"]]


def disagreement_kind(item: dict[str, Any], sample: Any) -> str:
    """A coarse label for why the rule verdict and the official verdict differ."""
    official = bool(item["true_false"])
    if not sample.extracted:
        return f"rules read no answer ({sample.rule}); official right"
    if official:
        return f"official right; rules read another answer ({sample.rule})"
    return f"official wrong; rules read the gold ({sample.rule})"


def measure(path: Path) -> dict[str, Any]:
    """Agreement figures and grouped disagreements for one model's output file."""
    output = json.loads(path.read_text(encoding="utf-8"))
    examples = mathvista.load(path)
    counts: Counter[str] = Counter()
    kinds: dict[str, list[str]] = defaultdict(list)
    rules: Counter[str] = Counter()
    started = time.perf_counter()
    for example in examples:
        item = output[example.id]
        response = item.get("response") or ""
        sample = mathvista.score(response, example)
        agrees = (sample.score > 0) == bool(item["true_false"])
        if not response.strip():
            counts["empty"] += 1
            counts["empty_agree"] += agrees
            continue
        apart = "int_rule" if is_int_rule_item(item) else "query_choices" if has_other_query_choices(item) else None
        if apart is not None:
            counts[apart] += 1
            counts[f"{apart}_agree"] += agrees
            continue
        counts["scored"] += 1
        counts["agree"] += agrees
        rules[sample.rule] += 1
        if not agrees:
            tail = " ".join(response.split())[-EXCERPT_CHARS:]
            kinds[disagreement_kind(item, sample)].append(
                f"{example.id}: rules {sample.extracted!r}, official {item['extraction']!r}: ...{tail}"
            )
    elapsed = time.perf_counter() - started
    return {
        "counts": dict(counts),
        "rules": dict(rules.most_common()),
        "seconds": round(elapsed, 2),
        "disagreements": dict(kinds),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the agreement per model (and write JSON with `--json`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="folder holding output_*.json")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    parser.add_argument("--examples", type=int, default=3, help="disagreements shown per kind")
    args = parser.parse_args(argv)
    files = sorted(args.folder.glob("output_*.json"))
    if not files:
        print(f"eval_agreement: no output_*.json in {args.folder}", file=sys.stderr)
        return 2
    report = {}
    for path in files:
        model = path.stem.removeprefix("output_")
        result = report[model] = measure(path)
        counts = result["counts"]
        rate = counts.get("agree", 0) / max(counts.get("scored", 0), 1)
        print(
            f"{model}: agreement {counts.get('agree', 0)}/{counts.get('scored', 0)} = {rate:.4f} on non-empty "
            f"responses; int-rule items {counts.get('int_rule_agree', 0)}/{counts.get('int_rule', 0)} agree; "
            f"query listed other choices {counts.get('query_choices_agree', 0)}/{counts.get('query_choices', 0)} "
            "agree; "
            f"empty responses {counts.get('empty_agree', 0)}/{counts.get('empty', 0)} agree; {result['seconds']} s"
        )
        print("  rules: " + ", ".join(f"{rule} {count}" for rule, count in result["rules"].items()))
        for kind, items in sorted(result["disagreements"].items(), key=lambda pair: -len(pair[1])):
            print(f"  {len(items):3d}  {kind}")
            for line in items[: args.examples]:
                print(f"         {line}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
