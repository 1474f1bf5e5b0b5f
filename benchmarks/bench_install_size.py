"""Install size: what ``pip install moss-agent`` puts on disk to chat, and what the ``train``
extra (torch, transformers, peft, accelerate) adds on top.

Measured in the environment this runs in, without installing anything: the requirements are
followed through every installed distribution's own requirements (the dependency closure), and
the files each distribution recorded at install are summed.

Run: .venv/bin/python benchmarks/bench_install_size.py
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from requirements import requirements  # scripts/requirements.py


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def closure(reqs: list[str]) -> set[str]:
    """Installed distributions that ``reqs`` pull in, extras markers left out."""
    seen: set[str] = set()
    todo = [_name(r) for r in reqs]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" in req:  # an optional part of that package, not installed by default
                continue
            todo.append(_name(req))
    return seen


def size(names: set[str]) -> int:
    total = 0
    for name in names:
        for file in metadata.distribution(name).files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return total


def main() -> None:
    chat = closure(requirements([], set()))
    train = closure(requirements(["train"], set())) - chat
    print(f"chat (pip install moss-agent): {len(chat)} distributions, {size(chat) / 1e6:.0f} MB")
    print(f"train extra on top:           {len(train)} distributions, {size(train) / 1e6:.0f} MB")
    biggest = sorted(train, key=lambda n: -size({n}))[:4]
    print("  largest:", ", ".join(f"{n} {size({n}) / 1e6:.0f} MB" for n in biggest))
    print("  torch in the chat install:", "torch" in chat)


if __name__ == "__main__":
    main()
