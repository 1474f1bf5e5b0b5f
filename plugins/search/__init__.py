"""``Search(query)``: the built-in search plugin, over the web or over the user's own documents.

The model writes ``Search("capital of Australia")`` and reads back the three best snippets,
each at most 400 characters (title, a colon, then the passage that starts at the sentence with
the most query terms; see ``plugins.search.base``)::

    import plugins.search as search

    search.configure(corpus="notes/")          # a folder of .txt/.md, or a .jsonl file
    search.get_backend().add_path("new.md")    # more documents while the program runs
    search.search("capital of Australia")      # ['Canberra: Canberra is the capital ...']

Which backend answers: ``configure(backend=...)`` if given ("local", "web", or any object with
``search(query, k)``); else the local full-text index when a corpus is configured or the
``MOSS_AGENT_CORPUS`` environment variable names one; else the web (``ddgs``). A corpus given
to ``configure`` is indexed by that call, so a malformed file raises there; otherwise the
backend is built on first use, under a lock, and rebuilt after the next ``configure``.

Failures (no network, a timeout, an empty index, nothing found) raise ``SearchError``; the
dispatcher logs one warning line, and the model sees ``No result.``. Non-goals: result
caching, mixing both backends in one answer.

``configure`` sets what the built-in ``search`` plugin searches, for the whole process (the
command line's ``--corpus``). A program serving several people makes one Search plugin per
conversation instead, over a backend of its own, and registers it in that Agent's registry::

    mine = make_search(LocalIndex())            # or WebSearch(), or any search(query, k)
    agent.plugins.add(mine, replace_existing=True)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moss_core.errors import PluginError
from plugins.registry import Plugin, make_plugin, plugin
from plugins.search.base import (
    SNIPPET_CHARS,
    TOP_K,
    Hit,
    SearchBackend,
    SearchError,
    SearchUnavailable,
    make_snippet,
)
from plugins.search.local import SAMPLE_CORPUS, LocalIndex
from plugins.search.web import DEFAULT_TIMEOUT, WebSearch

ENV_CORPUS = "MOSS_AGENT_CORPUS"

__all__ = [
    "ENV_CORPUS",
    "SAMPLE_CORPUS",
    "SNIPPET_CHARS",
    "TOP_K",
    "Hit",
    "LocalIndex",
    "SearchBackend",
    "SearchError",
    "SearchUnavailable",
    "WebSearch",
    "configure",
    "get_backend",
    "make_search",
    "search",
]


@dataclass(frozen=True)
class _Config:
    corpus: Path | None = None
    backend: str | SearchBackend | None = None
    timeout: float = DEFAULT_TIMEOUT
    db: str = ":memory:"


_lock = threading.RLock()
_config = _Config()
_backend: SearchBackend | None = None


def configure(
    corpus: str | Path | None = None,
    backend: str | SearchBackend | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    db: str | Path = ":memory:",
) -> None:
    """Choose what ``Search`` searches; every call replaces the whole previous configuration.

    ``corpus``: a .jsonl file, a .txt/.md file or a folder (None: ``$MOSS_AGENT_CORPUS``, if
    set). ``backend``: "local", "web", a ready backend object, or None to pick local when there
    is a corpus and web otherwise. ``timeout``: seconds a web search may take. ``db``: where
    the local index lives (a file keeps it between runs; re-adding a document replaces it).
    A corpus is indexed here, and a file it cannot read raises ``PluginError`` here.

    >>> configure(corpus=SAMPLE_CORPUS)
    >>> get_backend().name
    'local'
    >>> configure()  # back to the defaults
    """
    global _config, _backend
    if isinstance(backend, str) and backend not in ("local", "web"):
        raise PluginError(f'Unknown search backend {backend!r}: use "local" or "web".')
    if backend is not None and not isinstance(backend, (str, SearchBackend)):
        raise PluginError(
            f"A search backend needs a search(query, k) method; {type(backend).__name__} has none."
        )
    if corpus is not None and not Path(corpus).exists():
        raise PluginError(
            f"Search corpus {corpus} does not exist: give a .jsonl file, a .txt/.md file or a "
            "folder of them."
        )
    if not timeout > 0:
        raise PluginError(
            f"The search timeout must be a positive number of seconds, not {timeout}."
        )
    config = _Config(
        corpus=Path(corpus) if corpus is not None else None,
        backend=backend,
        timeout=float(timeout),
        db=str(db),
    )
    with _lock:
        if isinstance(backend, SearchBackend):
            built: SearchBackend | None = backend
        elif corpus is not None and backend in (None, "local"):
            # Index a corpus named here at once, so a malformed file is reported by this call
            # and not as a warning at the model's first Search. On failure the previous
            # configuration stays.
            built = _build(config)
        else:
            built = None
        _config, _backend = config, built


def get_backend() -> SearchBackend:
    """The configured backend, built (and its corpus indexed) on first use.

    >>> configure(backend="web")
    >>> get_backend().name
    'web'
    >>> configure()
    """
    global _backend
    with _lock:  # held while indexing, so two threads never build two indexes
        if _backend is None:
            _backend = _build(_config)
        return _backend


def _build(config: _Config) -> SearchBackend:
    env = os.environ.get(ENV_CORPUS, "").strip()
    corpus = config.corpus or (Path(env) if env else None)
    kind = config.backend or ("local" if corpus is not None else "web")
    if kind == "web":
        return WebSearch(timeout=config.timeout)
    index = LocalIndex(config.db)
    if corpus is not None:
        index.add_path(corpus)
    return index


# A query: one line of text of bounded length, no quotes or backslashes inside.
QUERY_GRAMMAR = r"[^\"\\\n]{1,200}"


@plugin("Search", label="Web search", api="Search(query)", grammar=QUERY_GRAMMAR)
def search(query: str) -> list[str]:
    """Search the web, or the configured documents, and return the three best snippets.

    >>> configure(corpus=SAMPLE_CORPUS)
    >>> search("Which planet is the largest?")[0][:7]
    'Jupiter'
    >>> configure()
    """
    return _snippets(get_backend(), query)


def make_search(
    backend: SearchBackend | Callable[[], SearchBackend], *, unavailable: str | None = None
) -> Plugin:
    """A Search plugin of its own over ``backend``: a ``SearchBackend``, or a function that
    returns the one to use at each call (a session that switches between its index and the
    web). ``unavailable`` replaces the message of a ``SearchUnavailable`` (the library's
    advice to pass ``--corpus`` is not every program's).

    >>> found = make_search(LocalIndex.from_path(SAMPLE_CORPUS))("Which planet is the largest?")
    >>> found[0][:7]
    'Jupiter'
    """
    pick = (lambda: backend) if isinstance(backend, SearchBackend) else backend

    def run(query: str) -> list[str]:
        try:
            return _snippets(pick(), query)
        except SearchUnavailable as exc:
            if unavailable is None:
                raise
            raise SearchUnavailable(unavailable) from exc

    run.__doc__ = search.__doc__
    return make_plugin(
        run, "Search", label="Web search", api="Search(query)", grammar=QUERY_GRAMMAR
    )


def _snippets(backend: SearchBackend, query: str) -> list[str]:
    # Failures raise; the dispatcher that ran the call logs them, once.
    if not query.strip():
        raise SearchError("Search needs a non-empty query.")
    hits = backend.search(query, TOP_K)
    if not hits:
        kind = getattr(backend, "name", type(backend).__name__)
        raise SearchError(f"The {kind} search found nothing for {query!r}.")
    return [make_snippet(hit, query) for hit in hits[:TOP_K]]
