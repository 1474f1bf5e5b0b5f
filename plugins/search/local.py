"""The local search backend: an embedded SQLite FTS5 full-text index over the user's documents.

Scope: loading documents (JSONL lines ``{"id", "title", "text"}`` with an optional ``"url"``,
single ``.txt``/``.md`` files, or folders of them), adding more while the program runs,
counting them, and bm25-ranked search with a query built from plain terms so that no user or
model text can break FTS5 syntax. The database is in memory or in a file; stdlib only.

Non-goals: semantic/vector search, document formats other than text (PDF, HTML), incremental
re-scanning of folders, and deleting documents (re-adding an id replaces it).

Words go through SQLite's Porter stemmer ("planets" finds "planet"); Chinese and Japanese
are indexed as overlapping character pairs (see ``base.index_text``). Titles weigh twice the
body in bm25.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from moss_core.errors import PluginError
from plugins.search.base import TOP_K, Hit, SearchError, index_text, query_terms

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# ~30 short general-knowledge documents written for this project, so that a fresh demo's
# first search finds something without network.
SAMPLE_CORPUS = Path(__file__).with_name("sample_corpus.jsonl")
_TITLE_WEIGHT, _BODY_WEIGHT = 2.0, 1.0
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY, doc_id TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL, text TEXT NOT NULL, url TEXT NOT NULL DEFAULT ''
);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


def fts_query(query: str) -> str:
    """An FTS5 MATCH expression that ORs the quoted terms of ``query``; "" if it has none.

    Every term is a double-quoted string, which FTS5 reads as literal text, never as an
    operator, column filter or prefix mark.

    >>> fts_query('c++ -x:y NOT "(')
    '"c" OR "x" OR "y" OR "not"'
    """
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in query_terms(query))


def _title_and_body(text: str, fallback: str) -> tuple[str, str]:
    """First heading (or first non-empty line) as title, the rest as body."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            title = line.strip().lstrip("#").strip() or fallback
            body = "\n".join(lines[i + 1 :]).strip()
            return title, body or title
    return fallback, ""


def _read_text_file(path: Path, doc_id: str) -> Hit:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # One file in another encoding should not stop a folder from being indexed; its
        # undecodable bytes become U+FFFD, and the log says which file to convert.
        log.warning(
            "%s is not UTF-8 (byte %d); indexed with replacement characters. Convert it to "
            "UTF-8 (for example: iconv -f cp1252 -t utf-8) to search its accented words.",
            path,
            exc.start,
        )
        text = data.decode("utf-8", errors="replace")
    title, body = _title_and_body(text, path.stem)
    return Hit(id=doc_id, title=title, text=body)


def _read_jsonl(path: Path) -> Iterable[Hit]:
    with path.open("rb") as lines:
        for lineno, raw in enumerate(lines, 1):
            where = f"{path.name} line {lineno}"
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError:
                raise PluginError(f"{where} is not UTF-8: save the file as UTF-8.") from None
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise PluginError(f"{where} is not JSON ({exc.msg}).") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
                raise PluginError(
                    f'{where} needs a "text" string: write {{"id": ..., "title": ..., '
                    '"text": ...}.'
                )
            yield Hit(
                id=str(doc.get("id", f"{path.name}:{lineno}")),
                title=str(doc.get("title", "")),
                text=doc["text"],
                url=str(doc.get("url", "")),
            )


class LocalIndex:
    """A full-text index of documents, searchable with ``search(query, k)``.

    Safe to share between threads: one lock serialises every use of the connection.

    >>> index = LocalIndex()
    >>> index.add("moon", "The Moon", "The Moon orbits the Earth every 27.3 days.")
    >>> [hit.id for hit in index.search("how long is the moon's orbit?")]
    ['moon']
    """

    name = "local"

    def __init__(self, db: str | Path = ":memory:") -> None:
        self.db = str(db)
        # check_same_thread=False: the demo adds uploads and searches from different worker
        # threads; the lock below is what keeps that safe.
        self._conn = sqlite3.connect(self.db, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)

    @classmethod
    def from_path(cls, corpus: str | Path, db: str | Path = ":memory:") -> LocalIndex:
        """An index holding the documents of a JSONL file, a text file or a folder.

        >>> LocalIndex.from_path(SAMPLE_CORPUS).count() > 0
        True
        """
        index = cls(db)
        index.add_path(corpus)
        return index

    # -- adding documents -----------------------------------------------------------------------
    def add(self, doc_id: str, title: str, text: str, url: str = "") -> None:
        """Add one document, replacing any earlier document with the same id."""
        with self._lock, self._conn:
            self._add(doc_id, title, text, url)

    def _add(self, doc_id: str, title: str, text: str, url: str) -> None:
        old = self._conn.execute("SELECT rowid FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if old is not None:
            self._conn.execute("DELETE FROM docs WHERE rowid = ?", old)
            self._conn.execute("DELETE FROM docs_fts WHERE rowid = ?", old)
        cur = self._conn.execute(
            "INSERT INTO docs (doc_id, title, text, url) VALUES (?, ?, ?, ?)",
            (doc_id, title, text, url),
        )
        self._conn.execute(
            "INSERT INTO docs_fts (rowid, title, body) VALUES (?, ?, ?)",
            (cur.lastrowid, index_text(title), index_text(text)),
        )

    def add_many(self, hits: Iterable[Hit]) -> int:
        """Add documents in one transaction; return how many were added."""
        n = 0
        with self._lock, self._conn:
            for hit in hits:
                self._add(hit.id, hit.title, hit.text, hit.url)
                n += 1
        return n

    def add_path(self, path: str | Path) -> int:
        """Add a ``.jsonl`` file, a ``.txt``/``.md`` file or every such file under a folder.

        Returns the number of documents added. Ids: the JSONL ``id`` field; for files, the
        path relative to the folder (or the file name for a single file).
        """
        p = Path(path)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.suffix.lower() in TEXT_SUFFIXES)
            return self.add_many(_read_text_file(f, f.relative_to(p).as_posix()) for f in files)
        if not p.is_file():
            raise PluginError(
                f"Search corpus {p} does not exist: give a .jsonl file, a .txt/.md file or a "
                "folder of them."
            )
        if p.suffix.lower() == ".jsonl":
            return self.add_many(_read_jsonl(p))
        if p.suffix.lower() in TEXT_SUFFIXES:
            return self.add_many([_read_text_file(p, p.name)])
        raise PluginError(
            f"Cannot index {p.name}: the local search reads .jsonl, .txt and .md files only."
        )

    # -- reading ------------------------------------------------------------------------------
    def count(self) -> int:
        """How many documents the index holds."""
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM docs").fetchone()[0])

    __len__ = count

    def search(self, query: str, k: int = TOP_K) -> list[Hit]:
        """The ``k`` best documents for ``query`` by bm25; ``[]`` when none shares a term.

        Raises ``SearchError`` when the index is empty or the query has no searchable word.
        """
        match = fts_query(query)
        with self._lock:
            if self._conn.execute("SELECT 1 FROM docs LIMIT 1").fetchone() is None:
                raise SearchError(
                    "The local search index is empty: add documents with --corpus PATH on "
                    "the command line, or plugins.search.configure(corpus=PATH) or "
                    "LocalIndex.add_path(PATH) in Python."
                )
            if not match:
                raise SearchError(f"The query {query!r} has no searchable word.")
            rows = self._conn.execute(
                "SELECT d.doc_id, d.title, d.text, d.url FROM docs_fts"
                " JOIN docs AS d ON d.rowid = docs_fts.rowid"
                " WHERE docs_fts MATCH ? ORDER BY bm25(docs_fts, ?, ?) LIMIT ?",
                (match, _TITLE_WEIGHT, _BODY_WEIGHT, k),
            ).fetchall()
        return [Hit(id=r[0], title=r[1], text=r[2], url=r[3]) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
