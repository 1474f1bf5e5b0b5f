"""Cutting plugin results down to the room the model's context has left for them.

A plugin may return far more text than a small model's context holds (a page of search text, a
long listing). The phase-2 prompt must still fit, with room for the reply, so results that do not
fit are cut: each value's text is shortened and marked with ``…`` where it was cut, list items
and fields are kept in order while room lasts. What the model was shown is what the turn records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from moss_core.protocol import CommandResult, format_results

CUT = "…"
_ROUNDS = 8  # shrink-and-recount rounds; each aims under the room by a safety margin


def fit_results(
    results: Sequence[CommandResult], room: int, count_tokens: Callable[[str], int]
) -> tuple[list[CommandResult], str | None]:
    """``results`` cut until their Results text takes at most ``room`` tokens; with a note of
    what was cut, or None when they fit as they are."""
    results = list(results)
    text = format_results(results)
    need = count_tokens(text)
    if need <= room or not results:  # nothing to cut: "None" is what it is
        return results, None
    chars, kept = len(text), results
    for _ in range(_ROUNDS):
        # Characters per token vary; aim a tenth under and count again.
        chars = int(chars * max(room, 0) / max(need, 1) * 0.9)
        kept = [clip_result(r, chars // len(results)) for r in results]
        need = count_tokens(format_results(kept))
        if need <= room:
            break
    return kept, f"results cut to fit the context ({room} tokens were left for them)"


def clip_result(result: CommandResult, chars: int) -> CommandResult:
    """``result`` with its value's text cut to about ``chars`` characters.

    >>> from moss_core.protocol import Call
    >>> clip_result(CommandResult(Call("Read", "x"), "abcdefgh"), 5).value
    'abcd…'
    >>> clip_result(CommandResult(Call("Find", "x"), ["one", "two", "three"]), 7).value
    ['one', 'two', '…']
    """
    if not result.ok or result.value is None:
        return result
    return replace(result, value=_clip(result.value, chars))


def _clip(value: Any, chars: int) -> Any:
    if isinstance(value, Mapping):
        fields: dict[str, str] = {}
        left = chars
        for k, v in value.items():
            if left <= len(str(k)):
                break
            fields[str(k)] = _clip_text(str(v), left - len(str(k)))
            left -= len(str(k)) + len(fields[str(k)])
        return fields
    if isinstance(value, list | tuple):
        items: list[str] = []
        left = chars
        for item in value:
            if left <= 0:
                break
            items.append(_clip_text(str(item), left))
            left -= len(items[-1])
        return items
    return _clip_text(str(value), chars)


def _clip_text(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    return text[: max(chars - len(CUT), 0)].rstrip() + CUT


__all__ = ["CUT", "clip_result", "fit_results"]
