"""The phase-1 grammar in llama.cpp's GBNF, for servers that take a grammar but not llguidance.

``agent.grammar`` writes phase 1's grammar as llguidance text: Lark rules in a JSON list,
sub-grammars referenced as ``@name``, and the thoughts as ``thoughts[suffix="<eot>"]``. The
engines in this process compile that directly. A llama.cpp server (``llama_cpp.server``, the
upstream ``llama-server``) takes GBNF instead, in its ``grammar`` field, and vLLM takes it as
``guided_grammar``. ``to_gbnf`` translates what ``agent.grammar`` and the built-in plugins write:

- Lark rules and terminals, with ``|``, brackets, ``?``, ``*``, ``+`` and ``[...]`` (optional);
- string literals, and regular expressions by their parse tree (``re``'s own parser):
  characters, classes, groups, alternatives and counted repeats;
- ``name[suffix="X"]: /(?s:.*)/``: any text that does not contain ``X``, then ``X``, written
  as the states of a string search for ``X`` (each state one rule). A narrower body (the
  thoughts' own, which keeps a role marker out of them) is widened to any text: a server then
  holds the thoughts less tightly than the engines in this process do, and never refuses
  what they admit;
- ``@name``: the named sub-grammar, its rules renamed apart.

Anything else (``%import``, lookarounds, anchors, other attributes) raises
``GrammarNotConvertible``: the caller then sends no grammar rather than a wrong one.

>>> print(to_gbnf('{"grammars": [{"lark_grammar": "start: \\\\"None\\\\" | \\\\"x\\\\"+"}]}'))
root ::= g0-start
g0-start ::= "None" | "x"+
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# re's own parser (internal, but the one the re module runs): a regex as a tree of operations.
if sys.version_info >= (3, 11):
    import re._constants as _c
    import re._parser as _parser
else:
    import sre_constants as _c
    import sre_parse as _parser


class GrammarNotConvertible(ValueError):
    """The grammar uses something this translation does not write as GBNF."""


# ------------------------------------------------------------------------------ Lark text


_TOKEN = re.compile(
    r"""
    (?P<space>[ \t]+|\#[^\n]*)
    |(?P<newline>\n)
    |(?P<string>"(?:[^"\\\n]|\\.)*"i?)
    |(?P<regex>/(?:[^/\\\n]|\\.)+/[imslux]*)
    |(?P<ref>@[A-Za-z_][A-Za-z0-9_]*)
    |(?P<name>[?!]?[A-Za-z_][A-Za-z0-9_]*)
    |(?P<attr>\[[a-z_]+=(?:"(?:[^"\\]|\\.)*"|[^\]]*)\])
    |(?P<op>[:|()\[\]?*+])
    """,
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str


def _tokens(text: str) -> Iterator[_Tok]:
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise GrammarNotConvertible(f"cannot read the Lark grammar at {text[pos : pos + 30]!r}")
        kind = m.lastgroup or ""
        if kind != "space":
            yield _Tok(kind, m.group())
        pos = m.end()


def _statements(text: str) -> Iterator[tuple[str, str | None, list[_Tok]]]:
    """(name, attribute, tokens of the expansion) for each rule; continuation lines that start
    with ``|`` belong to the rule above."""
    lines: list[list[_Tok]] = [[]]
    for tok in _tokens(text):
        if tok.kind == "newline":
            lines.append([])
        else:
            lines[-1].append(tok)
    rules: list[list[_Tok]] = []
    for line in lines:
        if not line:
            continue
        if line[0].text == "|" and rules:
            rules[-1].extend(line)
        else:
            rules.append(line)
    for rule in rules:
        head = rule[0]
        if head.kind != "name":
            raise GrammarNotConvertible(f"a Lark statement GBNF cannot take: {head.text!r}")
        attr = None
        rest = rule[1:]
        if rest and rest[0].kind == "attr":
            attr, rest = rest[0].text, rest[1:]
        if not rest or rest[0].text != ":":
            raise GrammarNotConvertible(f"rule {head.text!r} has no ':'")
        yield head.text.lstrip("?!"), attr, rest[1:]


# ------------------------------------------------------------------------------ GBNF text


def _char(code: int) -> str:
    """One character as it may appear inside a GBNF string or class."""
    ch = chr(code)
    if (ch.isalnum() and code < 128) or ch in " !#$%&',.:;<=>@_`{}~*+?/|()":
        return ch
    if code < 0x100:
        return f"\\x{code:02X}"
    if code < 0x10000:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _string(text: str) -> str:
    return '"' + "".join(_char(ord(c)) for c in text) + '"'


def _class(items: list[tuple[int, int]], negate: bool) -> str:
    body = "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in items)
    return f"[{'^' if negate else ''}{body}]"


_CATEGORIES = {
    _c.CATEGORY_DIGIT: ([(48, 57)], False),
    _c.CATEGORY_NOT_DIGIT: ([(48, 57)], True),
    _c.CATEGORY_SPACE: ([(9, 13), (32, 32)], False),
    _c.CATEGORY_NOT_SPACE: ([(9, 13), (32, 32)], True),
    _c.CATEGORY_WORD: ([(48, 57), (65, 90), (95, 95), (97, 122)], False),
    _c.CATEGORY_NOT_WORD: ([(48, 57), (65, 90), (95, 95), (97, 122)], True),
}


def _regex(pattern: str, flags: str) -> str:
    """A Python/Lark regular expression as one GBNF expression (in brackets)."""
    if "i" in flags:
        raise GrammarNotConvertible(f"/{pattern}/i: case-insensitive regexes are not converted")
    try:
        tree = _parser.parse(pattern, re.DOTALL if "s" in flags else 0)
    except re.error as error:
        raise GrammarNotConvertible(f"/{pattern}/ is not a regular expression: {error}") from None
    return "(" + _sequence(tree, dotall="s" in flags) + ")"


def _sequence(items: Any, dotall: bool) -> str:
    parts = [_item(op, arg, dotall) for op, arg in items]
    return " ".join(p for p in parts if p) or '""'


def _item(op: Any, arg: Any, dotall: bool) -> str:
    if op is _c.LITERAL:
        return _string(chr(arg))
    if op is _c.NOT_LITERAL:
        return _class([(arg, arg)], True)
    if op is _c.ANY:
        return "[^\\x0A]" if not dotall else "[\\x00-\\U0010FFFF]"
    if op is _c.IN:
        ranges: list[tuple[int, int]] = []
        negate = False
        for kind, value in arg:
            if kind is _c.NEGATE:
                negate = True
            elif kind is _c.LITERAL:
                ranges.append((value, value))
            elif kind is _c.RANGE:
                ranges.append(value)
            elif kind is _c.CATEGORY and value in _CATEGORIES and not _CATEGORIES[value][1]:
                ranges.extend(_CATEGORIES[value][0])
            else:
                raise GrammarNotConvertible(f"a character class with {kind} {value}")
        return _class(ranges, negate)
    if op is _c.CATEGORY and arg in _CATEGORIES:
        ranges, negate = _CATEGORIES[arg]
        return _class(ranges, negate)
    if op is _c.SUBPATTERN:
        _, add, _, sub = arg
        return "(" + _sequence(sub, dotall or bool(add & re.DOTALL)) + ")"
    if op is _c.BRANCH:
        return "(" + " | ".join(_sequence(b, dotall) for b in arg[1]) + ")"
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        low, high, sub = arg
        inner = "(" + _sequence(sub, dotall) + ")"
        if high is _c.MAXREPEAT:
            return inner + ("*" if low == 0 else "+" if low == 1 else f"{{{low},}}")
        if (low, high) == (0, 1):
            return inner + "?"
        return inner + (f"{{{low}}}" if low == high else f"{{{low},{high}}}")
    raise GrammarNotConvertible(f"a regular expression with {op} (anchors, lookarounds...)")


def _up_to(name: str, suffix: str) -> list[str]:
    """Rules for: any text not containing ``suffix``, then ``suffix`` (a string search's states:
    ``name-k`` has matched the first k characters of it)."""
    if not suffix:
        raise GrammarNotConvertible("an empty suffix")
    rules = []
    n = len(suffix)
    for k in range(n):
        alternatives = []
        nxt = f"{name}-{k + 1}" if k + 1 < n else None
        alternatives.append(_string(suffix[k]) + (f" {nxt}" if nxt else ""))
        seen = {suffix[k]}
        # Where a wrong character leaves the search: the longest prefix of the suffix that the
        # text read so far (its last k characters, then this one) ends with.
        for ch in sorted({c for c in suffix} - seen):
            text = suffix[:k] + ch
            back = max(j for j in range(len(text) + 1) if suffix.startswith(text[len(text) - j :]))
            alternatives.append(_string(ch) + f" {name}-{back}")
        others = sorted(ord(c) for c in set(suffix))
        alternatives.append(_class([(o, o) for o in others], True) + f" {name}-0")
        rules.append(f"{name}-{k} ::= " + " | ".join(alternatives))
    return [f"{name} ::= {name}-0", *rules]


# ------------------------------------------------------------------------------ the translation


class _Grammar:
    def __init__(self) -> None:
        self.rules: list[str] = []

    def add(self, lark: str, prefix: str, subs: dict[str, str]) -> str:
        """Add one Lark grammar's rules, renamed with ``prefix``; return its start rule."""
        names = {}
        statements = list(_statements(lark))
        for name, _, _ in statements:
            names[name] = f"{prefix}-{name.lower().replace('_', '-')}"
        if len(set(names.values())) < len(names):  # GBNF names: lower case, no underscores
            raise GrammarNotConvertible(f"rule names that differ only in case or '_': {names}")
        if "start" not in names:
            raise GrammarNotConvertible("the Lark grammar has no 'start' rule")
        for name, attr, toks in statements:
            if attr is not None:
                self.rules.extend(self._suffixed(names[name], attr, toks))
                continue
            body, rest = self._alternatives(toks, names, subs)
            if rest:
                raise GrammarNotConvertible(f"unexpected {rest[0].text!r} in rule {name!r}")
            self.rules.append(f"{names[name]} ::= {body}")
        return names["start"]

    def _suffixed(self, name: str, attr: str, toks: list[_Tok]) -> list[str]:
        m = re.fullmatch(r'\[suffix=("(?:[^"\\]|\\.)*")\]', attr)
        if m is None or len(toks) != 1 or toks[0].kind != "regex":
            raise GrammarNotConvertible(f"rule {name!r}: only [suffix=...] over one regex")
        # Any regex body is widened to any text (see the module docstring): a string search
        # for the suffix is all GBNF needs to end the rule where llguidance ends it.
        return _up_to(name, json.loads(m.group(1)))

    def _alternatives(
        self, toks: list[_Tok], names: dict[str, str], subs: dict[str, str]
    ) -> tuple[str, list[_Tok]]:
        alternatives = []
        while True:
            seq, toks = self._sequence(toks, names, subs)
            alternatives.append(seq)
            if toks and toks[0].text == "|":
                toks = toks[1:]
                continue
            return " | ".join(alternatives), toks

    def _sequence(
        self, toks: list[_Tok], names: dict[str, str], subs: dict[str, str]
    ) -> tuple[str, list[_Tok]]:
        items = []
        while toks and toks[0].text not in ("|", ")", "]"):
            tok, toks = toks[0], toks[1:]
            if tok.text in ("(", "["):
                inner, toks = self._alternatives(toks, names, subs)
                close = ")" if tok.text == "(" else "]"
                if not toks or toks[0].text != close:
                    raise GrammarNotConvertible(f"an unclosed {tok.text!r}")
                toks = toks[1:]
                item = f"({inner})" + ("?" if close == "]" else "")
            elif tok.kind == "string":
                if tok.text.endswith("i"):
                    raise GrammarNotConvertible(f"{tok.text}: case-insensitive strings")
                item = _string(json.loads(tok.text))
            elif tok.kind == "regex":
                pattern, _, flags = tok.text[1:].rpartition("/")
                item = _regex(pattern, flags)
            elif tok.kind == "ref":
                if tok.text[1:] not in subs:
                    raise GrammarNotConvertible(f"{tok.text} names no sub-grammar")
                item = subs[tok.text[1:]]
            elif tok.kind == "name":
                if tok.text not in names:
                    raise GrammarNotConvertible(f"{tok.text!r} is not a rule of the grammar")
                item = names[tok.text]
            else:
                raise GrammarNotConvertible(f"unexpected {tok.text!r}")
            if toks and toks[0].text in ("?", "*", "+"):
                item, toks = item + toks[0].text, toks[1:]
            items.append(item)
        return " ".join(items) or '""', toks


def to_gbnf(llguidance: str) -> str:
    """``agent.grammar``'s llguidance text (JSON, or a bare Lark grammar) as GBNF with root
    ``root``; raises ``GrammarNotConvertible`` for what it cannot write."""
    try:
        spec = json.loads(llguidance)
        grammars = spec["grammars"]
    except (ValueError, KeyError, TypeError):
        grammars = [{"lark_grammar": llguidance}]
    out = _Grammar()
    subs: dict[str, str] = {}
    # Sub-grammars first, so the top grammar's @name references resolve.
    for i in range(len(grammars) - 1, -1, -1):
        g = grammars[i]
        if set(g) - {"name", "lark_grammar"} or "lark_grammar" not in g:
            raise GrammarNotConvertible(f"grammar {i} is not a Lark grammar: {sorted(g)}")
        start = out.add(g["lark_grammar"], f"g{i}", subs)
        if "name" in g:
            subs[g["name"]] = start
    return "\n".join([f"root ::= {start}", *out.rules])
