"""Writing files atomically: a temporary file in the same folder, renamed into place.

A crash or an exception leaves the old file (or none) behind, never a half-written one. A file
written over keeps its permissions; a new one gets the process's usual ones (the umask), or
the owner's alone for ``private`` files such as saved conversations.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


@contextmanager
def atomic_text_file(path: str | os.PathLike[str], *, private: bool = False) -> Iterator[TextIO]:
    """Open ``path`` for writing through a temporary file renamed into place on success.

    >>> with atomic_text_file("/tmp/x.txt") as f:
    ...     _ = f.write("done")
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(target, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], text: str, *, private: bool = False) -> None:
    """Write ``text`` to ``path`` atomically (see ``atomic_text_file``)."""
    with atomic_text_file(path, private=private) as f:
        f.write(text)


def _create_temporary(target: Path, mode: int) -> tuple[int, str]:
    # os.open with a mode, unlike tempfile.mkstemp (always 0600), lets the umask apply.
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), str(tmp)
        except FileExistsError:
            continue


__all__ = ["atomic_text_file", "write_atomic"]
