"""The library's writer lock: one writing process at a time, readers never wait.

The lock is an advisory ``flock`` on ``LIB/.write.lock``, held while a model's weight file is written
and its rows committed, so that a writer can safely remove files left behind by a crashed one. The
operating system releases it when the holder dies, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from weightspace.errors import LibraryLockedError

__all__ = ["sigterm_as_exit", "write_lock"]


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


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` while a writer stages files, so that its clean-up
    (the same as for Ctrl-C) runs before the process ends.

    Only in the main thread, and only where SIGTERM still has its default action (a program that
    installed its own handler keeps it).
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
