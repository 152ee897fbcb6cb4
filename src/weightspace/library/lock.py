"""The library's writer lock: one writing process at a time, readers never wait.

The lock is an advisory ``flock`` on ``LIB/.write.lock``, held while a model's weight file is written
and its rows committed, so that a writer can safely remove files left behind by a crashed one. The
operating system releases it when the holder dies, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from weightspace.errors import LibraryLockedError

__all__ = ["write_lock"]


@contextmanager
def write_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold the exclusive writer lock of the library at ``path`` (wait up to ``timeout`` seconds)."""
    fd = os.open(path / ".write.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LibraryLockedError(
                        f"{path}: another process is writing to this library and held the lock "
                        f"for more than {timeout:g} s; wait for it to finish or pass a longer "
                        "timeout (Library(path, timeout=...))"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
