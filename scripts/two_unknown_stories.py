"""Pick Solve word problems with two real unknowns from a synth file, for a training mix.

    python scripts/two_unknown_stories.py POOL.jsonl OUT.jsonl [--n 400] [--seed 0]

A story problem asks for Solve only when it has two unknowns; the ``steps`` and ``story``
kinds teach Calculate for every other story. This keeps the one-turn Solve conversations of
POOL (``moss-agent synth --mix Calculate=0,Search=0,none=0,disabled=0,multi=0,pair=0,
Solve=0.5,solve_wide=0.5``) whose question is a story (14 words or more, no ``=`` written in
it) and whose Commands line is a system of two equations, shuffles them with ``--seed`` and
writes the first ``--n``. The shipped adapter's third stage drew its 400 this way (pool: 3,000
conversations, seed 73).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from agent.files import atomic_text_file


def is_two_unknown_story(record: dict) -> bool:
    """A one-turn Solve conversation whose question is a story and whose line has two equations.

    >>> turn = {"human": "A farm has 20 animals, hens and cows, with 56 legs in all. "
    ...         "How many hens and how many cows?", "commands": 'Solve("h+c=20;2h+4c=56")'}
    >>> is_two_unknown_story({"turns": [turn]})
    True
    >>> is_two_unknown_story({"turns": [dict(turn, human="Solve h+c=20 and 2h+4c=56.")]})
    False
    """
    turns = record.get("turns", [])
    if len(turns) != 1:
        return False
    human, commands = turns[0]["human"], turns[0]["commands"]
    return (
        commands.startswith("Solve(")
        and commands.count(";") == 1
        and len(human.split()) >= 14
        and "=" not in human
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pool")
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with open(args.pool, encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    kept = [r for r in records if is_two_unknown_story(r)]
    random.Random(args.seed).shuffle(kept)
    chosen = kept[: args.n]
    with atomic_text_file(Path(args.out)) as out:
        for record in chosen:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(
        f"{len(kept)} of {len(records)} are two-unknown stories; wrote {len(chosen)} to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
