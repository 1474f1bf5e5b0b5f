#!/usr/bin/env python3
"""Print the project's requirements (its dependencies and the named extras), one per line,
leaving out the packages named after --without.

The Makefile installs everything but llama-cpp-python this way when llama-cpp-python cannot
build on a machine: the project then runs its models on the transformers engine.

    python scripts/requirements.py dev train --without llama-cpp-python
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip carries a copy of the same parser
    from pip._vendor import tomli as tomllib


def requirements(extras: list[str], without: set[str]) -> list[str]:
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]

    def name(req: str) -> str:
        return re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-")

    return [r for r in wanted if name(r) not in without]


if __name__ == "__main__":
    args = sys.argv[1:]
    cut = args.index("--without") if "--without" in args else len(args)
    print("\n".join(requirements(args[:cut], {a.lower() for a in args[cut + 1 :]})))
