"""The page script's pure parts, run under Node when it is installed: LaTeX rendering and answer splitting."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources

import pytest

NODE = shutil.which("node")
HARNESS = """
const fs = require("fs");
const vm = require("vm");
const element = () => ({ dataset: {}, append() {}, addEventListener() {} });
const elements = {};
const context = {
  document: { getElementById: (id) => (elements[id] ||= element()), addEventListener() {}, body: element() },
  fetch: () => Promise.reject(new Error("no server in this test")),
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[1], "utf8"), context);
const cases = JSON.parse(process.argv[2]);
const results = cases.map(([fn, text]) => vm.runInContext(fn, context)(text));
console.log(JSON.stringify(results));
"""


def _run(cases: list[tuple[str, str]]) -> list:
    script = resources.files("rethinker.serve").joinpath("static/app.js")
    completed = subprocess.run(
        [NODE, "-e", HARNESS, str(script), json.dumps(cases)], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(completed.stdout)


pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")


def test_latex_renders_to_our_own_markup_and_escapes_the_rest() -> None:
    fraction, boxed, scripts, hostile, deep = _run(
        [
            ("renderTex", "\\frac{1}{2}"),
            ("renderTex", "$\\boxed{3 \\times 4}$"),
            ("renderTex", "x^{2} + a_1 \\le \\pi"),
            ("renderTex", '<img src=x onerror="alert(1)"> \\unknown'),
            ("renderTex", "{" * 200 + "x" + "}" * 200),
        ]
    )
    assert fraction == '<span class="frac"><span class="num">1</span><span class="den">2</span></span>'
    assert boxed == '<span class="boxed">3 × 4</span>'
    assert scripts == "x<sup>2</sup> + a<sub>1</sub> ≤ π"
    assert "<img" not in hostile and "&lt;img" in hostile and "\\unknown" in hostile
    assert "x" in deep and "<" not in deep


def test_reasoning_and_final_answer_are_split() -> None:
    r1, boxed, unfinished, none = _run(
        [
            ("splitResponse", "<think>I see three dots.</think> <answer>Final Answer: \\boxed{3}</answer>"),
            ("splitResponse", "First \\boxed{4}, then on reflection \\boxed{\\frac{1}{2}}"),
            ("splitResponse", "<think>still counting"),
            ("splitResponse", "no answer"),
        ]
    )
    assert r1 == {"thinking": "I see three dots.", "answer": "3"}
    assert boxed["answer"] == "\\frac{1}{2}"
    assert unfinished == {"thinking": "still counting", "answer": None}
    assert none == {"thinking": "no answer", "answer": None}
