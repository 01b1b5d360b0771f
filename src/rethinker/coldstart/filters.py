"""Stage 4 of modality bridging as pure functions: answer checks, logic-consistency rules, word replacement, wrapping.

Every function here reads only its arguments and runs in time linear in its (bounded) input, so untrusted model text
can never hang the pipeline.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

from rethinker.coldstart.config import FilterConfig

MAX_ANSWER_CHARS = 500
"""Longest final answer compared; longer ones are cut before normalising."""

BOXED_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
BRACE = re.compile(r"[{}]")
ANSWER_LINE = re.compile(
    r"^[ \t>*#_]*(?:final\s+)?answer[ \t*_]*[:：][ \t*_]*(\S[^\n]*)$", re.IGNORECASE | re.MULTILINE
)
ANSWER_PHRASE = re.compile(
    r"\b(?:the\s+)?(?:final\s+|correct\s+)?answer\s+(?:is|should\s+be|would\s+be|must\s+be|=)(?:\s*:)?\s*(?=\S)",
    re.IGNORECASE,
)
PHRASE_END = re.compile(r"(?:[.;!?](?:\s|$)|,\s|\s+(?:because|since|as|which)\b)")
HESITATION = re.compile(
    r"\b(?:wait|actually|hmm+|on\s+second\s+thought|let\s+me\s+re(?:check|consider|think|examine|evaluate)|"
    r"but\s+let\s+me|however,\s+let)\b",
    re.IGNORECASE,
)
CANNOT_SEE_IMAGE = re.compile(
    r"\b(?:i (?:can(?:no|'|’)t|am (?:unable|not able) to|do(?:n'|n’| no)t have access to|have no access to) "
    r"(?:(?:see|view|access|look at) )?(?:(?:the|an?|any) )?(?:image|picture|figure|diagram|photo)"
    r"|(?:image|picture|figure|diagram|photo) (?:is|was) not (?:provided|attached|available|included|shown|visible)"
    r"|no (?:image|picture|figure|diagram|photo) (?:(?:is|was) )?(?:provided|attached|available|given|included)"
    r"|without (?:seeing|viewing|access to) the (?:actual )?(?:image|picture|figure|diagram|photo)"
    r"|as a (?:text(?:-based)?|language) model)",
    re.IGNORECASE,
)
"""Phrases of a reasoning that admits it cannot see the image; matched on text whose whitespace runs are single spaces,
so every gap is one literal space and matching stays linear."""
STRAY_TAGS = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)
LETTER_GOLD = re.compile(r"\(?([a-k])\)?")
LETTER_PRED = re.compile(r"(?:option\s+|choice\s+)?\(?([a-k])\)?(?:[.:)]|\s|$)")
SEVERAL_LETTERS = re.compile(r"\(?[a-k]\)?\s*(?:,|/|&|\bor\b|\band\b)\s*\(?[a-k]\b")
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"
NUMBER_WITH_UNIT = re.compile(rf"({NUMBER}) ?(?:%|°|[a-z]+(?: [a-z]+){{0,2}}(?:\^\{{?[23]\}}?|²|³)?)?")
FRACTION = re.compile(rf"(-)?\\frac\{{({NUMBER})\}}\{{({NUMBER})\}}|({NUMBER})\s*/\s*({NUMBER})")
THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
ASSIGNMENT = re.compile(r"[a-z](?:_\{?\w+\}?)?\s*=\s*(.+)")
TEXT_MACRO = re.compile(r"\\(?:text|mathrm|textbf|mathbf|operatorname|mbox)\s*\{([^{}]*)\}")
LATEX_NOISE = re.compile(r"\\left|\\right|\\[!,;:]|\\displaystyle|\$|\\\(|\\\)|\\\[|\\\]|\*\*")
DEGREES = re.compile(r"\^\s*\{?\\circ\}?|°|\\degree|\s*degrees?\b")


DESCRIPTION_WORDS: tuple[tuple[str, str], ...] = (
    ("the description says", "the image shows"),
    ("the description states", "the image shows"),
    ("the description shows", "the image shows"),
    ("the description mentions", "the image shows"),
    ("the description indicates", "the image shows"),
    ("the description notes", "the image shows"),
    ("the description tells us", "the image shows"),
    ("the description describes", "the image shows"),
    ("image description", "image"),
    ("as described", "as shown"),
    ("a description", "an image"),
    ("descriptions", "images"),
    ("description", "image"),
    ("described", "shown"),
    ("describes", "shows"),
)
"""Replacements, in priority order, so the reasoning speaks of the image it will be trained with, not the text it
read. Matching ignores case and whole words only; the replacement takes the case of the matched text."""

DESCRIPTION_PATTERN = re.compile(
    r"\b(?:" + "|".join(r"\s+".join(map(re.escape, phrase.split())) for phrase, _ in DESCRIPTION_WORDS) + r")\b",
    re.IGNORECASE,
)
DESCRIPTION_LOOKUP = {phrase: replacement for phrase, replacement in DESCRIPTION_WORDS}


@dataclass(frozen=True)
class Statement:
    """An answer stated in a text: where it sits, what it says, and which rule found it."""

    start: int
    end: int
    answer: str
    rule: str


@dataclass(frozen=True)
class FilterResult:
    """The verdict on one reasoning: `reason` is None when kept, and `response` is then the wrapped training text."""

    reason: str | None
    detail: str
    response: str
    final_answer: str | None
    rule: str | None


def closing_braces(text: str) -> dict[int, int]:
    """For every `{` that closes, the index of its matching `}` (one pass, any nesting depth)."""
    openings: list[int] = []
    pairs: dict[int, int] = {}
    for brace in BRACE.finditer(text):
        if brace.group() == "{":
            openings.append(brace.start())
        elif openings:
            pairs[openings.pop()] = brace.start()
    return pairs


def boxed_statements(text: str) -> list[Statement]:
    """Every brace-balanced `\\boxed{...}` (or `\\fbox{...}`) in order; unclosed ones are skipped."""
    openings = list(BOXED_OPEN.finditer(text))
    pairs = closing_braces(text) if openings else {}
    found: list[Statement] = []
    for match in openings:
        closing = pairs.get(match.end() - 1)
        if closing is not None:
            content = text[match.end() : min(closing, match.end() + MAX_ANSWER_CHARS)].strip()
            found.append(Statement(match.start(), closing + 1, content, "boxed"))
    return found


def ends_inside_boxed(text: str) -> bool:
    """True when the last `\\boxed{` never closes: the text was cut in the middle of its answer."""
    openings = list(BOXED_OPEN.finditer(text))
    return bool(openings) and not any(s.start == openings[-1].start() for s in boxed_statements(text))


def phrase_answer(raw: str) -> str:
    """The answer part of "the answer is ..." up to the end of its clause."""
    cut = PHRASE_END.search(raw)
    return (raw[: cut.start()] if cut else raw).strip().rstrip(".").strip()


def merged_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of (start, end) spans sorted by start, as sorted disjoint spans."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def stated_answers(text: str) -> list[Statement]:
    """All answers a text states, in reading order: boxed, `<answer>` tags, `Answer:` lines, "the answer is" phrases."""
    found = boxed_statements(text)
    boxed = merged_spans([(statement.start, statement.end) for statement in found])
    boxed_starts = [start for start, _ in boxed]
    lowered = text.lower()
    start = lowered.rfind("<answer>")
    end = lowered.find("</answer>", start) if start >= 0 else -1
    if end >= 0:
        content = text[start + len("<answer>") : min(end, start + len("<answer>") + MAX_ANSWER_CHARS)].strip()
        found.append(Statement(start, end + len("</answer>"), content, "answer_tag"))
    phrases = [("answer_line", match.start(), match.start(1)) for match in ANSWER_LINE.finditer(text)]
    phrases += [("answer_is", match.start(), match.end()) for match in ANSWER_PHRASE.finditer(text)]
    for rule, start, answer_start in phrases:
        answer = phrase_answer(text[answer_start : answer_start + MAX_ANSWER_CHARS].split("\n", 1)[0])
        answer_end = answer_start + len(answer)
        last_before = bisect.bisect_left(boxed_starts, answer_end) - 1
        overlaps_boxed = last_before >= 0 and boxed[last_before][1] > answer_start
        if answer and not overlaps_boxed:
            found.append(Statement(start, answer_end, answer, rule))
    return sorted(found, key=lambda statement: statement.start)


def extract_final_answer(text: str) -> Statement | None:
    """The final answer by rule priority: the last boxed, else `<answer>`, else the last `Answer:` line, else phrase."""
    statements = stated_answers(text)
    for rule in ("boxed", "answer_tag", "answer_line", "answer_is"):
        matching = [statement for statement in statements if statement.rule == rule]
        if matching:
            return matching[-1]
    return None


def unwrap_boxed(text: str) -> str:
    """The content of a text that is exactly one `\\boxed{...}`, repeatedly; other text unchanged."""
    while True:
        boxed = boxed_statements(text)
        if len(boxed) != 1 or boxed[0].start != 0 or boxed[0].end != len(text):
            return text
        text = boxed[0].answer


def normalize_answer(text: str) -> str:
    """A canonical string for comparing answers: no LaTeX wrappers, units of degrees, markup, case or extra spaces."""
    normalized = unwrap_boxed(text[:MAX_ANSWER_CHARS].strip())
    normalized = TEXT_MACRO.sub(r"\1", normalized).replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    normalized = DEGREES.sub("", LATEX_NOISE.sub("", normalized))
    normalized = re.sub(r"\s+", " ", normalized).strip().rstrip(".").strip().lower()
    assignment = ASSIGNMENT.fullmatch(normalized)
    if assignment:
        normalized = assignment.group(1).strip()
    while len(normalized) > 1 and normalized[0] == "{" and normalized[-1] == "}":
        normalized = normalized[1:-1].strip()
    if THOUSANDS.fullmatch(normalized):
        normalized = normalized.replace(",", "")
    return normalized


def parse_number(normalized: str) -> float | None:
    """The value of a normalised answer that is a number (with an optional unit or %) or a simple fraction."""
    if re.search(r"\b(?:or|and)\b", normalized):
        return None
    fraction = FRACTION.fullmatch(normalized)
    if fraction:
        sign, top, bottom = (
            fraction.group(1, 2, 3) if fraction.group(2) else (None, fraction.group(4), fraction.group(5))
        )
        denominator = float(bottom)
        value = float(top) / denominator if denominator else math.nan
        value = -value if sign else value
    else:
        number = NUMBER_WITH_UNIT.fullmatch(normalized)
        value = float(number.group(1)) if number else math.nan
    return value if math.isfinite(value) else None


def choice_letter(normalized: str) -> str | None:
    """The single option letter a normalised answer picks ("b", "(b)", "b. 12 cm"), None for "a or b" and the like."""
    if SEVERAL_LETTERS.match(normalized):
        return None
    match = LETTER_PRED.match(normalized)
    return match.group(1) if match else None


def answers_match(predicted: str, gold: str) -> bool:
    """Whether a predicted answer equals the gold: option letters, numbers (relative 1e-6) or normalised strings."""
    pred, target = normalize_answer(predicted), normalize_answer(gold)
    if not pred or not target:
        return False
    if pred == target:
        return True
    letter = LETTER_GOLD.fullmatch(target)
    if letter:
        return choice_letter(pred) == letter.group(1)
    pred_value, target_value = parse_number(pred), parse_number(target)
    if pred_value is not None and target_value is not None:
        return math.isclose(pred_value, target_value, rel_tol=1e-6, abs_tol=1e-9)
    return pred.replace(" ", "") == target.replace(" ", "")


def match_case(source: str, replacement: str) -> str:
    """`replacement` in the case of `source`: UPPER, Capitalised or as written."""
    if len(source) > 1 and source.isupper():
        return replacement.upper()
    if source[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def replace_description_words(text: str) -> str:
    """Rewrite mentions of "the description" as mentions of "the image" (see DESCRIPTION_WORDS), keeping case."""

    def substitute(match: re.Match[str]) -> str:
        phrase = " ".join(match.group(0).lower().split())
        return match_case(match.group(0), DESCRIPTION_LOOKUP[phrase])

    return DESCRIPTION_PATTERN.sub(substitute, text)


def split_reply(content: str, reasoning: str) -> tuple[str, str, bool]:
    """(thinking, answer part, unclosed think tag) from a reply's content and its separate reasoning text, if any."""
    if reasoning.strip():
        return reasoning.strip(), STRAY_TAGS.sub("", content).strip(), False
    lowered = content.lower()
    close = lowered.rfind("</think>")
    if close >= 0:
        opening = lowered.find("<think>")
        start = opening + len("<think>") if 0 <= opening < close else 0
        return content[start:close].strip(), content[close + len("</think>") :].strip(), False
    opening = lowered.find("<think>")
    if opening >= 0:
        return content[opening + len("<think>") :].strip(), "", True
    return content.strip(), "", False


def wrap_response(thinking: str, answer: str) -> str:
    """The training target `<think>...</think><answer>...</answer>`, with stray tags removed from both parts."""
    clean_thinking, clean_answer = STRAY_TAGS.sub("", thinking).strip(), STRAY_TAGS.sub("", answer).strip()
    return f"<think>\n{clean_thinking}\n</think>\n<answer>\n{clean_answer}\n</answer>"


def consistency_problem(thinking: str, answer_part: str, final: Statement) -> tuple[str, str] | None:
    """The first logic-consistency rule a reasoning breaks, as (reason, detail), or None when consistent.

    - conflicting_final_answers: the answer part states two answers that disagree;
    - conclusion_contradicts_answer: the thinking's last stated answer differs from the final answer;
    - reconsidered_after_conclusion: hesitation ("wait", "actually", ...) follows the final answer.
    """
    if answer_part:
        statements = stated_answers(answer_part)
        for statement in statements:
            if not answers_match(statement.answer, final.answer):
                return "conflicting_final_answers", f"{statement.answer[:80]!r} vs {final.answer[:80]!r}"
        concluded = stated_answers(thinking)
        if concluded and not answers_match(concluded[-1].answer, final.answer):
            return "conclusion_contradicts_answer", f"thinking concluded {concluded[-1].answer[:80]!r}"
    holder = answer_part or thinking
    hesitation = HESITATION.search(holder, final.end)
    if hesitation:
        return "reconsidered_after_conclusion", f"{hesitation.group(0)!r} after the final answer"
    return None


def filter_reasoning(
    content: str, reasoning: str, finish_reason: str | None, gold: str, config: FilterConfig
) -> FilterResult:
    """Apply every stage-4 rule to a reasoning reply; a kept one comes back wrapped and speaking of the image."""
    thinking, answer_part, unclosed = split_reply(content, reasoning)

    def drop(reason: str, detail: str = "", final: Statement | None = None) -> FilterResult:
        return FilterResult(reason, detail, "", final.answer if final else None, final.rule if final else None)

    if len(thinking) + len(answer_part) > config.max_reasoning_chars:
        return drop("too_long", f"{len(thinking) + len(answer_part)} characters")
    if finish_reason == "length" or unclosed or ends_inside_boxed(answer_part or thinking):
        return drop("truncated", f"finish_reason={finish_reason}, unclosed_think={unclosed}")
    if len(thinking) < config.min_reasoning_chars:
        return drop("empty_reasoning", f"{len(thinking)} characters")
    unseen = CANNOT_SEE_IMAGE.search(" ".join(f"{thinking} {answer_part}".split()))
    if unseen:
        return drop("cannot_see_image", repr(unseen.group(0)))
    final = extract_final_answer(answer_part) if answer_part else None
    final = final or extract_final_answer(thinking if not answer_part else "")
    if final is None:
        return drop("no_final_answer")
    problem = consistency_problem(thinking, answer_part, final)
    if problem:
        return drop(*problem, final=final)
    if not answers_match(final.answer, gold):
        return drop("wrong_answer", f"{final.answer[:80]!r} vs gold {gold[:80]!r}", final)
    answer_text = answer_part or final.answer
    if config.replace_description_words:
        thinking, answer_text = replace_description_words(thinking), replace_description_words(answer_text)
    return FilterResult(None, "", wrap_response(thinking, answer_text), final.answer, final.rule)
