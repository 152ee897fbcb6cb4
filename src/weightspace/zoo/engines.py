"""Where zoo groups train: worker processes of this machine, or tasks of a Ray cluster.

An engine takes the plan and its groups of models (formed by
:func:`weightspace.zoo.generate.generate_zoo`) and yields each group's trained models as they
finish, with the seconds the group took. Both engines run the same worker function
(:func:`weightspace.zoo.generate.train_group`) on the same groups, so a plan gives the same models
on either; the generating process, the library's only writer, commits what they yield.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Generator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from weightspace.errors import WeightspaceError

if TYPE_CHECKING:
    from weightspace.zoo.generate import ModelSpec, Trained
    from weightspace.zoo.presets import ZooPlan

__all__ = ["Engine", "GroupRuns", "LocalEngine", "create_engine"]

#: What an engine yields: the trained models of one group and the seconds the group took.
GroupRuns = Generator[tuple[list["Trained"], float], None, None]


class Engine(Protocol):
    """Trains groups of models somewhere and yields them as they finish."""

    def run(self, plan: ZooPlan, groups: list[list[ModelSpec]]) -> GroupRuns:
        """Train ``groups``; yield ``(trained models, seconds)`` per group, in completion order.

        Closing the generator stops the work still in flight.
        """
        ...


@dataclass(frozen=True)
class LocalEngine:
    """Worker processes of this machine (spawned; ``workers=0`` trains in this process).

    Parameters
    ----------
    workers : int, default=1
    """

    workers: int = 1

    def run(self, plan: ZooPlan, groups: list[list[ModelSpec]]) -> GroupRuns:
        """Train ``groups`` on the worker processes (see :class:`Engine`)."""
        return _run_groups(plan, groups, self.workers)


# ------------------------------------------------------------------------------ local workers
def _worker_init(parent: int) -> None:
    import torch

    _exit_with_parent(parent)
    # Each worker process is ours: one thread each, the processes give the parallelism.
    torch.set_num_threads(1)


def _exit_with_parent(parent: int) -> None:
    """Linux: the worker gets SIGTERM when the generating process dies, even by SIGKILL or the
    OOM killer; otherwise it would wait on its task queue forever (an orphan holding memory).
    No standard-library or torch call does this; it is one ``prctl``."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run_groups(plan: ZooPlan, groups: list[list[ModelSpec]], workers: int) -> GroupRuns:
    """The local engine: groups on ``workers`` spawned processes (0: in this process), yielded as
    they finish with their wall-clock seconds."""
    if workers < 0:
        raise WeightspaceError(f"workers must be >= 0; got {workers}")
    from weightspace.zoo.generate import train_group

    if workers == 0:
        for group in groups:
            t0 = time.perf_counter()
            results = train_group(plan, group)
            yield results, time.perf_counter() - t0
        return
    # spawn, not fork: forking a process that already runs torch's thread pools can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_init, initargs=(os.getpid(),), mp_context=context
    ) as pool:
        pending: dict[Future[Any], float] = {}
        queue = list(groups)
        while queue or pending:
            while queue and len(pending) < workers:
                pending[pool.submit(train_group, plan, queue.pop(0))] = time.perf_counter()
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                t0 = pending.pop(future)
                yield future.result(), time.perf_counter() - t0


def create_engine(
    name: str,
    *,
    workers: int = 1,
    cpus_per_model: float = 1.0,
    gpus_per_model: float = 0.0,
) -> Engine:
    """The engine called ``name``: ``"local"`` (``workers`` processes) or ``"ray"`` (one Ray task
    per group, each holding ``cpus_per_model`` CPUs and ``gpus_per_model`` GPUs)."""
    if name == "local":
        return LocalEngine(workers=workers)
    if name == "ray":
        from weightspace.zoo.ray_engine import RayEngine

        return RayEngine(cpus_per_model=cpus_per_model, gpus_per_model=gpus_per_model)
    raise WeightspaceError(f"unknown zoo engine {name!r}; choose 'local' or 'ray'")
