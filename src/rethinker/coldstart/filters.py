"""Stage 4 of modality bridging: answer checks, logic-consistency rules, word replacement, wrapping.

Final answers are extracted, guarded and checked against the gold exactly as the reward package scores a response
(`rewards.registry.plan_reward`, then `rewards.verify.Verifier`), so cold-start filtering and the RL reward agree on
what a correct answer is; the consistency rules compare the answers a reply states with the same verifier. Everything
but verification is a pure function, linear in its input; verification runs in the verifier's killable worker
processes under its per-check time limit (at most `MAX_CLAIMS` + 2 checks per reply), so untrusted model text can
never hang the pipeline.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from rethinker.coldstart.config import FilterConfig
from rethinker.data.schema import Example
from rethinker.rewards.extract import (
    Extraction,
    answer_region,
    boxed_spans,
    distinct,
    extract_answer,
    final_boxed_group,
)
from rethinker.rewards.registry import BUILTIN_REWARDS, plan_reward
from rethinker.rewards.verify import Verifier

MAX_CLAIMS = 8
"""Most answers the answer part may state besides its final one that are checked against it (the last ones)."""

BOXED_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")
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
THINK_TAGS = re.compile(r"</?think>", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+")
"""Where one sentence ends and the next starts on the same line; each may state its own answer."""
EDGE_BEFORE_BOX = " \t\r\n$*_`:("
"""What may sit between a statement and the boxed answer right after it ("the answer is: $\\boxed{5}$")."""


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
class FilterResult:
    """The verdict on one reasoning: `reason` is None when kept, and `response` is then the wrapped training text."""

    reason: str | None
    detail: str
    response: str
    final_answer: str | None
    rule: str | None


def last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The last of the non-overlapping matches of `pattern` in `text`, or None."""
    matches = deque(pattern.finditer(text), maxlen=1)
    return matches[0] if matches else None


def ends_inside_boxed(text: str) -> bool:
    """True when the last `\\boxed{` never closes: the text was cut in the middle of its answer."""
    last_opening = last_match(BOXED_OPEN, text)
    if last_opening is None:
        return False
    spans = boxed_spans(text[last_opening.start() :])
    return not spans or spans[0].start != 0


def sentence_statement(sentence: str, box_follows: bool) -> str | None:
    """The answer one sentence (without boxed answers) states by the reward package's rules, if any.

    A bare option-letter line is not a statement here (option lists look like that), and neither is one that runs
    into the boxed answer right after it ("the answer is \\boxed{5}" states the box, not a second answer).
    """
    extraction = extract_answer(sentence)
    answer = extraction.answer
    if not answer or extraction.rule == "choice_letter":
        return None
    if box_follows and sentence.rstrip(EDGE_BEFORE_BOX).endswith(answer):
        return None
    return answer


def stretch_statements(stretch: str, box_follows: bool) -> list[str]:
    """The answers a stretch of text without boxed answers states, one per sentence at most, in reading order."""
    sentences = SENTENCE_END.split(stretch)
    found = [sentence_statement(sentence, box_follows=False) for sentence in sentences[:-1]]
    found.append(sentence_statement(sentences[-1], box_follows))
    return [answer for answer in found if answer]


def stated_answers(text: str) -> list[str]:
    """Every answer a text states, in reading order: each boxed answer and each sentence's statement between them.

    Only the part the reward package reads is searched (its `answer_region`: the tail after the reasoning block).
    """
    region = answer_region(text)
    found: list[str] = []
    start = 0
    for span in boxed_spans(region):
        found += stretch_statements(region[start : span.start], box_follows=True)
        found.append(region[span.content_start : span.content_end].strip())
        start = span.content_end + 1
    return [*found, *stretch_statements(region[start:], box_follows=False)]


def other_claims(answer_text: str, final: str) -> list[str]:
    """The last `MAX_CLAIMS` distinct answers the answer part states besides its final answer (or final boxed group)."""
    same = {"".join(answer.split()) for answer in [final, *final_boxed_group(answer_text)]}
    claims = [answer for answer in distinct(stated_answers(answer_text)) if "".join(answer.split()) not in same]
    return claims[-MAX_CLAIMS:]


def reconsideration(text: str, final: Extraction) -> str | None:
    """The last hesitation ("wait", "actually", ...) in `text` when `text` does not state its final answer after it."""
    hesitation = last_match(HESITATION, text)
    if hesitation is None or extract_answer(text[hesitation.start() :]) == final:
        return None
    return hesitation.group(0)


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
    """(thinking, answer part, unclosed think tag) from a reply's content and its separate reasoning text, if any.

    `<answer>` tags stay in the answer part, where the reward package's `answer_tag` rule reads them.
    """
    if reasoning.strip():
        return reasoning.strip(), THINK_TAGS.sub("", content).strip(), False
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


def unusable_reply(
    thinking: str, answer_part: str, unclosed: bool, finish_reason: str | None, config: FilterConfig
) -> tuple[str, str] | None:
    """The first rule that needs no answer check and rejects the reply, as (reason, detail), or None."""
    size = len(thinking) + len(answer_part)
    if size > config.max_reasoning_chars:
        return "too_long", f"{size} characters"
    if finish_reason == "length" or unclosed or ends_inside_boxed(answer_part or thinking):
        return "truncated", f"finish_reason={finish_reason}, unclosed_think={unclosed}"
    if len(thinking) < config.min_reasoning_chars:
        return "empty_reasoning", f"{len(thinking)} characters"
    unseen = CANNOT_SEE_IMAGE.search(" ".join(f"{thinking} {answer_part}".split()))
    if unseen:
        return "cannot_see_image", repr(unseen.group(0))
    return None


def filter_reasoning(
    content: str, reasoning: str, finish_reason: str | None, example: Example, config: FilterConfig, verifier: Verifier
) -> FilterResult:
    """Apply every stage-4 rule to a reasoning reply; a kept one comes back wrapped and speaking of the image.

    The final answer is the answer part's (the thinking's when there is none), found, guarded and checked against
    `example` as the reward package does; every answer check of one reply goes to `verifier` in one call.
    """
    thinking, answer_part, unclosed = split_reply(content, reasoning)
    problem = unusable_reply(thinking, answer_part, unclosed, finish_reason, config)
    if problem:
        return FilterResult(*problem, "", None, None)
    thinking_text = THINK_TAGS.sub("", thinking)
    final_text = THINK_TAGS.sub("", answer_part) if answer_part else thinking_text
    plan = plan_reward(final_text, example)
    final = plan.extraction
    if final.answer is None:
        return FilterResult("no_final_answer", "", "", None, None)

    def drop(reason: str, detail: str) -> FilterResult:
        return FilterResult(reason, detail, "", final.answer, final.rule)

    if plan.guard is not None:
        return drop(f"guard_{plan.guard}", repr(final.answer[:80]))
    claims = other_claims(final_text, final.answer) if answer_part else []
    concluded = stated_answers(thinking_text)[-1:] if answer_part else []
    checks = [(final.answer, claim) for claim in [*claims, *concluded]]
    verdicts = verifier.verify_many([*checks, *plan.checks])
    disagreeing = [claim for claim, agrees in zip(claims, verdicts, strict=False) if not agrees]
    if disagreeing:
        return drop("conflicting_final_answers", f"{disagreeing[0][:80]!r} vs {final.answer[:80]!r}")
    if concluded and not verdicts[len(claims)]:
        return drop("conclusion_contradicts_answer", f"thinking concluded {concluded[0][:80]!r}")
    hesitation = reconsideration(final_text, final)
    if hesitation:
        return drop("reconsidered_after_conclusion", f"{hesitation!r} after the final answer")
    if not BUILTIN_REWARDS["accuracy"].finish(plan, verdicts[len(checks) :]).correct:
        return drop("wrong_answer", f"{final.answer[:80]!r} vs gold {example.answer[:80]!r}")
    answer_text = answer_part or final.answer
    if config.replace_description_words:
        thinking, answer_text = replace_description_words(thinking), replace_description_words(answer_text)
    return FilterResult(None, "", wrap_response(thinking, answer_text), final.answer, final.rule)
