"""The demo in a real browser: Debian's Chromium driven by Playwright, against a live server.

The server is the real demo (``demo.app.launch``) on 127.0.0.1 at a free port, in a background
thread. Its agents run the real Agent loop and real plugins; the model is a ScriptedBackend
(fixed model text), so the page's behaviour is deterministic. ``test_real_model`` (slow) uses
the default model instead. Screenshots go to test-output/.

Needs /usr/bin/chromium (``scripts/install_browser.sh``; or set $CHROMIUM) and the playwright
Python package; without them every test here is skipped with the reason.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import Agent, BackendError
from agent.backends.scripted import ScriptedBackend

pytestmark = pytest.mark.browser

HOST = "127.0.0.1"
OUT = Path(__file__).resolve().parents[1] / "test-output"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 60_000  # a slow shared CI machine: generous, never part of an assertion about speed

CALC = [
    ' I should calculate this.<eot>\n<|Commands|>: Calculate("4817*63")<eoc>',
    " 4817 × 63 = 303471.<eom>",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def scripted_factory(*items: Any) -> Callable[[], Agent]:
    """Each session gets its own ScriptedBackend playing ``items``, with the real plugins."""
    return lambda: Agent(ScriptedBackend(list(items)))


CHAT_NONE = " Chat.<eot>\n<|Commands|>: None<eoc>"


def words(n: int) -> str:
    """A reply of ``n`` words, w0 to w(n-1): at 50 ms a token, long enough to act during."""
    return " " + " ".join(f"w{i}" for i in range(n)) + "<eom>"


def slow_factory(*items: Any) -> tuple[Callable[[], Agent], list[ScriptedBackend]]:
    """A factory of agents on a slow model (50 ms a token) playing ``items``, and the list of
    the backends it made (one per session), to read their prompts afterwards."""
    backends: list[ScriptedBackend] = []

    def factory() -> Agent:
        backends.append(ScriptedBackend(list(items), token_seconds=0.05))
        return Agent(backends[-1])

    return factory, backends


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        reason = f"no Chromium at {chromium}: run scripts/install_browser.sh or set $CHROMIUM"
        print(f"SKIP browser tests: {reason}")
        pytest.skip(reason)
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install playwright"
    )
    pytest.importorskip("gradio", reason="gradio is missing: pip install gradio")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        except Exception as exc:  # e.g. missing shared libraries in a bare container
            reason = f"Chromium at {chromium} could not start: {exc}"
            print(f"SKIP browser tests: {reason}")
            pytest.skip(reason)
        yield b
        b.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(agent_factory)`` starts the demo and returns its URL; stopped after the test."""
    from demo.app import launch

    apps: list[Any] = []

    def start(factory: Callable[[], Agent] | None) -> str:
        port = free_port()
        apps.append(launch(HOST, port, agent_factory=factory, block=False, quiet=True))
        return f"http://{HOST}:{port}/"

    yield start
    for app in apps:
        app.close()


def open_page(browser: Any, url: str, model: str = "scripted") -> Any:
    """A new browser context (a new person) on the demo, once its session is ready."""
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(url)
    expect(page.locator("#model-info")).to_contain_text(model, timeout=WAIT_MS)
    return page


def ask(page: Any, text: str) -> None:
    box = page.locator("#msg textarea")
    box.fill(text)
    box.press("Enter")


def shot(page: Any, name: str) -> Path:
    OUT.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # boxes open and close with a short animation
    path = OUT / name
    page.screenshot(path=str(path), full_page=True)
    return path


def test_arithmetic_question_shows_the_tool_call_and_the_reply(
    browser: Any, serve: Callable[..., str]
) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, serve(scripted_factory(*CALC)))
    chat = page.locator("#chat")

    # An example fills the box; Enter sends it.
    page.get_by_text("What is 4817 * 63?", exact=True).first.click()
    expect(page.locator("#msg textarea")).to_have_value("What is 4817 * 63?")
    page.locator("#msg textarea").press("Enter")

    expect(chat.get_by_text("4817 × 63 = 303471.")).to_be_visible(timeout=WAIT_MS)
    tool_title = chat.get_by_text('Calculate("4817*63")')
    expect(tool_title).to_be_visible()
    expect(chat.get_by_text("→ 303471")).to_be_visible()  # the real calculator's result
    expect(chat.get_by_text("💭 Inner thoughts")).to_be_visible()
    # Finished thoughts are folded: the title shows, the text does not.
    expect(chat.get_by_text("I should calculate this.")).to_have_count(0)
    expect(page.locator("#stats")).to_contain_text("Last turn")
    expect(page.locator("#stats")).to_contain_text("1 tool call")

    tool_title.click()  # a tool box opens to show its result
    expect(chat.locator("code", has_text="303471").first).to_be_visible()
    page.wait_for_timeout(500)  # let the box's opening animation finish before the picture
    path = shot(page, "demo_calculator.png")
    assert path.stat().st_size > 10_000


class SharedScripted:
    """One scripted model shared by every session, as the real model is, that records how
    many generations ever ran at the same time (a small pause per piece invites overlap)."""

    def __init__(self, items: list[Any]) -> None:
        self.inner = ScriptedBackend(items)
        self.name = "scripted-shared"
        self.context_length = self.inner.context_length
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def stream(self, prompt: str, *, stop: Any, max_new_tokens: int) -> Any:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            pieces = self.inner.stream(prompt, stop=stop, max_new_tokens=max_new_tokens)
            while True:
                try:
                    piece = next(pieces)
                except StopIteration as done:
                    return done.value
                time.sleep(0.02)
                yield piece
        finally:
            with self._lock:
                self.active -= 1


def test_two_people_have_separate_conversations(browser: Any, serve: Callable[..., str]) -> None:
    from playwright.sync_api import expect

    model = SharedScripted([*CALC, *CALC])
    url = serve(lambda: Agent(model))
    alice, bob = open_page(browser, url, "scripted-shared"), open_page(browser, url, "scripted")

    # Sent together: the shared model takes one turn at a time, the other queues.
    ask(alice, "Alice asks: what is 4817*63?")
    ask(bob, "Bob asks: what is 4817*63?")
    for page in (alice, bob):
        expect(page.locator("#chat").get_by_text("4817 × 63 = 303471.")).to_be_visible(
            timeout=WAIT_MS
        )
    expect(alice.locator("#chat")).to_contain_text("Alice asks")
    expect(alice.locator("#chat")).not_to_contain_text("Bob asks")
    expect(bob.locator("#chat")).to_contain_text("Bob asks")
    expect(bob.locator("#chat")).not_to_contain_text("Alice asks")

    assert model.most_active == 1  # the two turns queued; they never shared the model at once
    assert model.inner.remaining == 0

    # A newcomer starts from an empty chat.
    carol = open_page(browser, url)
    expect(carol.locator("#chat")).not_to_contain_text("asks")
    shot(bob, "demo_second_session.png")


def test_switching_a_plugin_off_changes_the_next_turn(
    browser: Any, serve: Callable[..., str]
) -> None:
    from playwright.sync_api import expect

    page = open_page(browser, serve(scripted_factory(*CALC)))
    page.get_by_text("Meta-instruction of the next turn").click()
    meta = page.locator("#meta textarea")
    expect(meta).to_have_value(lambda_contains("- Calculator: enabled."), timeout=WAIT_MS)

    page.locator("#plugins").get_by_label("Calculator · Calculate(expression)").uncheck()
    expect(meta).to_have_value(lambda_contains("- Calculator: disabled."), timeout=WAIT_MS)

    ask(page, "What is 4817*63?")
    chat = page.locator("#chat")
    expect(chat.get_by_text("not run")).to_be_visible(timeout=WAIT_MS)
    # Thoughts fold even when everything after them arrives in a single update.
    expect(chat.get_by_text("I should calculate this.")).to_have_count(0)
    chat.get_by_text('Calculate("4817*63")').click()
    expect(chat).to_contain_text("Calculate is disabled")
    shot(page, "demo_plugin_off.png")


def lambda_contains(text: str) -> Any:
    """A regex matching any value that contains ``text`` (Playwright's to_have_value takes one)."""
    import re

    return re.compile(".*" + re.escape(text) + ".*", re.DOTALL)


def test_an_uploaded_document_is_found_by_search(
    browser: Any, serve: Callable[..., str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    factory = scripted_factory(
        ' Look it up.<eot>\n<|Commands|>: Search("zorblat")<eoc>', " A purple fruit.<eom>"
    )
    page = open_page(browser, serve(factory))
    expect(page.locator("#doc-count")).to_contain_text("32 documents")

    doc = tmp_path / "zorblat.md"
    doc.write_text("# Zorblat\nThe zorblat is a purple fruit that grows only in browser tests.\n")
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    expect(page.locator("#doc-count")).to_contain_text("33 documents", timeout=WAIT_MS)
    expect(page.locator("#upload-status")).to_contain_text("zorblat.md: 1 document")

    ask(page, "What is a zorblat?")
    chat = page.locator("#chat")
    expect(chat.get_by_text("1 result")).to_be_visible(timeout=WAIT_MS)
    chat.get_by_text('Search("zorblat")').click()
    expect(chat).to_contain_text("grows only in browser tests")
    shot(page, "demo_upload_search.png")


def test_a_model_failure_shows_in_the_chat_and_the_page_keeps_working(
    browser: Any, serve: Callable[..., str]
) -> None:
    from playwright.sync_api import expect

    factory = scripted_factory(BackendError("the model server went away"), *CALC)
    page = open_page(browser, serve(factory))
    chat = page.locator("#chat")

    ask(page, "What is 4817*63?")
    expect(chat).to_contain_text("the model server went away", timeout=WAIT_MS)
    ask(page, "What is 4817*63?")
    expect(chat.get_by_text("4817 × 63 = 303471.")).to_be_visible(timeout=WAIT_MS)
    shot(page, "demo_error.png")

    page.locator("#reset").click()
    expect(chat).not_to_contain_text("303471", timeout=WAIT_MS)


def test_stop_ends_a_long_reply_and_the_next_turn_does_not_see_it(
    browser: Any, serve: Callable[..., str]
) -> None:
    from playwright.sync_api import expect

    # A long reply: 300 tokens, 15 seconds unstopped.
    factory, backends = slow_factory(CHAT_NONE, words(300), *CALC)

    page = open_page(browser, serve(factory))
    chat = page.locator("#chat")
    ask(page, "Tell me a long story")
    expect(chat).to_contain_text("w3 w4", timeout=WAIT_MS)
    page.locator("#stop").click()
    expect(chat).to_contain_text("Stopped.", timeout=WAIT_MS)
    expect(chat).not_to_contain_text("w299")
    shot(page, "demo_stopped.png")

    ask(page, "What is 4817*63?")
    expect(chat.get_by_text("4817 × 63 = 303471.")).to_be_visible(timeout=WAIT_MS)
    [backend] = backends
    assert "long story" not in backend.prompts[-1]  # the stopped turn is not in the history


def test_typing_during_a_reply_is_kept_and_a_message_sent_meanwhile_waits_in_view(
    browser: Any, serve: Callable[..., str]
) -> None:
    from playwright.sync_api import expect

    factory, _ = slow_factory(CHAT_NONE, words(60), *CALC, CHAT_NONE, " Bye!<eom>")
    page = open_page(browser, serve(factory))
    chat, box = page.locator("#chat"), page.locator("#msg textarea")
    ask(page, "Tell me a story")
    expect(box).to_have_value("")  # emptied at once, before the model answers
    expect(chat).to_contain_text("w2 w3", timeout=WAIT_MS)
    box.press_sequentially("What is 4817*63?", delay=40)  # typed while the reply streams
    expect(box).to_have_value("What is 4817*63?")
    box.press("Enter")
    expect(box).to_have_value("")  # the send's answer empties it (a round trip, not a turn)
    box.press_sequentially("Bye", delay=40)
    expect(box).to_have_value("Bye")
    # Sent while the model is busy: shown at once, below the running turn, and run after it.
    expect(chat).to_contain_text("What is 4817*63?")
    expect(chat.get_by_text("4817 × 63 = 303471.")).to_be_visible(timeout=WAIT_MS)
    expect(box).to_have_value("Bye")  # no streaming update wiped it
    box.press("Enter")
    expect(chat.get_by_text("Bye!")).to_be_visible(timeout=WAIT_MS)
    text = chat.inner_text()
    assert (
        text.index("w59") < text.index("What is 4817") < text.index("303471") < text.index("Bye!")
    )


def test_stop_also_stops_a_message_waiting_for_the_model(
    browser: Any, serve: Callable[..., str]
) -> None:
    from playwright.sync_api import expect

    factory, backends = slow_factory(CHAT_NONE, words(300))

    page = open_page(browser, serve(factory))
    chat = page.locator("#chat")
    ask(page, "Tell me a long story")
    expect(chat).to_contain_text("w3 w4", timeout=WAIT_MS)
    ask(page, "What is 4817*63?")  # waits behind the story
    expect(chat).to_contain_text("What is 4817*63?")
    page.locator("#stop").click()
    expect(chat.get_by_text("Stopped.")).to_have_count(2, timeout=WAIT_MS)
    page.wait_for_timeout(500)
    [backend] = backends
    assert len(backend.prompts) == 2  # the story's two phases; the waiting message never ran


@pytest.mark.slow
def test_real_model(browser: Any, serve: Callable[..., str]) -> None:
    """The default model end to end: whatever it answers must arrive as a finished turn."""
    from playwright.sync_api import expect

    from demo.session import SharedModel
    from moss_core.errors import ModelNotAvailableError

    # Short limits: the point is the whole path through the page, not a long answer.
    factory = SharedModel(lambda: Agent.default(max_thought_tokens=64, max_reply_tokens=96))
    try:
        engine = factory.template().backend.name.split(":")[0]  # llama.cpp where installed
    except (ModelNotAvailableError, ImportError, AttributeError) as exc:
        pytest.skip(f"the default model cannot be loaded here: {exc}")
    except BackendError as exc:
        pytest.skip(f"the default model cannot run here: {exc}")
    page = open_page(browser, serve(factory), model=engine)

    ask(page, "What is 4817 * 63?")
    expect(page.locator("#stats")).to_contain_text("Last turn", timeout=600_000)
    bot = page.locator("#chat [data-testid=bot]")
    assert bot.count() >= 1
    assert "Error" not in page.locator("#chat").inner_text()
    shot(page, "demo_real_model.png")
