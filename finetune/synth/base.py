"""The pieces every template module shares: splits, samples, families of phrasings, draws.

A *family* is one kind of request (multiply two numbers; split a bill; ask a mountain's height)
with two disjoint pools of phrasings: ``train`` ones and ``heldout`` ones. A *template* is one
phrasing of one family, identified as ``family/split/index``. A template fills its phrasing
with numbers and entities of the same split and returns a ``Sample``: the text of one turn plus
what a correct model should do (the calls, the expected values), so that generation can check
every result and evaluation can score a model on it.

The phrasings that are plain text are data, one JSON file per template module under
``finetune/synth/data/phrasings/``; ``family`` and the wider-wording helpers read a family's
phrasings from there by its name when the code gives none (phrasings that carry functions stay
in the code).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from moss_core.protocol import Call

Split = Literal["train", "heldout"]
SPLITS: tuple[Split, ...] = ("train", "heldout")
Tool = Literal["Calculate", "Solve", "Search"]
# What a call must give, checked against the real plugin at generation time: a number
# (Calculate), a solution dict (Solve), or a text the Search results must contain.
Expected = float | dict[str, float] | str


# "a" before a vowel sound: "an apple", "an 8 m room", "an 18% tip", "an 11,000 ..."
# (not when "a" is an unknown of an equation: "find a and b", "find a if ...").
_AN = re.compile(
    r"\b([Aa]) (?!(?:and|or|if|is|in|equals)\b)(?=[aeiouAEIOU]|8|1[18](?:[^\d,]|$|,\d{3}(?!,)))"
)


def articles(text: str) -> str:
    """Fix ``a`` before a vowel sound after slots are filled.

    >>> articles("A apple and a 8 m room, a 18% tip, a 180 m wall; find a and b")
    'An apple and an 8 m room, an 18% tip, a 180 m wall; find a and b'
    """
    return _AN.sub(lambda m: m.group(1) + "n ", text)


class SynthError(AssertionError):
    """A template produced a sample that its own plugin run contradicts (a template bug)."""


@dataclass
class Sample:
    """One turn as a correct model would play it, and how to score a model on it.

    >>> s = Sample("calc.mul/train/0", "Calculate", "What is 6 times 7?", "6 times 7 is 6*7.",
    ...            [Call("Calculate", "6*7")], "6 × 7 = 42.", expected=[42.0], answers=["42"])
    >>> s.tool, s.value
    ('Calculate', 42.0)
    """

    template: str
    tool: Tool | None  # the first command's name; None: the turn needs no tool
    human: str
    thoughts: str
    calls: list[Call]
    reply: str
    expected: list[Expected] = field(default_factory=list)  # one per call
    answers: list[str] = field(default_factory=list)  # strings a correct reply contains
    entities: tuple[str, ...] = ()  # pool entries this sample used (for split disjointness)
    doc: str | None = None  # Search: the corpus document that holds the answer
    info: dict[str, Any] = field(default_factory=dict)  # what follow-ups need ("attr", "entity")

    @property
    def value(self) -> float | None:
        """Calculate: the value of the first call."""
        first = self.expected[0] if self.expected else None
        return first if isinstance(first, float) else None

    @property
    def solutions(self) -> dict[str, float] | None:
        """Solve: the solution of the first call."""
        first = self.expected[0] if self.expected else None
        return first if isinstance(first, dict) else None


@dataclass
class Draw:
    """What a template's ``make`` gets: randomness, the split's pools, and its phrasing."""

    rng: random.Random
    pools: Any  # finetune.synth.entities.Pools of the same split
    phrasing: Any  # a format string, or a tuple whose first item is one
    template: str  # the template id, copied into the sample
    previous: Sample | None = None  # follow-ups: the turn they follow

    def text(self, **slots: Any) -> str:
        """The phrasing with its slots filled, first letter upper-cased.

        >>> Draw(random.Random(0), None, "what is {a}?", "t").text(a=3, b=4)
        'What is 3?'
        """
        fmt = self.phrasing[0] if isinstance(self.phrasing, tuple) else self.phrasing
        out = articles(str(fmt).format(**slots))
        return out[:1].upper() + out[1:]

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.rng.randrange(len(options))]


@dataclass(frozen=True)
class Family:
    """A kind of request with disjoint train and held-out phrasings.

    ``weight`` is its share of its tool's samples; ``make`` builds a sample from a ``Draw``.
    """

    name: str
    tool: Tool | None
    weight: float
    train: tuple[Any, ...]
    heldout: tuple[Any, ...]
    make: Callable[[Draw], Sample]

    def phrasings(self, split: Split) -> tuple[Any, ...]:
        return self.train if split == "train" else self.heldout

    def template_ids(self, split: Split) -> list[str]:
        return [f"{self.name}/{split}/{i}" for i in range(len(self.phrasings(split)))]

    def sample(
        self, rng: random.Random, pools: Any, split: Split, previous: Sample | None = None
    ) -> Sample:
        """One sample from a randomly chosen phrasing of ``split``."""
        options = self.phrasings(split)
        i = rng.randrange(len(options))
        return self.make(Draw(rng, pools, options[i], f"{self.name}/{split}/{i}", previous))


def _tuples(value: Any) -> Any:
    # JSON has no tuples: a phrasing written as a tuple in code, (text, operation), is a list
    # in the file and a tuple again here, so templates unpack and hash it as before.
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


@cache
def _phrasing_table() -> dict[str, dict[str, tuple[Any, ...]]]:
    table: dict[str, dict[str, tuple[Any, ...]]] = {}
    folder = files("finetune.synth").joinpath("data/phrasings")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        for name, splits in json.loads(entry.read_text("utf-8")).items():
            if name in table:
                raise SynthError(
                    f"family {name!r} has phrasings in two files (one is {entry.name})"
                )
            table[name] = {split: _tuples(v) for split, v in splits.items()}
    return table


def phrasings(name: str, split: Split) -> tuple[Any, ...]:
    """The ``split`` phrasings of family ``name`` from the data files.

    >>> phrasings("chat.greeting", "heldout")[0]
    'Greetings!'
    """
    try:
        return _phrasing_table()[name][split]
    except KeyError:
        raise SynthError(
            f"no {split} phrasings for family {name!r} in finetune/synth/data/phrasings/*.json: "
            "add them there, or give them to family(...) in the code"
        ) from None


def family(
    name: str,
    tool: Tool | None,
    train: Sequence[Any] | None = None,
    heldout: Sequence[Any] | None = None,
    weight: float = 1.0,
) -> Callable[[Callable[[Draw], Sample]], Family]:
    """Decorator turning a ``make(draw) -> Sample`` function into a ``Family``; phrasings not
    given are read from the data files by ``name``.

    >>> @family("demo", None, ["hi"], ["hello"])
    ... def demo(d: Draw) -> Sample:
    ...     return Sample(d.template, None, d.text(), "Small talk.", [], "Hi!")
    >>> demo.sample(random.Random(0), None, "heldout").human
    'Hello'
    """

    def wrap(make: Callable[[Draw], Sample]) -> Family:
        return Family(
            name,
            tool,
            weight,
            tuple(train) if train is not None else phrasings(name, "train"),
            tuple(heldout) if heldout is not None else phrasings(name, "heldout"),
            make,
        )

    return wrap


def choose_family(rng: random.Random, families: Sequence[Family]) -> Family:
    """A family drawn in proportion to the weights."""
    return rng.choices(list(families), weights=[f.weight for f in families], k=1)[0]
