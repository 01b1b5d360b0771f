"""The web demo in a real headless Chromium: examples, uploads, streamed answers, forced rethinking, bad-input messages.

Needs Chromium and the `playwright` package (`bash scripts/install_browser.sh`); skipped with a message otherwise.
`RETHINKER_UPDATE_SCREENSHOT=1` rewrites `docs/demo.png` from the upload-and-rethink run.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from rethinker.data.synthetic import make_synthetic
from rethinker.models.loading import load_model, load_processor
from rethinker.models.paths import resolve_model_path
from rethinker.serve.app import RethinkerServer, build_server
from rethinker.serve.config import ServeConfig
from rethinker.serve.demo import DEMO_TRIGGERS
from rethinker.serve.generation import ChoiceDelta, GenerationJob, Generator

sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs `bash scripts/install_browser.sh`")

CHROMIUM = os.environ.get("RETHINKER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found; run `bash scripts/install_browser.sh`")

# Headless mode and an empty profile come from `headless=True` and `launch_persistent_context(tmp dir)`.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
MAX_NEW_TOKENS = 64
PACE_S = 0.02
UPLOAD_SEED = 7
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "demo.png"
STATE_LOG_SCRIPT = """
window.stateLog = [];
window.thinkingUpdates = 0;
new MutationObserver(() => {
  const state = document.body && document.body.dataset.state;
  if (state && window.stateLog[window.stateLog.length - 1] !== state) window.stateLog.push(state);
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-state"] });
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(() => { window.thinkingUpdates += 1; })
    .observe(document.getElementById("thinking"), { childList: true, characterData: true, subtree: true });
});
"""


def synthetic_png(path: Path) -> tuple[Path, str]:
    """A synthetic counting image (doubled in size, so the page shows it large) written to `path`, and its question."""
    example = make_synthetic(1, UPLOAD_SEED, split="eval", image_size=112)[0]
    image = example.images[0]
    image.resize((image.width * 2, image.height * 2), Image.Resampling.NEAREST).save(path, format="PNG")
    return path, example.question


class PacedGenerator(Generator):
    """The real generator, pausing after each streamed piece: the tiny model writes a whole answer in milliseconds,
    and a busy machine would otherwise deliver it to the page as one network read, not chunk by chunk."""

    def run(self, job: GenerationJob) -> None:
        emit = job.emit

        def paced(delta: ChoiceDelta) -> None:
            emit(delta)
            time.sleep(PACE_S)

        job.emit = paced
        super().run(job)


@pytest.fixture(scope="module")
def demo_server() -> Iterator[RethinkerServer]:
    """The packaged warm tiny model served on a free loopback port."""
    model_dir = resolve_model_path("tiny")
    generator = PacedGenerator(load_model(model_dir), load_processor(model_dir))
    server = build_server(ServeConfig(port=0, max_queue=2, max_new_tokens=MAX_NEW_TOKENS), generator, model_id="tiny")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A headless Chromium with an empty profile, kept for the module."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 860},
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: object, demo_server: RethinkerServer) -> Iterator[object]:
    """The demo page, loaded and initialised; fails the test on any uncaught script error."""
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.add_init_script(STATE_LOG_SCRIPT)
    page.goto(demo_server.url + "/")
    page.wait_for_selector('body[data-state="idle"]')
    yield page
    page.close()
    assert script_errors == []


def run_and_wait(page: object, button: str) -> None:
    """Click `button`, then wait until the page reports the generation it started as done."""
    page.evaluate("window.stateLog = []")
    page.click(button)
    page.wait_for_function("window.stateLog.includes('generating') && document.body.dataset.state === 'done'")


def test_example_streams_reasoning_and_a_final_answer(page: object) -> None:
    """Clicking an example fills the image and question; Send streams the reasoning and shows the boxed count."""
    assert page.locator("#examples button").count() >= 3
    page.click("#examples button >> nth=0")
    assert page.input_value("#question").strip()
    assert page.get_attribute("#image-preview", "src").startswith("data:image/png;base64,")
    assert page.is_visible("#image-preview")

    page.evaluate("window.thinkingUpdates = 0")
    run_and_wait(page, "#send")

    assert page.evaluate("window.stateLog") == ["generating", "done"]
    assert page.evaluate("window.thinkingUpdates") > 2, "the reasoning should grow chunk by chunk"
    assert "count" in page.inner_text("#thinking")
    assert re.fullmatch(r"\d+", page.inner_text("#answer").strip())
    assert page.is_hidden("#error")
    assert page.is_enabled("#rethink")


def test_uploaded_image_answer_then_forced_rethinking(page: object, tmp_path: Path) -> None:
    """An uploaded PNG and a typed question are answered; forcing a rethink shows all three parts and a verdict."""
    assert page.is_disabled("#rethink")
    image_path, question = synthetic_png(tmp_path / "dots.png")
    page.set_input_files("#image-input", str(image_path))
    page.wait_for_selector("#image-preview:not([hidden])")
    assert page.is_hidden("#drop-hint")
    assert page.get_attribute("#image-preview", "src").startswith("data:image/png;base64,")
    assert int(page.input_value("#max-tokens")) == MAX_NEW_TOKENS
    page.fill("#question", question)
    run_and_wait(page, "#send")
    first_answer = page.inner_text("#answer").strip()
    assert re.fullmatch(r"\d+", first_answer)

    page.select_option("#trigger", "self-questioning")
    page.check("#cut")
    run_and_wait(page, "#rethink")

    assert re.fullmatch(r"\d+", page.inner_text("#rethink-first .boxed").strip())
    assert page.inner_text("#rethink-trigger") == DEMO_TRIGGERS["self-questioning"].strip()
    assert page.inner_text("#rethink-continuation").strip()
    verdict = page.inner_text("#rethink-verdict")
    assert re.match(r"(Changed: \S+ → \S+|Unchanged: \S+)", verdict), verdict
    assert page.get_attribute("#rethink-verdict", "class") in ("verdict changed", "verdict unchanged")
    assert page.is_hidden("#error")

    target = SCREENSHOT if os.environ.get("RETHINKER_UPDATE_SCREENSHOT") == "1" else tmp_path / "demo.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    with Image.open(target) as shot:
        assert shot.format == "PNG" and shot.width == 1280 and shot.height >= 860


def test_bad_inputs_show_readable_messages(page: object, tmp_path: Path) -> None:
    """A non-image file, an empty question and a refused request each explain themselves; nothing is generated."""
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    page.set_input_files("#image-input", str(notes))
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "notes.txt is not an image."
    assert page.is_hidden("#image-preview")

    page.fill("#question", "   ")
    page.click("#send")
    assert page.inner_text("#error") == "Please type a question."
    assert page.evaluate("document.body.dataset.state") == "idle"
    assert page.inner_text("#answer") == ""

    page.fill("#question", "How many dots are there?")
    page.fill("#temperature", "5")
    run_and_wait(page, "#send")
    message = page.inner_text("#error")
    assert message.startswith("The request was refused:") and "'temperature' must be within" in message, message
    assert page.is_disabled("#rethink")
