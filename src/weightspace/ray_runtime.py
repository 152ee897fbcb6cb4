"""Ray, the optional cluster engine: the lazy import and the runtime a command starts or joins.

Ray is an extra (``pip install 'weightspace[ray]'``). Nothing here runs at import time: library code
(:class:`weightspace.zoo.ray_engine.RayEngine`, ``describe_library(..., engine="ray")``) uses the
Ray runtime its caller started with ``ray.init``; the command line starts or joins one with
:func:`ray_runtime` for the length of one command.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from weightspace.errors import WeightspaceError

__all__ = ["RAY_HINT", "cancel_all", "get_result", "import_ray", "ray_runtime", "require_runtime"]

#: How to install the extra, in every message about a missing Ray.
RAY_HINT = "pip install 'weightspace[ray]'"

#: Object store of a local runtime started by a command, in MiB: results are consumed as they
#: arrive and the number of tasks in flight is bounded, so a small store is enough (Ray spills to
#: disk past it).
DEFAULT_OBJECT_STORE_MB = 256


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`WeightspaceError` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise WeightspaceError(
            f"the Ray engine needs Ray, which is not installed here: {RAY_HINT}"
        ) from None
    return ray


def require_runtime(what: str) -> Any:
    """The ``ray`` module, once a runtime is connected; otherwise an error naming the fix."""
    ray = import_ray()
    if not ray.is_initialized():
        raise WeightspaceError(
            f"{what} needs a Ray runtime: call ray.init() (or ray.init(address=...)) first, or use "
            "the command line's --engine ray, which starts or joins one"
        )
    return ray


@contextmanager
def ray_runtime(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_mb: int = DEFAULT_OBJECT_STORE_MB,
) -> Iterator[Any]:
    """Join a Ray cluster, or start a local runtime, for the length of a ``with`` block.

    Parameters
    ----------
    address : str, optional
        A running cluster (``HOST:PORT`` of its head, or ``auto``); default ``RAY_ADDRESS`` from
        the environment. Without either, a local runtime is started here and stopped on exit.
    num_cpus : int, optional
        CPUs of a local runtime (default: all); ignored when joining a cluster.
    object_store_mb : int, default=256
        Object store of a local runtime, in MiB.

    Yields
    ------
    module
        The ``ray`` module, connected. A runtime already connected in this process is used as it
        is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(
                num_cpus=num_cpus,
                object_store_memory=int(object_store_mb) * 2**20,
                include_dashboard=False,
                **quiet,
            )
    except ConnectionError as exc:
        raise WeightspaceError(
            f"cannot join the Ray cluster at {address!r} ({exc}); start its head with "
            "`ray start --head` and pass the address it prints (--address or RAY_ADDRESS)"
        ) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once on a ``HOST:PORT`` that nothing listens on (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": Ray resolves and reports these itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise WeightspaceError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); start its head with "
            "`ray start --head` and pass the address it prints (--address or RAY_ADDRESS)"
        ) from None


def get_result(ray: Any, ref: Any, what: str, retries: int) -> Any:
    """The value of a finished Ray task, or an error naming the task (``what``) and the fix.

    A task that raised a :class:`WeightspaceError` (bad input or state on the worker) and a task
    whose worker died more than ``retries`` times give a :class:`WeightspaceError`; any other
    exception raised in the task (a bug) propagates with the worker's traceback.
    """
    rerun = "what was committed is kept; rerun the same command to do the rest"
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, WeightspaceError):
            raise WeightspaceError(f"{what} failed: {exc.cause}; {rerun}") from None
        raise
    except ray.exceptions.RayError as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise WeightspaceError(
            f"{what} failed after {retries} retries ({type(exc).__name__}: {first}); {rerun}"
        ) from None


def cancel_all(ray: Any, refs: Iterable[Any]) -> None:
    """Cancel tasks still in flight (killing their workers), as a run stops early."""
    for ref in list(refs):
        with contextlib.suppress(Exception):  # the runtime may be gone: nothing left to stop
            ray.cancel(ref, force=True)
