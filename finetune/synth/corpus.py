# ruff: noqa: E501  (fact tables read best one entry per line)
"""The local search corpus behind Search samples: entities with facts, written as short documents.

Every entity (a city, a mountain, a company...) has a few facts (height, population, founding
year...) and one document that states each fact in its own sentence, with the entity's name and
the attribute's keyword in that sentence, so a query like ``Mount Velar height`` finds the
document and its snippet shows the fact. Most entities are fictional (names built from
syllables), so the model must read the snippet rather than recall; a few are real, with facts
that are well established. Distractor documents mention several entities without their facts.

The world is fixed (``WORLD_SEED``), independent of the sample seed, and split: ``train`` and
``heldout`` entities share no name. ``documents(split)`` is what the local index holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cache

from finetune.synth.base import Split, articles
from finetune.synth.numfmt import commas

WORLD_SEED = 5417


@dataclass(frozen=True)
class Entity:
    """One searchable thing and its facts (attribute -> value as the document writes it)."""

    id: str
    kind: str  # city, mountain, tower, company, person, product, river, lake, bridge
    name: str  # as searched: "Eiffel Tower"
    the: bool  # written with "the" in running text: "the Eiffel Tower"
    facts: dict[str, str] = field(hash=False)
    real: bool = False

    @property
    def ref(self) -> str:
        """The name as running text uses it: ``the Velar River``, ``Mount Velar``."""
        return f"the {self.name}" if self.the else self.name

    @property
    def Ref(self) -> str:
        return f"The {self.name}" if self.the else self.name


@dataclass(frozen=True)
class Doc:
    """One corpus line: ``{"id", "title", "text"}``."""

    id: str
    title: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "text": self.text}


# attribute -> the document sentence stating it; ``{R}``/``{r}``: the name, sentence-initial or not.
SENTENCES: dict[str, str] = {
    "population": "{R} has a population of {v} people.",
    "founded": "{R} was founded in {v}.",
    "elevation": "{R} lies at an elevation of {v} metres above sea level.",
    "region": "{R} is located in {v}.",
    "height": "{R} rises to a height of {v} metres.",
    "first_ascent": "{R} was first climbed in {v}.",
    "completed": "{R} was completed in {v}.",
    "floors": "{R} has {v} floors.",
    "architect": "{R} was designed by {v}.",
    "founder": "{R} was founded by {v}.",
    "employees": "{R} has {v} employees.",
    "headquarters": "{R} has its headquarters in {v}.",
    "born": "{R} was born in {v}.",
    "known_for": "{R} is known for {v}.",
    "price": "The price of {r} is {v}.",
    "released": "{R} was released in {v}.",
    "maker": "{R} is made by {v}.",
    "length": "{R} has a length of {v} kilometres.",
    "span": "{R} has a total length of {v} metres.",
    "mouth": "{R} flows into {v}.",
    "depth": "{R} has a maximum depth of {v} metres.",
    "area": "{R} covers an area of {v} square kilometres.",
    "opened": "{R} opened in {v}.",
}

INTROS: dict[str, str] = {
    "city": "{R} is a city with an old market square and a busy railway station.",
    "mountain": "{R} is a mountain popular with hikers and climbers.",
    "tower": "{R} is a landmark building with a viewing platform near the top.",
    "company": "{R} is a company whose products are sold in many countries.",
    "person": "{R} is a public figure whose work is widely discussed.",
    "product": "{R} is a consumer product that received good reviews.",
    "river": "{R} is a river crossed by several bridges.",
    "lake": "{R} is a lake known for its clear water.",
    "bridge": "{R} is a bridge that carries road traffic and pedestrians.",
}

# Real entities with well-established facts; the split is fixed by the list they are in.
_REAL_TRAIN: list[tuple[str, str, bool, dict[str, str]]] = [
    ("tower", "Eiffel Tower", True, {"height": "330", "completed": "1889", "region": "Paris, France"}),
    ("tower", "Burj Khalifa", False, {"height": "828", "completed": "2010", "floors": "163", "region": "Dubai"}),
    ("tower", "Empire State Building", True, {"height": "381", "completed": "1931", "floors": "102", "region": "New York City"}),
    ("mountain", "Mount Everest", False, {"height": "8,849", "first_ascent": "1953", "region": "the Himalayas"}),
    ("mountain", "Mont Blanc", False, {"height": "4,806", "first_ascent": "1786", "region": "the Alps"}),
    ("mountain", "Mount Kilimanjaro", False, {"height": "5,895", "first_ascent": "1889", "region": "Tanzania"}),
    ("mountain", "Mount Fuji", False, {"height": "3,776", "region": "Japan"}),
    ("river", "Danube", True, {"length": "2,850", "mouth": "the Black Sea"}),
    ("river", "Thames", True, {"length": "346", "mouth": "the North Sea"}),
    ("bridge", "Golden Gate Bridge", True, {"opened": "1937", "span": "2,737", "region": "San Francisco"}),
    ("bridge", "Tower Bridge", False, {"opened": "1894", "region": "London"}),
    ("lake", "Lake Baikal", False, {"depth": "1,642", "region": "Siberia"}),
    ("person", "Marie Curie", False, {"born": "1867", "known_for": "her research on radioactivity"}),
    ("person", "Albert Einstein", False, {"born": "1879", "known_for": "the theory of relativity"}),
    ("person", "Charles Darwin", False, {"born": "1809", "known_for": "the theory of evolution by natural selection"}),
    ("company", "IKEA", False, {"founded": "1943", "founder": "Ingvar Kamprad"}),
    ("company", "Nintendo", False, {"founded": "1889", "headquarters": "Kyoto"}),
    ("city", "Canberra", False, {"founded": "1913", "region": "Australia"}),
]  # fmt: skip
_REAL_HELDOUT: list[tuple[str, str, bool, dict[str, str]]] = [
    ("tower", "CN Tower", True, {"height": "553", "completed": "1976", "region": "Toronto"}),
    ("mountain", "K2", False, {"height": "8,611", "first_ascent": "1954", "region": "the Karakoram range"}),
    ("mountain", "Matterhorn", True, {"height": "4,478", "first_ascent": "1865", "region": "the Alps"}),
    ("river", "Rhine", True, {"length": "1,230", "mouth": "the North Sea"}),
    ("bridge", "Brooklyn Bridge", True, {"opened": "1883", "region": "New York City"}),
    ("lake", "Lake Superior", False, {"depth": "406", "area": "82,100"}),
    ("person", "Ada Lovelace", False, {"born": "1815", "known_for": "her notes on Charles Babbage's Analytical Engine"}),
    ("person", "Alan Turing", False, {"born": "1912", "known_for": "his work on computation and code-breaking"}),
    ("company", "Toyota", False, {"founded": "1937", "headquarters": "Toyota City, Japan"}),
]  # fmt: skip

_ONSETS = [
    "b",
    "br",
    "c",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "k",
    "kl",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
    "th",
]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ia", "ei", "ou"]
_CODAS = ["", "", "", "n", "r", "l", "s", "nd", "rk", "m", "th", "ss"]
_ENDS = [
    "",
    "",
    "ia",
    "ora",
    "ar",
    "en",
    "ia",
    "ton",
    "holm",
    "vik",
    "ford",
    "mere",
    "dal",
    "ine",
    "esk",
]
_FIRST_ENDS = ["a", "o", "an", "el", "ia", "ine", "us", "en", "ra", "is"]


def _syllable(rng: random.Random) -> str:
    return rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)


def _root(rng: random.Random, ends: list[str]) -> str:
    word = "".join(_syllable(rng) for _ in range(rng.choice([1, 2, 2, 2])))
    word += rng.choice(ends)
    return word.capitalize()


def _region(rng: random.Random) -> str:
    return rng.choice(
        ["the province of ", "the valley of ", "the coastal region of ", "northern ", "southern "]
    ) + _root(rng, _ENDS)


def _year(rng: random.Random, lo: int, hi: int) -> str:
    return str(rng.randint(lo, hi))


def _make_fictional(
    rng: random.Random, kind: str, root: str, people: list[str], cities: list[str]
) -> tuple[str, bool, dict[str, str]]:
    r = rng.randint
    if kind == "city":
        return (
            root,
            False,
            {
                "population": commas(r(8, 2400) * 100 + r(0, 9) * 10),
                "founded": _year(rng, 900, 1890),
                "elevation": commas(r(3, 2900)),
                "region": _region(rng),
            },
        )
    if kind == "mountain":
        name = rng.choice([f"Mount {root}", f"{root} Peak", f"Mount {root}"])
        return (
            name,
            False,
            {
                "height": commas(r(1200, 8400)),
                "first_ascent": _year(rng, 1780, 1985),
                "region": f"the {root[:3].capitalize()}{rng.choice(['ian', 'ese', 'ic'])} range",
            },
        )
    if kind == "tower":
        return (
            f"{root} Tower",
            True,
            {
                "height": str(r(90, 640)),
                "completed": _year(rng, 1890, 2022),
                "floors": str(r(20, 140)),
                "architect": rng.choice(people),
            },
        )
    if kind == "company":
        name = f"{root} {rng.choice(['Labs', 'Motors', 'Foods', 'Systems', 'Textiles', 'Airlines', 'Robotics', 'Pharma'])}"
        return (
            name,
            False,
            {
                "founded": _year(rng, 1850, 2019),
                "founder": rng.choice(people),
                "employees": commas(r(2, 900) * 100 + r(0, 99)),
                "headquarters": rng.choice(cities),
            },
        )
    if kind == "product":
        name = f"{root} {rng.choice(['X', 'Z', 'S', 'Pro ', 'Air ', 'One '])}{r(2, 12)}".replace(
            "  ", " "
        )
        thing = rng.choice(
            ["phone", "laptop", "e-bike", "camera", "smartwatch", "coffee machine", "drone"]
        )
        return (
            f"{name} {thing}",
            True,
            {
                "price": f"${commas(r(49, 2900))}",
                "released": _year(rng, 2005, 2024),
                "maker": "",  # filled by the caller with a company name
            },
        )
    if kind == "river":
        return f"{root} River", True, {"length": commas(r(40, 3900)), "mouth": ""}
    if kind == "lake":
        return f"Lake {root}", False, {"depth": str(r(8, 900)), "area": commas(r(3, 30000))}
    if kind == "bridge":
        return (
            f"{root} Bridge",
            True,
            {"opened": _year(rng, 1850, 2021), "span": commas(r(120, 6800))},
        )
    raise ValueError(kind)


_KNOWN_FOR = [
    "a series of novels about sailors", "research on bird migration", "designing public libraries",
    "a popular cooking show", "discoveries in crystal chemistry", "composing film music",
    "early work on solar panels", "a record-breaking solo voyage", "photographs of desert landscapes",
    "founding a network of rural schools", "a bestselling book on sleep", "inventing a folding bicycle",
]  # fmt: skip
_PROFESSIONS = [
    "writer",
    "scientist",
    "architect",
    "chef",
    "engineer",
    "composer",
    "explorer",
    "photographer",
]

# How many fictional entities of each kind the train world has; heldout has 40% as many.
_COUNTS = {
    "city": 50,
    "mountain": 32,
    "tower": 30,
    "company": 36,
    "person": 32,
    "product": 24,
    "river": 22,
    "lake": 22,
    "bridge": 18,
}


@cache
def _world() -> dict[Split, list[Entity]]:
    rng = random.Random(WORLD_SEED)
    used: set[str] = set()

    def fresh(ends: list[str]) -> str:
        while True:
            root = _root(rng, ends)
            if 4 <= len(root) <= 11 and root not in used:
                used.add(root)
                return root

    world: dict[Split, list[Entity]] = {"train": [], "heldout": []}
    splits: tuple[tuple[Split, float], ...] = (("train", 1.0), ("heldout", 0.4))
    for split, scale in splits:
        people = [f"{fresh(_FIRST_ENDS)} {fresh(_ENDS)}" for _ in range(40)]
        cities = [fresh(_ENDS) for _ in range(12)]
        entities: list[Entity] = []
        companies: list[str] = []
        seas = [f"Lake {fresh(_ENDS)}" for _ in range(4)] + ["the sea"]
        for kind, count in _COUNTS.items():
            for _ in range(max(3, round(count * scale))):
                root = cities.pop() if kind == "city" and cities else fresh(_ENDS)
                if kind == "person":
                    name, the = f"{fresh(_FIRST_ENDS)} {root}", False
                    facts = {"born": _year(rng, 1850, 1995), "known_for": rng.choice(_KNOWN_FOR)}
                    facts["profession"] = rng.choice(_PROFESSIONS)
                else:
                    name, the, facts = _make_fictional(
                        rng,
                        kind,
                        root,
                        people,
                        [e.name for e in entities if e.kind == "city"] or [fresh(_ENDS)],
                    )
                if kind == "company":
                    companies.append(name)
                if kind == "product":
                    facts["maker"] = rng.choice(companies)
                if kind == "river":
                    facts["mouth"] = rng.choice(seas)
                slug = name.lower().replace(" ", "-").replace("$", "")
                entities.append(Entity(f"{split[0]}-{slug}", kind, name, the, facts))
        for kind, name, the, facts in _REAL_TRAIN if split == "train" else _REAL_HELDOUT:
            slug = name.lower().replace(" ", "-")
            entities.append(Entity(f"{split[0]}-{slug}", kind, name, the, dict(facts), real=True))
        world[split] = entities
    return world


def entities(split: Split) -> list[Entity]:
    """The entities of ``split``, fictional first, in a fixed order.

    >>> [e.name for e in entities("train") if e.real][:2]
    ['Eiffel Tower', 'Burj Khalifa']
    """
    if split not in ("train", "heldout"):
        raise ValueError(f"Unknown split {split!r}: use 'train' or 'heldout'.")
    return _world()[split]


def fact_sentence(entity: Entity, attr: str) -> str:
    """The document sentence stating one fact.

    >>> e = entities("train")[0]
    >>> fact_sentence(e, "founded") == f"{e.name} was founded in {e.facts['founded']}."
    True
    """
    return SENTENCES[attr].format(R=entity.Ref, r=entity.ref, v=entity.facts[attr])


def document(entity: Entity) -> Doc:
    """The entity's own document: an intro, then one sentence per fact."""
    intro = INTROS[entity.kind].format(R=entity.Ref)
    if entity.kind == "person" and "profession" in entity.facts:
        intro = articles(
            f"{entity.Ref} is a {entity.facts['profession']} whose work is widely discussed."
        )
    facts = [fact_sentence(entity, a) for a in entity.facts if a in SENTENCES and entity.facts[a]]
    return Doc(entity.id, entity.name, " ".join([intro, *facts]))


_DISTRACTORS = [
    "{A} and {B} both appear in a new travel guide. The guide suggests visiting them in spring, when the weather is mild.",
    "A documentary filmed near {A} also shows {B}. Reviewers praised its photography and music.",
    "Local newspapers compared {A} with {B} in a feature about weekend trips.",
    "Students on a school trip visited {A} and then {B}. They wrote reports about what they saw.",
]


@cache
def documents(split: Split) -> tuple[Doc, ...]:
    """Every document of ``split``'s corpus: one per entity, then distractors.

    >>> len(documents("heldout")) < len(documents("train"))
    True
    """
    ents = entities(split)
    rng = random.Random(f"{WORLD_SEED}-{split}")
    docs = [document(e) for e in ents]
    for i in range(len(ents) // 3):
        a, b = rng.sample(ents, 2)
        text = rng.choice(_DISTRACTORS).format(A=a.Ref, B=b.ref)
        docs.append(Doc(f"{split[0]}-note-{i}", f"Notes: {a.name} and {b.name}", text))
    return tuple(docs)
