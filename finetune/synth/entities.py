"""Entity pools for word problems and small talk, one disjoint set per split.

Held-out samples draw only from the ``heldout`` pools, so an evaluation never meets a name or an
item that training showed the model. Search entities (cities, mountains, companies...) live in
``finetune.synth.corpus`` and are split the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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


_TRAIN = Pools(
    split="train",
    people=tuple(
        [
            "Anna",
            "Ben",
            "Carlos",
            "Dana",
            "Emma",
            "Felix",
            "Grace",
            "Hiro",
            "Ines",
            "Jack",
            "Kofi",
            "Lena",
            "Marco",
            "Nadia",
            "Omar",
            "Priya",
            "Quinn",
            "Rosa",
            "Sam",
            "Tara",
            "Umar",
            "Vera",
            "Will",
            "Yuki",
            "Zoe",
            "Liam",
            "Mia",
            "Noah",
            "Olivia",
            "Ethan",
            "Sofia",
            "Lucas",
            "Amara",
            "Diego",
            "Hannah",
            "Ivan",
        ]
    ),
    items=(
        Item("notebook", "notebooks", 1.5, 6),
        Item("coffee", "coffees", 2, 5.5),
        Item("movie ticket", "movie tickets", 8, 16),
        Item("bus ticket", "bus tickets", 1.2, 4),
        Item("apple", "apples", 0.3, 1.2),
        Item("loaf of bread", "loaves of bread", 2, 6),
        Item("T-shirt", "T-shirts", 8, 25),
        Item("pen", "pens", 0.5, 3),
        Item("book", "books", 8, 30),
        Item("sandwich", "sandwiches", 4, 9),
        Item("pizza", "pizzas", 9, 18),
        Item("bag of rice", "bags of rice", 2.5, 12),
        Item("bottle of water", "bottles of water", 0.8, 2.5),
        Item("candle", "candles", 3, 15),
        Item("house plant", "house plants", 6, 35),
        Item("concert ticket", "concert tickets", 35, 120),
    ),
    places=(
        "to the coast",
        "to her grandmother's house",
        "to the next city",
        "across the country",
        "to the mountains",
        "to the airport",
        "to a football match",
        "to the lake",
    ),
    hobbies=(
        "learning the guitar",
        "running",
        "baking bread",
        "painting",
        "learning Spanish",
        "gardening",
        "chess",
        "photography",
    ),
    pets=("cat", "dog", "rabbit", "parrot", "hamster"),
)

_HELDOUT = Pools(
    split="heldout",
    people=tuple(
        [
            "Beatrix",
            "Cyrus",
            "Delphine",
            "Ezra",
            "Farah",
            "Gideon",
            "Harriet",
            "Idris",
            "Juno",
            "Kasper",
            "Leonora",
            "Matteo",
            "Niamh",
            "Oskar",
            "Petra",
            "Rafael",
            "Saoirse",
            "Tobias",
            "Ulla",
            "Viktor",
            "Wren",
            "Ximena",
            "Yara",
            "Zeke",
        ]
    ),
    items=(
        Item("mug", "mugs", 4, 14),
        Item("umbrella", "umbrellas", 9, 28),
        Item("pair of socks", "pairs of socks", 2, 9),
        Item("croissant", "croissants", 1.5, 4),
        Item("phone case", "phone cases", 10, 35),
        Item("desk lamp", "desk lamps", 15, 60),
        Item("board game", "board games", 18, 55),
        Item("scarf", "scarves", 12, 40),
        Item("jar of honey", "jars of honey", 4, 12),
        Item("museum pass", "museum passes", 12, 30),
    ),
    places=(
        "to the harbour",
        "to his cousin's farm",
        "to a music festival",
        "to the border",
        "up the valley",
    ),
    hobbies=("knitting", "rock climbing", "learning the cello", "birdwatching", "pottery"),
    pets=("tortoise", "goldfish", "ferret"),
)


@cache
def pools(split: Split) -> Pools:
    """The pools of ``split``.

    >>> pools("heldout").people[0]
    'Beatrix'
    """
    if split == "train":
        return _TRAIN
    if split == "heldout":
        return _HELDOUT
    raise ValueError(f"Unknown split {split!r}: use 'train' or 'heldout'.")
