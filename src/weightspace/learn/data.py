"""The training data of an encoder: every snapshot of every selected model of one architecture."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from weightspace.io.weightset import WeightSet
from weightspace.learn.layout import LearnError, WeightLayout
from weightspace.library import Library

__all__ = ["ZooData", "load_zoo", "split_models"]


@dataclass(frozen=True, eq=False)
class ZooData:
    """Snapshots of a zoo as rows of canonical vectors.

    Attributes
    ----------
    vectors : numpy.ndarray of shape (n_samples, n_params), float32
    model : numpy.ndarray of shape (n_samples,), int64
        Model id of every row.
    snapshot : numpy.ndarray of shape (n_samples,), int64
        Snapshot index of every row.
    layout : WeightLayout
    example : WeightSet
        The last snapshot of the first model (names, layers and roles of the architecture).
    source : str
        The library path.
    """

    vectors: np.ndarray
    model: np.ndarray
    snapshot: np.ndarray
    layout: WeightLayout
    example: WeightSet
    source: str

    @property
    def ids(self) -> list[int]:
        """Model ids, in order of first appearance."""
        return [int(i) for i in dict.fromkeys(self.model.tolist())]

    def fingerprint(self) -> str:
        """A short hash of the models and snapshots the data holds (not their values)."""
        text = json.dumps([self.model.tolist(), self.snapshot.tolist()])
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def load_zoo(
    lib: Library,
    *,
    where: str | None = None,
    ids: Sequence[int] | None = None,
) -> ZooData:
    """All snapshots of the selected models, which must share one architecture.

    Raises
    ------
    LearnError
        Fewer than two models, or models of several architectures.
    """
    chosen = lib.ids(where) if ids is None else [int(i) for i in ids]
    if len(chosen) < 2:
        raise LearnError(
            f"{lib.path}: an encoder needs at least 2 models to train on; the selection has "
            f"{len(chosen)}"
        )
    frame = lib.query().set_index("id").loc[chosen]
    layouts: dict[str, WeightLayout] = {}
    for arch in dict.fromkeys(frame["arch_id"]):
        first = int(frame.index[frame["arch_id"] == arch][0])
        layouts[str(arch)] = WeightLayout.from_weightset(lib.get(first))
    signatures = {lay.signature for lay in layouts.values()}
    if len(signatures) > 1:
        kinds = ", ".join(f"{a}: {lay.describe()}" for a, lay in list(layouts.items())[:4])
        raise LearnError(
            f"{lib.path}: the selection holds models of {len(signatures)} architectures ({kinds}); "
            "an encoder trains on one: select it with --where \"arch_id = '...'\""
        )
    layout = next(iter(layouts.values()))
    parts, model, snap = [], [], []
    for mid in chosen:
        matrix = np.asarray(lib.snapshot_matrix(mid), dtype=np.float32)
        parts.append(matrix)
        model.append(np.full(matrix.shape[0], mid, dtype=np.int64))
        snap.append(np.arange(matrix.shape[0], dtype=np.int64))
    vectors = np.concatenate(parts)
    if not np.isfinite(vectors).all():
        bad = sorted({int(m) for m in np.concatenate(model)[~np.isfinite(vectors).all(axis=1)]})
        raise LearnError(
            f"{lib.path}: model(s) {bad[:10]} hold NaN or infinite weights; leave them out with "
            '--where "nonfinite = 0"'
        )
    return ZooData(
        vectors,
        np.concatenate(model),
        np.concatenate(snap),
        layout,
        lib.get(chosen[0]),
        str(lib.path),
    )


def split_models(ids: Sequence[int], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Model ids split at random into ``(train, held_out)`` with ``fraction`` held out (>= 1)."""
    ids_arr = np.asarray(list(ids), dtype=np.int64)
    if not 0.0 < fraction < 1.0:
        raise LearnError(f"the validation fraction must be in (0, 1); got {fraction!r}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(ids_arr)
    n_out = min(max(1, round(fraction * len(ids_arr))), len(ids_arr) - 1)
    return np.sort(order[n_out:]), np.sort(order[:n_out])
