"""The Ray engine: each group of models is a Ray task; the driver commits what comes back.

A task runs the same worker function as the local engine (``train_group``) on the same group, so a
plan gives the same models on either engine. Datasets go to the workers through Ray's object store
(the driver prepares each once) and the trained snapshots come back the same way, so workers on
other machines need weightspace installed, but neither the library nor the datasets nor a shared
disk. A task whose worker process dies (killed, out of memory, node lost) is run again, up to
``max_retries`` times, by Ray; the driver, the library's only writer, commits each model of a
finished group in one transaction with its key, so a driver killed at any point loses nothing
committed and a rerun of the same plan trains only the rest.

The engine uses the Ray runtime of its process (``ray.init`` by the caller; the command line starts
or joins one); it never starts one itself.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weightspace.errors import WeightspaceError
from weightspace.ray_runtime import cancel_all, get_result, require_runtime
from weightspace.zoo.engines import GroupRuns

if TYPE_CHECKING:
    from weightspace.zoo.data.core import Dataset
    from weightspace.zoo.generate import ModelSpec, Trained
    from weightspace.zoo.presets import ZooPlan

__all__ = ["TASK_NAME", "RayEngine"]

#: Name of the training tasks; a worker process running one is titled ``ray::<TASK_NAME>``.
TASK_NAME = "weightspace-zoo-group"


def _ray_train_group(
    plan: ZooPlan, specs: list[ModelSpec], data: Dataset, threads: int
) -> tuple[list[Trained], float]:
    """A Ray task: train one group on ``threads`` threads; its models and its seconds."""
    import torch

    from weightspace.zoo.generate import train_group

    torch.set_num_threads(threads)
    start = time.perf_counter()
    trained = train_group(plan, specs, data)
    return trained, time.perf_counter() - start


@dataclass(frozen=True)
class RayEngine:
    """One Ray task per group of models, on the Ray runtime this process is connected to.

    Parameters
    ----------
    cpus_per_model : float, default=1.0
        CPUs each task holds (a task trains one model, or one group the batched trainer stacks into
        one network); PyTorch in the task uses ``max(1, int(cpus_per_model))`` threads.
    gpus_per_model : float, default=0.0
        GPUs each task holds in Ray's scheduler (fractions share a GPU). The trainer itself trains on
        the CPU, so this only reserves them.
    max_retries : int, default=3
        Times Ray runs a task again after its worker process died. A task that raises is not retried.
    max_in_flight : int, optional
        Tasks submitted at a time (default: twice what the cluster can run at once); it bounds the
        results waiting in the object store for the driver.

    Examples
    --------
    Not run by the doctests (it needs a Ray cluster):

    >>> import ray  # doctest: +SKIP
    >>> ray.init(address="auto")  # doctest: +SKIP
    >>> generate_zoo(plan, "zoo", engine=RayEngine(cpus_per_model=2))  # doctest: +SKIP
    """

    cpus_per_model: float = 1.0
    gpus_per_model: float = 0.0
    max_retries: int = 3
    max_in_flight: int | None = None

    def __post_init__(self) -> None:
        if not self.cpus_per_model > 0:
            raise WeightspaceError(
                f"RayEngine: cpus_per_model must be > 0 (CPUs per training task); "
                f"got {self.cpus_per_model}"
            )
        if not self.gpus_per_model >= 0:
            raise WeightspaceError(
                f"RayEngine: gpus_per_model must be >= 0; got {self.gpus_per_model}"
            )
        if self.max_retries < 0:
            raise WeightspaceError(f"RayEngine: max_retries must be >= 0; got {self.max_retries}")
        if self.max_in_flight is not None and self.max_in_flight < 1:
            raise WeightspaceError(
                f"RayEngine: max_in_flight must be >= 1 or None; got {self.max_in_flight}"
            )

    def _slots(self, ray: Any) -> int:
        """Tasks the cluster can run at once; an error when it cannot run one."""
        resources = ray.cluster_resources()
        cpus = float(resources.get("CPU", 0.0))
        gpus = float(resources.get("GPU", 0.0))
        if cpus < self.cpus_per_model:
            raise WeightspaceError(
                f"the Ray cluster has {cpus:g} CPUs and a training task needs cpus_per_model="
                f"{self.cpus_per_model:g}; lower --cpus-per-model or add nodes"
            )
        if self.gpus_per_model > 0 and gpus < self.gpus_per_model:
            raise WeightspaceError(
                f"the Ray cluster has {gpus:g} GPUs and a training task asks for gpus_per_model="
                f"{self.gpus_per_model:g}; drop --gpus-per-model or add GPU nodes"
            )
        slots = cpus / self.cpus_per_model
        if self.gpus_per_model > 0:
            slots = min(slots, gpus / self.gpus_per_model)
        return max(1, int(slots))

    def run(self, plan: ZooPlan, groups: list[list[ModelSpec]]) -> GroupRuns:
        """Train ``groups`` as Ray tasks; yield each group's models as it finishes (see
        :class:`weightspace.zoo.engines.Engine`). Closing the generator cancels the tasks left."""
        ray = require_runtime("the Ray zoo engine")
        window = self.max_in_flight or 2 * self._slots(ray)
        task = ray.remote(_ray_train_group).options(
            name=TASK_NAME,
            num_cpus=self.cpus_per_model,
            num_gpus=self.gpus_per_model,
            max_retries=self.max_retries,
        )
        threads = max(1, int(self.cpus_per_model))
        datasets: dict[str, Any] = {}
        pending: dict[Any, list[ModelSpec]] = {}
        queue = deque(groups)
        try:
            while queue or pending:
                while queue and len(pending) < window:
                    group = queue.popleft()
                    name = str(group[0].config["dataset"])
                    if name not in datasets:
                        datasets[name] = ray.put(_prepared(name, plan))
                    pending[task.remote(plan, group, datasets[name], threads)] = group
                finished, _ = ray.wait(list(pending), num_returns=1)
                for ref in finished:
                    group = pending.pop(ref)
                    what = f"the Ray task training models {[s.index for s in group]} of the plan"
                    yield get_result(ray, ref, what, self.max_retries)
        finally:
            cancel_all(ray, pending)


def _prepared(name: str, plan: ZooPlan) -> Dataset:
    from weightspace.zoo.generate import prepare_dataset

    return prepare_dataset(name, plan)
