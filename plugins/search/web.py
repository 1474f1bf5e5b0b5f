"""The web search backend: DuckDuckGo and friends through the ``ddgs`` package.

Scope: one bounded call to a ``DDGS``-like client (``text(query, max_results=k)`` returning
dicts with ``title``, ``href`` and ``body``), turned into ``Hit`` records. ``ddgs`` is imported
only when the first search runs; the older ``duckduckgo_search`` package is used if ``ddgs``
is missing. Tests pass their own client (for example one that replays recorded responses).

Every call is bounded twice: the client's own request ``timeout`` and a thread-level wait of
the same length plus a margin (up to 2 s), so a stuck connection can never hang a turn. Non-goals:
caching, retries, rate-limit handling, and fetching the pages behind the results.
"""

from __future__ import annotations

import importlib
import math
import threading
from collections.abc import Callable
from typing import Any, Protocol

from plugins.search.base import TOP_K, Hit, SearchError, SearchUnavailable, cut

DEFAULT_TIMEOUT = 8.0
_MARGIN = 2.0  # at most this many seconds the thread-level bound waits beyond `timeout`


class TextSearchClient(Protocol):
    """The part of ``ddgs.DDGS`` this backend uses."""

    def text(self, query: str, **kwargs: Any) -> list[dict[str, Any]]: ...


def default_client(timeout: float, proxy: str | None = None) -> TextSearchClient:
    """A ``DDGS`` client from ``ddgs``, else from ``duckduckgo_search`` (its older name)."""
    for module in ("ddgs", "duckduckgo_search"):
        try:
            ddgs_class = importlib.import_module(module).DDGS
            break
        except ImportError:
            continue
    else:
        raise SearchUnavailable(
            "Web search needs the ddgs package: run `pip install ddgs`, or search local "
            "documents with plugins.search.configure(corpus=PATH)."
        )
    client: TextSearchClient = ddgs_class(proxy=proxy, timeout=max(1, math.ceil(timeout)))
    return client


class WebSearch:
    """Search the web; ``client`` (a ``DDGS``-like object) replaces the real one in tests.

    >>> class Canned:
    ...     def text(self, query, **kwargs):
    ...         return [{"title": "Python", "href": "https://python.org", "body": "A language."}]
    >>> WebSearch(client=Canned()).search("python")[0].url
    'https://python.org'
    """

    name = "web"

    def __init__(
        self,
        client: TextSearchClient | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        engines: str | None = None,
    ) -> None:
        self.timeout = timeout
        self._client = client
        self._proxy = proxy
        self._engines = engines  # ddgs's `backend` argument, e.g. "duckduckgo"; None: its default

    def _call(self, query: str, k: int) -> list[dict[str, Any]]:
        client = self._client or default_client(self.timeout, self._proxy)
        kwargs: dict[str, Any] = {"max_results": k}
        if self._engines:
            kwargs["backend"] = self._engines
        return list(client.text(query, **kwargs) or [])

    def search(self, query: str, k: int = TOP_K) -> list[Hit]:
        """The first ``k`` web results for ``query``; ``[]`` if the engines found nothing.

        Raises ``SearchError`` on no network, a timeout, or any other client failure.
        """
        # The margin lets the client's own timeout fire first and give the precise error.
        bound = self.timeout + min(_MARGIN, self.timeout)
        rows = _bounded(lambda: self._call(query, k), bound)
        hits = []
        for i, row in enumerate(rows[:k]):
            url = str(row.get("href") or row.get("url") or "")
            hits.append(
                Hit(
                    id=url or f"web:{i}",
                    title=str(row.get("title") or ""),
                    text=str(row.get("body") or ""),
                    url=url,
                )
            )
        return hits


def _bounded(call: Callable[[], list[dict[str, Any]]], seconds: float) -> list[dict[str, Any]]:
    """Run ``call`` in a daemon thread and give up after ``seconds``.

    A daemon thread (not an executor) so that a request still stuck at exit cannot keep the
    process alive; it ends by itself once the client's own timeout fires.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["rows"] = call()
        except Exception as exc:  # handed to the caller's thread, which re-raises it
            box["error"] = exc

    worker = threading.Thread(target=run, name="moss-web-search", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise SearchUnavailable(
            f"Web search timed out after {seconds:g} s: check the network, raise the timeout "
            "with plugins.search.configure(timeout=...), or search local documents."
        )
    error = box.get("error")
    if isinstance(error, SearchError):
        raise error
    if error is not None:
        # "No results found." from ddgs means the engines answered with nothing: not a failure.
        if "no results found" in str(error).lower():
            return []
        detail = cut(f"{type(error).__name__}: {error}", 200)  # ddgs errors quote whole URLs
        raise SearchUnavailable(
            f"Web search failed ({detail}). Is the network reachable? "
            "To search offline, give a local corpus: --corpus PATH on the command line, "
            "plugins.search.configure(corpus=PATH) in Python."
        ) from error
    rows: list[dict[str, Any]] = box.get("rows", [])
    return rows
