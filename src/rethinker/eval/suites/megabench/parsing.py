"""MEGA-Bench response parsers: the single answer string (plain, ASCII-art, verbatim), JSON objects, and raw text.

All parsers read only the final part of a response (`final_text`: its last 32,000 characters, without `<think>`
blocks), scan it in linear time, and decode candidate JSON with `json` or `ast.literal_eval` only (never `eval`).
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any

from rethinker.eval.suites._answer import final_text
from rethinker.eval.suites.megabench.metrics.convert import MAX_LITERAL_CHARS, NOT_A_LITERAL, literal, unquote


class Parser(StrEnum):
    """The official `response_parse_function` names."""

    ANSWER_STRING = "answer_string"
    ASCII_ANSWER_STRING = "ascii_answer_string"
    VERBATIM_ANSWER_STRING = "verbatim_answer_string"
    JSON = "json"
    DUMMY = "dummy"


SINGLE_FIELD_PARSERS = {Parser.ANSWER_STRING, Parser.ASCII_ANSWER_STRING, Parser.VERBATIM_ANSWER_STRING}
_ANSWER_LABEL = re.compile(r"\*\*?Answer:\s*(.*?)\*\*?|\bAnswer:\s*(.*)", re.DOTALL)
_ANSWER_LABEL_RAW = re.compile(r"\*\*?Answer:(.*?)\*\*?|\bAnswer:(.*)", re.DOTALL)
_ANSWER_LINE = re.compile(r"^(?:\*\*Answer:\*\*|\*\*Answer:|Answer:)[ \t]*", re.MULTILINE)
_BOLD_LABEL = re.compile(r"\*\*Answer(?::\*\*|\*\*:)")
_CODE_BLOCK = re.compile(r"```\w*\s*\n*(.*?)\s*```", re.DOTALL)
_CODE_BLOCK_RAW = re.compile(r"```\w*(?:\s*\n+)?(.*?)\s*```", re.DOTALL)
_CODE_BLOCK_VERBATIM = re.compile(r"```\w*(?:\s*\n+)?(.*?)(?:\n+\s*)?```", re.DOTALL)
_JSON_BLOCK = re.compile(r"```json\s*\n*(.*?)\s*```", re.DOTALL)
_SHORT_ANSWER_START = re.compile(r"(?:[A-Za-z0-9_-]+(?:,\s*[A-Za-z0-9_-]+)*|[A-Za-z0-9_-]+\.|\([A-Za-z0-9_-]+\)$)")
_LOOSE_QUOTE = re.compile(r"(?<!\w)'|'(?!\w)")
_CLOSERS = {"}": "{", "]": "["}


def last_answer_content(text: str, raw: bool = False) -> str:
    """The text after the last "Answer:" label (bold or plain; "answer:" counts), else the whole text.

    A fully bold label ("**Answer:** C", "**Answer**: C") reads as a plain one, so the answer after it is kept.
    Plain mode strips the result; `raw` keeps its inner whitespace (ASCII art) and is trimmed by the caller.
    """
    text = _BOLD_LABEL.sub("Answer:", text.replace("answer:", "Answer:"))
    last = text.rfind("Answer:")
    if last != -1:
        text = text[:last].replace("Answer:", "") + text[last:]
    match = (_ANSWER_LABEL_RAW if raw else _ANSWER_LABEL).search(text)
    if match:
        text = match.group(1) or match.group(2) or ""
    return text if raw else text.strip()


def trim_blank_lines(text: str, verbatim: bool) -> str:
    """ASCII-art trimming: drop blank-line runs, leading blank lines and trailing space (verbatim: line ends only)."""
    text = re.sub(r"^\s*$(\n^\s*$)+", "", text, flags=re.MULTILINE)
    text = re.sub(r"(\n\s*)+$", "", text) if verbatim else text.rstrip()
    return re.sub(r"^(\s*\n)+", "", text)


def code_block(text: str, raw: bool = False, verbatim: bool = False) -> tuple[str, bool]:
    """The content of the first fenced code block (stripped unless `raw`/`verbatim`) and whether there was one."""
    pattern = _CODE_BLOCK_VERBATIM if verbatim else _CODE_BLOCK_RAW if raw else _CODE_BLOCK
    match = pattern.search(text)
    if not match:
        return text, False
    return (match.group(1) if raw or verbatim else match.group(1).strip()), True


def first_paragraph_if_short(text: str) -> str:
    """The first paragraph alone when it reads as a short answer ("B", "B.", "(B)", "cat, dog") followed by a blank
    line; otherwise the text unchanged."""
    first = text.split("\n\n")[0].strip()
    lines = text.splitlines()
    first_line = next((index for index, line in enumerate(lines) if line.strip()), None)
    followed_by_blank = first_line is not None and first_line + 1 < len(lines) and not lines[first_line + 1].strip()
    return first if first and followed_by_blank and _SHORT_ANSWER_START.match(first) else text


def parse_answer_string(response: str, parser: Parser = Parser.ANSWER_STRING, single_line_gold: bool = True) -> str:
    """The single answer a response gives, as text (a JSON answer is normalised to its Python text form)."""
    raw = parser is not Parser.ANSWER_STRING
    verbatim = parser is Parser.VERBATIM_ANSWER_STRING
    content = last_answer_content(final_text(response), raw=raw)
    if raw:
        content = trim_blank_lines(content, verbatim)
    content, is_code = code_block(content, raw=raw, verbatim=verbatim)
    if not is_code and single_line_gold and not raw:
        content = first_paragraph_if_short(content)
    if content.startswith(("{", "[")):
        parsed = parse_json(content)
        empty_written = ("{}" in content) if isinstance(parsed, dict) else ("[]" in content)
        return str(parsed) if parsed or empty_written else content
    return unquote(content)


def json_spans(text: str) -> list[str]:
    """The outermost balanced `{...}` / `[...]` spans of the text, in order, found in one linear pass.

    Brackets inside double-quoted strings are ignored; a closing bracket of the wrong kind breaks the open structure.
    """
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"' and stack:
            in_string = True
        elif char in "{[":
            stack.append((char, index))
        elif char in _CLOSERS and stack:
            opener, start = stack.pop()
            if opener != _CLOSERS[char]:
                stack.clear()
            elif not stack:
                spans.append((start, index + 1))
    return [text[start:end] for start, end in spans]


def _unnest(value: Any) -> Any:
    """Values that are JSON objects or lists written as strings, decoded in place (recursively)."""
    if isinstance(value, dict):
        return {key: _unnest(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unnest(item) for item in value]
    if isinstance(value, str) and value.strip().startswith(("{", "[")) and len(value) <= MAX_LITERAL_CHARS:
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return _unnest(decoded) if isinstance(decoded, dict | list) else value
    return value


def decode_json(span: str) -> Any:
    """A JSON (or Python-literal) value from one candidate span, or `NOT_A_LITERAL`."""
    if len(span) > MAX_LITERAL_CHARS:
        return NOT_A_LITERAL
    for candidate in (span, _LOOSE_QUOTE.sub('"', span)):
        try:
            return _unnest(json.loads(candidate))
        except (ValueError, RecursionError):
            continue
    value = literal(span)
    return NOT_A_LITERAL if value is NOT_A_LITERAL else _unnest(value)


def last_json(text: str) -> Any:
    """The last decodable JSON value in the text (inside a ```json block when there is one), or `NOT_A_LITERAL`."""
    block = _JSON_BLOCK.search(text)
    if block:
        text = block.group(1)
    decoded = [value for value in map(decode_json, json_spans(text)) if value is not NOT_A_LITERAL]
    return decoded[-1] if decoded else NOT_A_LITERAL


def parse_json(response: str) -> Any:
    """The last JSON object or list in a response: on the first "Answer:" line, else after that label, else anywhere.

    When none decodes, an empty list for text starting with "[", else an empty dict.
    """
    text = final_text(response).strip()
    label = _ANSWER_LINE.search(text)
    places = [text]
    if label:
        after = text[label.end() :]
        places = [after.split("\n", 1)[0], after, text]
    for place in places:
        value = last_json(place)
        if value is not NOT_A_LITERAL:
            return value
    return [] if places[0].lstrip().startswith("[") else {}


def parse_json_fields(response: str) -> dict[str, Any] | None:
    """The response's JSON object, quoted-string values unwrapped once; None when it holds no non-empty object."""
    parsed = parse_json(response)
    if not isinstance(parsed, dict) or not parsed:
        return None
    return {key: unquote(value) for key, value in parsed.items()}
