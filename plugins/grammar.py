"""Argument grammars: what a plugin's argument may look like, for decoding that cannot break it.

A plugin may declare the language of its argument (``@plugin(..., grammar=...)``), either as
a regular expression or as a Lark grammar whose ``start`` rule is the argument. The Agent
builds the whole Commands line from the enabled plugins' grammars (``agent.grammar``), and the
engine masks every token that would leave it, so a line the model writes always parses and
every argument is one its plugin accepts.

Grammars are compiled by llguidance, a small library with no dependencies that masks tokens
for a regex or Lark grammar over any tokenizer; it is what vLLM, SGLang and llama.cpp use for
the same job. Its Lark dialect adds lazy text (``thoughts[suffix="<eot>"]``), which the Commands
grammar needs to leave the thoughts free.

A plugin without a grammar takes any quoted text without line breaks (``DEFAULT``): the quote
and the backslash are left out, so the line's own quoting can never be broken.
"""

from __future__ import annotations

import re

from moss_core.errors import PluginError

# What an argument is when its plugin declares nothing: text without quotes, backslashes or
# line breaks (the quoted argument of a Commands line cannot hold those unescaped).
DEFAULT = r"[^\"\\\n]{0,500}"
_LARK = re.compile(r"(?m)^\s*start\s*:")


def is_lark(grammar: str) -> bool:
    """Whether ``grammar`` is a Lark grammar (it has a ``start`` rule), not a regex.

    >>> is_lark("start: NUMBER\\nNUMBER: /[0-9]+/"), is_lark("[0-9]+")
    (True, False)
    """
    return bool(_LARK.search(grammar))


def as_lark(grammar: str) -> str:
    """``grammar`` as a Lark grammar with ``start`` as the argument (a regex is wrapped).

    >>> as_lark("[0-9]+")
    'start: /[0-9]+/\\n'
    """
    if is_lark(grammar):
        return grammar if grammar.endswith("\n") else grammar + "\n"
    return f"start: /{grammar.replace('/', chr(92) + '/')}/\n"


def check(name: str, grammar: str) -> str:
    """``grammar`` as Lark, compiled once to prove it is valid; ``PluginError`` names the
    plugin and llguidance's message when it is not."""
    from llguidance import LLMatcher

    if not isinstance(grammar, str) or not grammar.strip():
        raise PluginError(
            f"Plugin {name}: grammar= must be a non-empty regex or Lark grammar (a text with a "
            f"`start:` rule), got {grammar!r}."
        )
    lark = as_lark(grammar)
    error = LLMatcher.validate_grammar(LLMatcher.grammar_from_lark(lark))
    if error:
        kind = "Lark grammar" if is_lark(grammar) else "regex"
        raise PluginError(f"Plugin {name}: its {kind} does not compile: {error.strip()}")
    return lark
