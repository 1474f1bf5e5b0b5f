"""The Search plugin over the web backend.

No network is reachable where these tests run, so most of them give ``WebSearch`` a client
that replays tests/fixtures/ddgs_*.json: responses written by hand for these tests in the
shape ``ddgs.DDGS().text()`` returns (a list of ``{"title", "href", "body"}``), not captures
of real traffic. One test drives the real ``ddgs`` client through a dead proxy to check that
a search without network fails quickly and clearly.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from moss_core.errors import PluginError
from plugins.search import (
    ENV_CORPUS,
    SNIPPET_CHARS,
    SearchError,
    SearchUnavailable,
    WebSearch,
    configure,
    get_backend,
    search,
)
from plugins.search.web import default_client

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = {
    "first moon landing": "ddgs_apollo_11.json",
    "when was python 3 released": "ddgs_python_release.json",
    "qwxzv nothing at all": "ddgs_empty.json",
}


class ReplayDDGS:
    """A ``DDGS``-like client that answers from the fixture files and records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append((query, kwargs))
        rows: list[dict[str, Any]] = json.loads((FIXTURES / RECORDED[query]).read_text("utf-8"))
        return rows[: kwargs.get("max_results") or None]


class FailingDDGS:
    """Raises what a client raises; ``ddgs`` wraps network errors in ``DDGSException``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        raise self.error


class StuckDDGS:
    """Never answers until released: a connection that hangs."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        self.release.wait()
        return []


@pytest.fixture(autouse=True)
def _fresh_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV_CORPUS, raising=False)
    configure()
    yield
    configure()


def test_fixtures_have_the_ddgs_text_shape() -> None:
    for name in RECORDED.values():
        rows = json.loads((FIXTURES / name).read_text("utf-8"))
        assert isinstance(rows, list)
        for row in rows:
            assert set(row) == {"title", "href", "body"}
            assert all(isinstance(v, str) and v for v in row.values())


def test_results_become_hits_best_first() -> None:
    client = ReplayDDGS()
    hits = WebSearch(client=client).search("first moon landing", 3)
    assert [h.url for h in hits] == [
        "https://en.wikipedia.org/wiki/Apollo_11",
        "https://www.nasa.gov/history/july-20-1969-one-giant-leap-for-mankind/",
        "https://www.britannica.com/event/Moon-landing",
    ]
    assert hits[0].id == hits[0].url
    assert hits[0].title == "Apollo 11 - Wikipedia"
    assert hits[0].text.startswith("Apollo 11 was the American spaceflight")
    assert client.calls == [("first moon landing", {"max_results": 3})]


def test_engine_choice_is_passed_to_ddgs() -> None:
    client = ReplayDDGS()
    WebSearch(client=client, engines="duckduckgo").search("first moon landing", 2)
    assert client.calls[0][1] == {"max_results": 2, "backend": "duckduckgo"}


def test_plugin_returns_three_snippets_cut_to_400_chars() -> None:
    configure(backend=WebSearch(client=ReplayDDGS()))
    snippets = search("when was python 3 released")
    assert len(snippets) == 3
    assert all(len(s) <= SNIPPET_CHARS for s in snippets)
    first = snippets[0]
    assert first.startswith("Python (programming language) - Wikipedia: ")
    assert '"Python 3.0" was released' in first  # the passage starts near the query terms
    assert first.endswith("…") and len(first) > SNIPPET_CHARS - 20
    assert (
        snippets[1]
        == "Welcome to Python.org: The official home of the Python Programming Language."
    )


def test_no_results_means_no_hits_and_the_plugin_fails() -> None:
    backend = WebSearch(client=ReplayDDGS())
    assert backend.search("qwxzv nothing at all") == []
    configure(backend=backend)
    with pytest.raises(SearchError, match="web search found nothing"):
        search("qwxzv nothing at all")


def test_ddgs_no_results_exception_is_an_empty_answer_not_a_failure() -> None:
    backend = WebSearch(client=FailingDDGS(RuntimeError("No results found.")))
    assert backend.search("anything") == []


def test_network_failure_is_a_clear_error_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    error = OSError("error sending request > DNS error: no records found")
    configure(backend=WebSearch(client=FailingDDGS(error)))
    with caplog.at_level(logging.WARNING), pytest.raises(SearchError) as info:
        search("first moon landing")
    message = str(info.value)
    assert "Is the network reachable?" in message
    assert "configure(corpus=PATH)" in message
    assert isinstance(info.value.__cause__, OSError)
    assert isinstance(info.value, SearchUnavailable)  # the service, not the query: no retry
    assert not caplog.records  # raised, not logged: whoever ran the call logs it


def test_a_stuck_client_is_abandoned_at_the_timeout() -> None:
    client = StuckDDGS()
    try:
        with pytest.raises(SearchError, match="timed out"):
            WebSearch(client=client, timeout=0.1).search("first moon landing")
    finally:
        client.release.set()


def test_configured_timeout_reaches_the_web_backend() -> None:
    configure(backend="web", timeout=3.5)
    backend = get_backend()
    assert isinstance(backend, WebSearch)
    assert backend.timeout == 3.5


@pytest.mark.timeout(60)
def test_real_ddgs_without_network_fails_quickly() -> None:
    pytest.importorskip("ddgs")
    # A proxy on a closed local port makes "no network" certain even on a connected machine.
    backend = WebSearch(timeout=3, proxy="http://127.0.0.1:9")
    with pytest.raises(SearchError, match=r"Web search (failed|timed out)"):
        backend.search("first moon landing")


def test_default_client_is_ddgs_with_our_timeout() -> None:
    ddgs = pytest.importorskip("ddgs")
    client = default_client(2.5)
    assert isinstance(client, ddgs.DDGS)
    assert client._timeout == 3  # ddgs takes whole seconds: rounded up, never down to 0


def test_falls_back_to_duckduckgo_search_when_ddgs_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # duckduckgo_search is not installed here: a stand-in module with its DDGS signature.
    made: list[dict[str, Any]] = []

    class OldDDGS(ReplayDDGS):
        def __init__(self, proxy: str | None = None, timeout: int = 10) -> None:
            super().__init__()
            made.append({"proxy": proxy, "timeout": timeout})

    old = types.ModuleType("duckduckgo_search")
    old.DDGS = OldDDGS  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ddgs", None)  # makes `import ddgs` raise ImportError
    monkeypatch.setitem(sys.modules, "duckduckgo_search", old)
    hits = WebSearch(timeout=4).search("first moon landing", 1)
    assert [h.title for h in hits] == ["Apollo 11 - Wikipedia"]
    assert made == [{"proxy": None, "timeout": 4}]


def test_neither_package_installed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ddgs", None)
    monkeypatch.setitem(sys.modules, "duckduckgo_search", None)
    with pytest.raises(SearchError, match="pip install ddgs"):
        WebSearch().search("anything")


def test_configure_refuses_an_object_without_search() -> None:
    with pytest.raises(PluginError, match="has none"):
        configure(backend=ReplayDDGS())  # type: ignore[arg-type]
