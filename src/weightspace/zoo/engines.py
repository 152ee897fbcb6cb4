"""Where zoo groups train: worker processes of this machine, or tasks of a Ray cluster.

An engine takes the plan and its groups of models (:func:`weightspace.zoo.generate._groups`) and
yields each group's trained models as they finish, with the seconds the group took. Both engines run
the same worker function (``_train_group``) on the same groups, so a plan gives the same models on
either; the generating process, the library's only writer, commits what they yield.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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
        from weightspace.zoo.generate import _run_groups

        return _run_groups(plan, groups, self.workers)


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
