"""Compare the project's MM-Math verdicts with the official `AutoScoringJudge` on hand-made cases.

Usage: python benchmarks/mmmath/check_official.py --official PATH/TO/MM-Math/eval.py --official-python PYTHON
The official judge needs sympy's LaTeX parser (antlr4-python3-runtime 4.11), so it runs in its own interpreter. Each
case is a reference solution and a response; the official rule (both must hold a box; precision 1e-2, its CLI default)
is applied as its `__main__` does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from rethinker.data.schema import Example
from rethinker.eval.suites.mmmath import joined_answer, score

CASES = Path(__file__).with_name("cases.json")
OFFICIAL_RUNNER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("official", sys.argv[1])
official = importlib.util.module_from_spec(spec)
spec.loader.exec_module(official)
judge = official.AutoScoringJudge()
verdicts = []
for case in json.load(open(sys.argv[2], encoding="utf-8")):
    gold, response = case["gold"], case["response"]
    try:
        verdict = "\\\\boxed{" in gold and "\\\\boxed{" in response and judge.judge(gold, response, 1e-2)
    except Exception:
        verdict = False
    verdicts.append(bool(verdict))
print(json.dumps(verdicts))
"""


def project_verdicts(cases: list[dict[str, str]]) -> list[bool]:
    """The project's verdict on each case."""
    verdicts = []
    for index, case in enumerate(cases):
        example = Example(id=str(index), question="", answer=joined_answer(case["gold"]) or "")
        verdicts.append(score(case["response"], example).score == 1.0)
    return verdicts


def main() -> None:
    """Print agreement and every disagreement."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--official", required=True, type=Path)
    parser.add_argument("--official-python", required=True)
    args = parser.parse_args()
    cases = json.loads(CASES.read_text(encoding="utf-8"))
    output = subprocess.run(
        [args.official_python, "-c", OFFICIAL_RUNNER, str(args.official), str(CASES)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    ).stdout
    official = json.loads(output.strip().splitlines()[-1])
    ours = project_verdicts(cases)
    agree = sum(a == b for a, b in zip(official, ours, strict=True))
    print(f"{agree}/{len(cases)} verdicts agree")
    for case, theirs, mine in zip(cases, official, ours, strict=True):
        if theirs != mine:
            print(f"official {theirs} project {mine}: gold {case['gold']!r} response {case['response']!r}")


if __name__ == "__main__":
    main()
