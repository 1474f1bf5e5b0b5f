"""Entity pools for word problems and small talk, one disjoint set per split.

Held-out samples draw only from the ``heldout`` pools, so an evaluation never meets a name or an
item that training showed the model. Search entities (cities, mountains, companies...) live in
``finetune.synth.corpus`` and are split the same way. The names themselves are data, in
``finetune/synth/data/entities.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from finetune.synth.base import Split


@dataclass(frozen=True)
class Item:
    """Something people buy, with a plausible unit price range in dollars."""

    one: str
    many: str
    low: float
    high: float


@dataclass(frozen=True)
class Pools:
    """Everything a template may name, for one split."""

    split: Split
    people: tuple[str, ...]
    items: tuple[Item, ...]
    places: tuple[str, ...]  # trip destinations: "to the coast"
    hobbies: tuple[str, ...]  # small talk: "I started learning the guitar"
    pets: tuple[str, ...]

    def strings(self) -> set[str]:
        """Every entity string of the pool (items by both names), for disjointness checks."""
        out = set(self.people) | set(self.places) | set(self.hobbies) | set(self.pets)
        for item in self.items:
            out |= {item.one, item.many}
        return out


@cache
def pools(split: Split) -> Pools:
    """The pools of ``split``.

    >>> pools("heldout").people[0]
    'Beatrix'
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"Unknown split {split!r}: use 'train' or 'heldout'.")
    table = json.loads(files("finetune.synth").joinpath("data/entities.json").read_text("utf-8"))
    pool = table[split]
    return Pools(
        split=split,
        people=tuple(pool["people"]),
        items=tuple(Item(*item) for item in pool["items"]),
        places=tuple(pool["places"]),
        hobbies=tuple(pool["hobbies"]),
        pets=tuple(pool["pets"]),
    )
