"""What every search backend shares: the ``Hit`` record, the backend protocol, query terms
and the snippet the model reads.

Scope: the data types, the ``SearchError`` raised on failure, term extraction (words, and
overlapping character pairs for Chinese/Japanese text, which has no spaces) and snippet
building. Non-goals: ranking (each backend ranks), network or storage access, and making
protocol markers inert inside snippets (``moss_core.protocol`` does that when it formats results).

A snippet is the hit's title, a colon, then the passage of its text that starts at the sentence
with the most distinct query terms (ties go to the earliest), whitespace collapsed, cut at a
word boundary so that the whole snippet is at most ``SNIPPET_CHARS`` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from moss_core.errors import MossAgentError, ToolUnavailable

SNIPPET_CHARS = 400
TOP_K = 3
ELLIPSIS = "…"

# Han, Hiragana, Katakana: scripts written without spaces, so a word tokenizer sees a whole
# sentence as one token. Indexing and querying them as overlapping pairs of characters makes
# "北京" findable inside "北京是中国的首都" without a dictionary.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
# Letters and digits (not "_"), matching what SQLite's unicode61 tokenizer keeps as a token.
_WORD = re.compile(f"[^\\W_{_CJK}]+|[{_CJK}]+")
# Latin sentence marks end a sentence only before a space ("27.3" is one number); CJK ones
# need none. A blank line also ends one (headings and list items have no final period).
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[。！？；])\s*|\n\s*\n")
_SPACE = re.compile(r"\s+")

# Dropped from queries (unless nothing else is left) so that "what is the capital of France"
# does not match every document containing "the". Deliberately short: bm25 handles the rest.
# fmt: off
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how",
    "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "that", "the", "this", "to",
    "was", "were", "what", "when", "where", "which", "who", "why", "will", "with", "you",
    "your",
})
# fmt: on


class SearchError(MossAgentError, RuntimeError):
    """A search could not produce results (no network, timeout, empty index, no match).

    The model sees ``No result.``; the message says what to do about it.
    """


class SearchUnavailable(SearchError, ToolUnavailable):
    """The web could not be searched at all (no network, a timeout, ddgs missing): another
    query would fail the same way, so the Agent does not retry with other readings."""


@dataclass(frozen=True)
class Hit:
    """One search result: a document of the local index or one web result."""

    id: str  # document id (local) or URL (web)
    title: str
    text: str  # the full document text (local) or the result's summary (web)
    url: str = ""


@runtime_checkable
class SearchBackend(Protocol):
    """Anything with ``search(query, k)``, best hit first.

    Returns ``[]`` when nothing matches; raises ``SearchError`` when it cannot search at all.
    A ``name`` attribute ("local", "web") is optional and only used in messages.
    """

    def search(self, query: str, k: int = TOP_K) -> list[Hit]: ...


def _cjk_pairs(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def tokens(text: str) -> list[str]:
    """Lower-cased words of ``text``, with runs of CJK characters split into overlapping pairs.

    >>> tokens("C++ in 北京市!")
    ['c', 'in', '北京', '京市']
    """
    out: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        out.extend(_cjk_pairs(word) if _CJK_RUN.fullmatch(word) else [word])
    return out


def index_text(text: str) -> str:
    """``text`` with CJK runs rewritten as space-separated pairs: what the FTS index stores.

    >>> index_text("Beijing 北京市")
    'Beijing 北京 京市'
    """
    return _CJK_RUN.sub(lambda m: " ".join(_cjk_pairs(m.group())), text)


def query_terms(query: str, limit: int = 32) -> list[str]:
    """The distinct searchable terms of a user or model query, stopwords dropped if possible.

    Punctuation and operators carry no meaning here: they are what breaks FTS query syntax.

    >>> query_terms('"AND OR NOT ( the c++ -x:y')
    ['not', 'c', 'x', 'y']
    """
    terms = list(dict.fromkeys(tokens(query)))
    content = [t for t in terms if t not in STOPWORDS]
    return (content or terms)[:limit]


def _stem(word: str) -> str:
    # A crude suffix strip, only used to choose the passage (the index itself uses Porter):
    # it lets "planets" in the text count for the query term "planet".
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def best_passage(text: str, query: str) -> str:
    """The text from the sentence with the most distinct query terms onwards.

    >>> best_passage("Cats purr. Dogs bark loudly. Birds sing.", "why do dogs bark")
    'Dogs bark loudly. Birds sing.'
    """
    text = text.strip()
    wanted = {_stem(t) for t in query_terms(query)}
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text) if 0 < m.end() < len(text)]
    best_start, best_score = 0, 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        score = len(wanted & {_stem(t) for t in tokens(text[start:end])})
        if score > best_score:
            best_start, best_score = start, score
    return _SPACE.sub(" ", text[best_start:]).strip()


def cut(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` shortened to at most ``limit`` characters, at a word boundary when one is near.

    >>> cut("one two three", 9)
    'one two…'
    """
    if len(text) <= limit:
        return text
    room = text[: limit - len(ELLIPSIS)]
    space = room.rfind(" ")
    if space >= limit * 3 // 4:  # don't throw away a quarter of the room to end on a word
        room = room[:space]
    return room.rstrip() + ELLIPSIS


def make_snippet(hit: Hit, query: str, limit: int = SNIPPET_CHARS) -> str:
    """Title and best passage of ``hit`` for ``query``, at most ``limit`` characters.

    >>> make_snippet(Hit("1", "Pets", "Cats purr. Dogs bark."), "dog bark")
    'Pets: Dogs bark.'
    """
    title = _SPACE.sub(" ", hit.title).strip()
    passage = best_passage(hit.text, query)
    if not title:
        return cut(passage, limit)
    return cut(f"{title}: {passage}" if passage else title, limit)
