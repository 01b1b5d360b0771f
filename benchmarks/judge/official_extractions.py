"""Feed MathVista's official GPT extractions through the judge path and compare with the official verdicts.

Usage: python benchmarks/judge/official_extractions.py [../shared/real/mathvista]
Each published `extraction` stands in for a judge reply: it is read as the judge's answer (`answer_of`), written as
a boxed statement and scored by the project's MathVista rules, as `--judge` does; the verdict is compared with the
published `true_false`. This checks the judge path after the request, not any judge model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rethinker.eval.judge import answer_of, boxed_statement
from rethinker.eval.suites.mathvista import BENCHMARK

OUTPUTS = ("output_bard.json", "output_claude.json", "output_llava_llama_2_13b.json")


def main() -> None:
    """Print agreement per model and each disagreement."""
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/real/mathvista")
    examples = {example.id: example for example in BENCHMARK.load(folder / "testmini.json")}
    for name in OUTPUTS:
        records = json.loads((folder / name).read_text(encoding="utf-8"))
        agree = 0
        for pid, record in records.items():
            answer = answer_of(str(record.get("extraction") or ""))
            verdict = answer is not None and BENCHMARK.score(boxed_statement(answer), examples[pid]).score == 1.0
            agree += verdict == bool(record["true_false"])
            if verdict != bool(record["true_false"]):
                print(f"  {name} pid {pid}: extraction {record['extraction']!r}, official {record['true_false']}")
        print(f"{name}: {agree}/{len(records)} verdicts agree")


if __name__ == "__main__":
    main()
