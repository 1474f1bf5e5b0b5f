# ruff: noqa: E501  (phrasing tables read best one phrasing per line)
"""Search templates: fact questions go to Search, even when they sound like numbers.

"How high is Mount Velar?", "How many people work at Drumford Labs?", "How much does the Zeno X4
phone cost?" ask for facts about a named thing: they are looked up, never calculated. The
query is short and keyword-like (``Mount Velar height``): the entity's name plus the
attribute's keyword, which is what the local full-text index ranks best. The reply restates the
fact from the snippet.
"""

from __future__ import annotations

from dataclasses import dataclass

from finetune.synth.base import Draw, Family, Sample, Split, family
from finetune.synth.corpus import Entity, entities
from moss_core.protocol import Call


@dataclass(frozen=True)
class Ask:
    """One question type: an attribute, the query keyword, phrasings and the reply."""

    attr: str
    keyword: str
    what: str  # noun phrase for the thought: "the height of {ref}"
    reply: str  # "{R} is {v} metres high."
    train: tuple[str, ...]
    heldout: tuple[str, ...]


ASKS: list[Ask] = [
    Ask("population", "population", "the population of {ref}", "{R} has a population of {v}.",
        ("How many people live in {ref}?", "What is the population of {ref}?", "How big is the population of {ref}?", "Population of {ref}?", "how many people live in {ref}"),
        ("How many inhabitants does {ref} have?", "What's the number of residents in {ref}?")),
    Ask("founded", "founded", "when {ref} was founded", "{R} was founded in {v}.",
        ("When was {ref} founded?", "What year was {ref} founded?", "In what year was {ref} established?", "When did {ref} get founded?"),
        ("What is the founding year of {ref}?",)),
    Ask("elevation", "elevation", "the elevation of {ref}", "{R} lies at {v} metres above sea level.",
        ("How high above sea level is {ref}?", "What is the elevation of {ref}?", "At what altitude does {ref} lie?"),
        ("How many metres above sea level is {ref}?",)),
    Ask("region", "location", "where {ref} is", "{R} is located in {v}.",
        ("Where is {ref}?", "Where is {ref} located?", "In which region is {ref}?"),
        ("Where can I find {ref}?",)),
    Ask("height", "height", "the height of {ref}", "{R} has a height of {v} metres.",
        ("How high is {ref}?", "How tall is {ref}?", "What is the height of {ref}?", "How many metres tall is {ref}?", "how high is {ref}"),
        ("What's the height of {ref} in metres?", "How tall does {ref} stand?")),
    Ask("first_ascent", "first climbed", "when {ref} was first climbed", "{R} was first climbed in {v}.",
        ("When was {ref} first climbed?", "What year was the first ascent of {ref}?"),
        ("When did climbers first reach the top of {ref}?",)),
    Ask("completed", "completed", "when {ref} was completed", "{R} was completed in {v}.",
        ("When was {ref} built?", "When was {ref} completed?", "What year was {ref} finished?"),
        ("In which year was construction of {ref} completed?",)),
    Ask("floors", "floors", "how many floors {ref} has", "{R} has {v} floors.",
        ("How many floors does {ref} have?", "How many storeys does {ref} have?"),
        ("What's the number of floors in {ref}?",)),
    Ask("architect", "designed", "who designed {ref}", "{R} was designed by {v}.",
        ("Who designed {ref}?", "Who was the architect of {ref}?"),
        ("Which architect is behind {ref}?",)),
    Ask("founder", "founded by", "who founded {ref}", "{R} was founded by {v}.",
        ("Who founded {ref}?", "Who started {ref}?"),
        ("Who is the founder of {ref}?",)),
    Ask("employees", "employees", "how many employees {ref} has", "{R} has {v} employees.",
        ("How many people work at {ref}?", "How many employees does {ref} have?", "How big is the workforce of {ref}?"),
        ("What is the headcount of {ref}?", "How many staff does {ref} employ?")),
    Ask("headquarters", "headquarters", "where {ref} is based", "{R} has its headquarters in {v}.",
        ("Where is {ref} based?", "Where are the headquarters of {ref}?"),
        ("In which city is {ref} headquartered?",)),
    Ask("born", "born", "when {ref} was born", "{R} was born in {v}.",
        ("When was {ref} born?", "What year was {ref} born?", "In which year was {ref} born?"),
        ("What is the birth year of {ref}?",)),
    Ask("known_for", "known for", "what {ref} is known for", "{R} is known for {v}.",
        ("What is {ref} known for?", "Who is {ref}?", "Why is {ref} famous?"),
        ("What made {ref} well known?",)),
    Ask("price", "price", "the price of {ref}", "{R} costs {v}.",
        ("How much does {ref} cost?", "What is the price of {ref}?", "How much is {ref}?"),
        ("What does {ref} sell for?",)),
    Ask("released", "released", "when {ref} came out", "{R} was released in {v}.",
        ("When did {ref} come out?", "When was {ref} released?"),
        ("What year did {ref} launch?",)),
    Ask("maker", "made by", "who makes {ref}", "{R} is made by {v}.",
        ("Who makes {ref}?", "Which company makes {ref}?"),
        ("Who is the manufacturer of {ref}?",)),
    Ask("length", "length", "the length of {ref}", "{R} is {v} kilometres long.",
        ("How long is {ref}?", "What is the length of {ref}?", "How many kilometres long is {ref}?"),
        ("What's the total length of {ref}?",)),
    Ask("span", "length", "the length of {ref}", "{R} is {v} metres long.",
        ("How long is {ref}?", "What is the length of {ref}?"),
        ("How many metres long is {ref}?",)),
    Ask("mouth", "flows into", "where {ref} flows", "{R} flows into {v}.",
        ("Where does {ref} flow into?", "Into which sea or lake does {ref} flow?"),
        ("Where does {ref} end?",)),
    Ask("depth", "depth", "the depth of {ref}", "{R} has a maximum depth of {v} metres.",
        ("How deep is {ref}?", "What is the maximum depth of {ref}?"),
        ("How many metres deep is {ref}?",)),
    Ask("area", "area", "the area of {ref}", "{R} covers {v} square kilometres.",
        ("How big is {ref}?", "What is the area of {ref}?", "How many square kilometres does {ref} cover?"),
        ("What's the surface area of {ref}?",)),
    Ask("opened", "opened", "when {ref} opened", "{R} opened in {v}.",
        ("When did {ref} open?", "When was {ref} opened?"),
        ("What year did {ref} open to traffic?",)),
]  # fmt: skip

ASK_BY_ATTR = {a.attr: a for a in ASKS}


def fact_query(entity: Entity, attr: str) -> str:
    """The Search argument for one fact: the name and the attribute's keyword.

    >>> e = next(e for e in entities("train") if e.name == "Eiffel Tower")
    >>> fact_query(e, "height")
    'Eiffel Tower height'
    """
    return f"{entity.name} {ASK_BY_ATTR[attr].keyword}"


def fact_thought(d: Draw, entity: Entity, attr: str) -> str:
    what = ASK_BY_ATTR[attr].what.format(ref=entity.ref)
    return d.pick(
        [
            f"This asks for a fact about {entity.ref}, so I search.",
            f"This asks for {what}. That is a fact to look up, so I search.",
        ]
    )


def fact_reply(entity: Entity, attr: str) -> str:
    return ASK_BY_ATTR[attr].reply.format(R=entity.Ref, v=entity.facts[attr])


def search_sample(d: Draw, entity: Entity, attr: str, human: str) -> Sample:
    """A one-call Search sample whose reply states ``entity``'s ``attr``."""
    value = entity.facts[attr]
    return Sample(
        template=d.template,
        tool="Search",
        human=human,
        thoughts=fact_thought(d, entity, attr),
        calls=[Call("Search", fact_query(entity, attr))],
        reply=fact_reply(entity, attr),
        expected=[value],
        answers=[value],
        entities=(entity.name,),
        doc=entity.id,
        info={"attr": attr, "entity": entity},
    )


def _ask_family(ask: Ask) -> Family:
    def make(d: Draw) -> Sample:
        split: Split = d.pools.split
        pool = [e for e in entities(split) if e.facts.get(ask.attr)]
        entity = d.pick(pool)
        return search_sample(d, entity, ask.attr, d.text(ref=entity.ref))

    n_entities = sum(1 for e in entities("train") if e.facts.get(ask.attr))
    # Weight by how many entities have the attribute, so every entity is asked about.
    return family(f"search.{ask.attr}", "Search", ask.train, ask.heldout, weight=n_entities**0.5)(
        make
    )


_COMPARE = {"height": "higher", "population": "bigger", "length": "longer", "employees": "bigger"}


@family("search.compare", "Search", weight=4.0)
def compare(d: Draw) -> Sample:
    attr = d.pick(list(_COMPARE))
    split: Split = d.pools.split
    kinds = {
        "height": ("mountain",),
        "population": ("city",),
        "length": ("river",),
        "employees": ("company",),
    }[attr]
    pool = [e for e in entities(split) if e.kind in kinds and e.facts.get(attr)]
    a, b = d.rng.sample(pool, 2)
    va, vb = (float(e.facts[attr].replace(",", "")) for e in (a, b))
    more = {
        "height": "higher",
        "population": "bigger by population",
        "length": "longer",
        "employees": "bigger by employees",
    }[attr]
    human = d.text(a=a.ref, b=b.ref, more=more)
    winner = a if va > vb else b
    word = {
        "height": "higher",
        "population": "more populous",
        "length": "longer",
        "employees": "larger",
    }[attr]
    reply = f"{fact_reply(a, attr)} {fact_reply(b, attr)} So {winner.ref} is {word}."
    return Sample(
        template=d.template,
        tool="Search",
        human=human,
        thoughts=f"I need {ASK_BY_ATTR[attr].what.format(ref=a.ref)} and of {b.ref}, so I search for both.",
        calls=[Call("Search", fact_query(a, attr)), Call("Search", fact_query(b, attr))],
        reply=reply,
        expected=[a.facts[attr], b.facts[attr]],
        answers=[winner.name],
        entities=(a.name, b.name),
        doc=a.id,
    )


FAMILIES: list[Family] = [*(_ask_family(a) for a in ASKS), compare]
