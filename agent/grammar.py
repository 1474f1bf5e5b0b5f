"""The grammar of phase 1: free thoughts, then a Commands line that can only be valid.

``phase1_grammar(plugins, max_commands)`` is llguidance grammar text for everything the model
writes after ``<|Inner Thoughts|>:``:

- the thoughts, any text up to ``<eot>`` but a role marker (``<|``) or ``<eoc>``;
- ``\\n<|Commands|>: `` then either ``None`` or one to ``max_commands`` calls of *enabled*
  plugins, separated by ``, ``, each ``Name("argument")`` with the argument in its plugin's
  grammar (``@plugin(grammar=...)``; a plugin without one takes quoted text without line
  breaks);
- ``<eoc>``.

An engine that holds decoding to it (``agent.backends.constrain``) cannot write a call to a
switched-off tool, an unknown name, broken quoting, or an argument its plugin refuses to parse.
``Agent(constrain=False)`` turns it off.

>>> from plugins import Registry
>>> reg = Registry()
>>> @reg.plugin("Echo")
... def echo(text: str) -> str:
...     return text
>>> "Echo" in phase1_grammar(reg.enabled(), 2)
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from moss_core.protocol import COMMANDS, EOC, EOT, NONE
from plugins import Plugin
from plugins.grammar import DEFAULT, as_lark

# Free text, but never a role marker (``<|``) or ``<eoc>``: a model that wrote
# ``\n<|Commands|>: ...<eoc>`` inside its thoughts would reach the engine's stop string before
# ``<eot>``, and its line would be read without ever passing the grammar (a story-trained
# adapter did so in 2 of 160 blind turns). Any other ``<`` stays free: ``3 < 5``, ``<b>``, a
# part of ``<eot>``.
_THOUGHTS = r"(?s:([^<]|<+([^|e<]|e[^o<]|eo[^c<]|eoc[^<>]))*(<+(e|eo|eoc)?)?)"


def _literal(text: str) -> str:
    return json.dumps(text)  # a Lark string literal: double quotes, backslash escapes


def phase1_grammar(plugins: Sequence[Plugin], max_commands: int) -> str:
    """llguidance grammar text for phase 1 with ``plugins`` (the enabled ones) callable."""
    if max_commands < 1:
        raise ValueError(f"max_commands must be at least 1, got {max_commands}.")
    lines = [
        f"start: thoughts {_literal(chr(10) + COMMANDS + ': ')} line {_literal(EOC)}",
        f"thoughts[suffix={_literal(EOT)}]: /{_THOUGHTS}/",
    ]
    grammars: list[dict[str, str]] = []
    if plugins:
        calls = [f"{_literal(p.name + '(' + chr(34))} @arg{i} {_literal(chr(34) + ')')}"
                 for i, p in enumerate(plugins)]  # fmt: skip
        lines.append("call: " + " | ".join(calls))
        lines.append(
            "line: "
            + _literal(NONE)
            + "".join(" | call" + ' ", " call' * k for k in range(max_commands))
        )
        for i, p in enumerate(plugins):
            grammars.append({"name": f"arg{i}", "lark_grammar": as_lark(p.grammar or DEFAULT)})
    else:
        lines.append(f"line: {_literal(NONE)}")
    top = {"lark_grammar": "\n".join(lines) + "\n"}
    return json.dumps({"grammars": [top, *grammars]})
