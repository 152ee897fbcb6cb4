"""Streamed representations on Ray: one task per batch of models, the driver reads and ships them.

The driver (the process holding the library) reads each batch of weights and sends it through
Ray's object store with the fitted transformer; the task returns the batch's rows. Workers never open
the library, so they need no shared disk; at most ``max_in_flight`` batches are out at a time, so the
driver's memory stays bounded like the local path's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from weightspace.ray_runtime import cancel_all, get_result, require_runtime

__all__ = ["TASK_NAME", "transform_on_ray"]

#: Name of the describe tasks; a worker process running one is titled ``ray::<TASK_NAME>``.
TASK_NAME = "weightspace-describe-batch"


def _transform(estimator: Any, batch: list[Any]) -> np.ndarray:
    """A Ray task: the fitted transformer applied to one batch."""
    return np.asarray(estimator.transform(batch), dtype=np.float32)


def transform_on_ray(
    estimator: Any,
    batches: Iterable[list[Any]],
    *,
    max_in_flight: int | None = None,
    max_retries: int = 3,
) -> np.ndarray:
    """Fit ``estimator`` on the first batch (here, as the local path does), transform every batch
    in a Ray task, and stack the rows in batch order.

    Parameters
    ----------
    estimator : transformer
        An unfitted representation (:func:`weightspace.represent.registry.create_representation`).
    batches : iterable of list
        Batches of inputs (vectors or WeightSets), read lazily as tasks are submitted.
    max_in_flight : int, optional
        Batches out at a time (default: twice the cluster's CPUs).
    max_retries : int, default=3
        Times Ray runs a task again after its worker died.

    Returns
    -------
    numpy.ndarray of shape (n_models, n_features), float32
    """
    ray = require_runtime("describe with the Ray engine")
    window = max_in_flight or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    task = ray.remote(_transform).options(name=TASK_NAME, num_cpus=1, max_retries=max_retries)
    fitted: Any = None
    parts: dict[int, np.ndarray] = {}
    pending: dict[Any, int] = {}

    def collect(refs: list[Any]) -> None:
        for ref in refs:
            index = pending.pop(ref)
            parts[index] = get_result(
                ray, ref, f"the Ray task describing batch {index}", max_retries
            )

    try:
        for index, batch in enumerate(batches):
            if fitted is None:
                fitted = ray.put(estimator.fit(batch))
            while len(pending) >= window:
                done, _ = ray.wait(list(pending), num_returns=1)
                collect(done)
            pending[task.remote(fitted, batch)] = index
        collect(list(pending))
    finally:
        cancel_all(ray, pending)
    return np.concatenate([parts[i] for i in sorted(parts)])
