"""A deterministic stand-in for the two cold-start models, served over the OpenAI chat API, for counting questions.

It answers the three modality-bridging prompts (the defaults of `coldstart.prompts`) as a careful model would on the
synthetic counting tasks: the pseudo chain of thought states the count given with the gold answer, the description
states what the image shows from that chain of thought, and the reasoning counts from the description alone and
boxes the result. Everything after the replies (requests, retries, answer filters, word replacement, wrapping) is the
real pipeline's, so `rethinker coldstart` against this server makes cold-start data offline, without a large model.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rethinker.coldstart.prompts import DESCRIPTION_PROMPT, PLACEHOLDER, PSEUDO_COT_PROMPT, REASONING_PROMPT

MAX_REQUEST_BYTES = 64 * 1024 * 1024
COUNT_SENTENCE = re.compile(r"I count (\d+) ([a-z ]+?)\.")
NUMBER = re.compile(r"\d+")
NOUN = re.compile(r"^How many (.+?) (?:are|is) there", re.IGNORECASE)


def template_pattern(template: str) -> re.Pattern[str]:
    """A pattern that matches text made from `template`, capturing each `{name}` as a group of that name."""
    pieces = PLACEHOLDER.split(template)
    parts = [re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>.*)" for index, piece in enumerate(pieces)]
    return re.compile("".join(parts), re.DOTALL)


STAGES = (
    ("pseudo_cot", template_pattern(PSEUDO_COT_PROMPT)),
    ("description", template_pattern(DESCRIPTION_PROMPT)),
    ("reasoning", template_pattern(REASONING_PROMPT)),
)


def counted_noun(question: str) -> str:
    """What a counting question counts ("dots", "red dots"), or "objects" when the question is not of that form."""
    match = NOUN.match(question.strip())
    return match.group(1).lower() if match else "objects"


def standin_reply(prompt: str) -> dict[str, str]:
    """The assistant message the stand-in sends for one stage prompt; an empty content for an unknown prompt."""
    for stage, pattern in STAGES:
        fields = pattern.fullmatch(prompt)
        if fields is None:
            continue
        if stage == "pseudo_cot":
            noun = counted_noun(fields["question"])
            return {"content": f"The question asks for the number of {noun}. I count {fields['answer']} {noun}."}
        if stage == "description":
            counted = COUNT_SENTENCE.search(fields["thinking_process"])
            shown = f"{counted.group(1)} {counted.group(2)}" if counted else "nothing the question asks about"
            return {"content": f"The image shows {shown} on a plain background."}
        numbers = NUMBER.findall(fields["description"])
        if not numbers:
            return {"reasoning_content": "The description gives no count.", "content": ""}
        count = f"{numbers[0]} {counted_noun(fields['question'])}"
        return {
            "reasoning_content": f"I count {count}, as the description says.",
            "content": f"\\boxed{{{numbers[0]}}}",
        }
    return {"content": ""}


def prompt_text(payload: dict[str, Any]) -> str:
    """The text part of the last user message of a chat request."""
    content = payload["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if part.get("type") == "text")


class StandinHandler(BaseHTTPRequestHandler):
    """`POST /v1/chat/completions`: a completion from `standin_reply`; anything else is a 404."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the pipeline's own statistics count every request."""

    def send_json(self, status: int, body: dict[str, Any]) -> None:
        """Send a JSON body with its length."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """Answer one chat completion request."""
        length = int(self.headers.get("Content-Length", "0"))
        if not self.path.rstrip("/").endswith("/chat/completions") or not 0 < length <= MAX_REQUEST_BYTES:
            self.send_json(404 if length else 400, {"error": "POST a chat completion to /v1/chat/completions"})
            return
        try:
            payload = json.loads(self.rfile.read(length))
            message = {"role": "assistant", **standin_reply(prompt_text(payload))}
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
            self.send_json(400, {"error": f"not a chat completion request: {error}"})
            return
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        self.send_json(
            200, {"object": "chat.completion", "model": payload.get("model", "standin"), "choices": [choice]}
        )


def main(argv: list[str] | None = None) -> int:
    """`python -m rethinker.coldstart.standin [--port N] [--url-file F]`: serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m rethinker.coldstart.standin", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--url-file", type=Path, help="write the API base URL here once listening")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), StandinHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    if args.url_file is not None:
        args.url_file.write_text(url + "\n")
    print(f"stand-in cold-start models at {url}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
