"""agent.files: atomic writes, and the permissions a written file ends up with."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.files import atomic_text_file, write_atomic


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_file_follows_the_umask_unless_private(tmp_path: Path, umask_022: None) -> None:
    write_atomic(tmp_path / "data.jsonl", "{}\n")
    assert (tmp_path / "data.jsonl").stat().st_mode & 0o777 == 0o644
    write_atomic(tmp_path / "conversation.json", "{}", private=True)
    assert (tmp_path / "conversation.json").stat().st_mode & 0o777 == 0o600


def test_a_file_written_over_keeps_its_permissions(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "shared.json"
    path.write_text("old")
    path.chmod(0o664)
    write_atomic(path, "new", private=True)
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o664


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.txt"  # missing folders are made
    write_atomic(path, "good")
    with pytest.raises(RuntimeError, match="halfway"), atomic_text_file(path) as f:
        f.write("partial")
        raise RuntimeError("halfway")
    assert path.read_text() == "good"
    assert [p.name for p in path.parent.iterdir()] == ["b.txt"]
