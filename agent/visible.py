"""What a person should see of model text while it streams: no markers, no half-written ones.

Phase 1 streams the thoughts and then ``<eot>`` and the Commands line; a reply may run past its
``<eom>``. A display shows the text up to the first terminator or role marker, and holds back a
trailing ``<``, ``<eo`` or ``<|Comm`` that may be the start of one still arriving. The terminal
and the demo both show streams through these functions.
"""

from __future__ import annotations

import re

from moss_core.protocol import COMMANDS

# Any MOSS terminator (<eot>, <eoc>, ...) or role marker ends the visible part.
_TERMINATOR = re.compile(r"<eo\w>|<\|[A-Za-z ]{1,20}\|>")
_PARTIAL_MARKER = re.compile(r"<(e|eo|eo\w|\|[A-Za-z ]{0,20}\|?)?$")


def visible_thoughts(phase1: str) -> str:
    """The thoughts part of streamed phase-1 text: up to the first terminator or marker.

    >>> visible_thoughts(' I should add.<eot>\\n<|Commands|>: Calculate("2+3")')
    'I should add.'
    >>> visible_thoughts(" Still think<eo")
    'Still think'
    """
    return _cut_at_marker(phase1.split(COMMANDS, 1)[0])


def visible_reply(raw: str) -> str:
    """The reply as streamed so far, cut where the model strays past its end.

    >>> visible_reply(" 2 + 3 = 5.<eot> junk")
    '2 + 3 = 5.'
    """
    return _cut_at_marker(raw)


def _cut_at_marker(text: str) -> str:
    match = _TERMINATOR.search(text)
    if match is not None:
        text = text[: match.start()]
    return _PARTIAL_MARKER.sub("", text).strip()


__all__ = ["visible_reply", "visible_thoughts"]
