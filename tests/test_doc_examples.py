"""The Python examples of the README and of docs/ run, so they stay true.

Each document's ``python`` blocks run in order in one namespace (a later block may use what an
earlier one defined), in a temporary folder, on the real default model where they use it. A
block preceded by ``<!-- example not run: reason -->`` is skipped: it needs something a test
machine lacks (a server, a package of your own), and the comment says what.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"(<!-- example not run: [^>]*-->\n)?```python\n(.*?)```", re.S)


def blocks(path: Path) -> list[tuple[bool, str]]:
    """(runs, code) for each python block of ``path``."""
    return [(m.group(1) is None, m.group(2)) for m in BLOCK.finditer(path.read_text())]


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [d for d in DOCUMENTS if any(runs for runs, _ in blocks(d))],
    ids=lambda p: str(p.relative_to(REPO)),
)
def test_the_documents_python_examples_run(path: Path, tmp_path: Path) -> None:
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    here = Path.cwd()
    os.chdir(tmp_path)
    try:
        for i, (runs, code) in enumerate(blocks(path), 1):
            if runs:  # an example that raises fails the test, naming its document and number
                exec(compile(code, f"{path.name} example {i}", "exec"), namespace)
    finally:
        os.chdir(here)
