"""Permutation invariance of weight representations (MI-WD supplement, section 2 and Table 1).

Each model gets ``n_permutations`` random function-preserving permutations of its hidden units
(:func:`weightspace.symmetry.permute`). For a representation ``R`` the ratio is

    mean over models m and permutations p of ||R(m_p) - R(m)||
    / mean over pairs of different models m != m' of ||R(m) - R(m')||,

so 0 means invariant and 1 means a permutation moves a model as far as another model is.

Representations at size K: global statistics (16 features, K = 16 only), raw (theta resampled to K),
PCA (K components of theta resampled to 65,536), random projection (K x 65,536), MI-WD with
S = B = sqrt(K). PCA is fitted on the selected models and their permutations together: the paper fits
it on thousands of models, and K = 1024 components need at least 1,024 vectors.

Failed trainings are left out by default (:class:`~weightspace.probe.common.FailureFilter`, as in
every probe): a diverged network's weights (batch-norm running variances of 1e3 and more) are so far
from all others that the mean distance between models, the ratio's denominator, measures them alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.errors import WeightspaceError
from weightspace.library import Library
from weightspace.probe.common import Selection
from weightspace.probe.report import ProbeResult
from weightspace.represent import MIWD, GlobalStats, PCABaseline, RandomProjection, RawBaseline
from weightspace.reproduce.papers import MIWD_INVARIANCE
from weightspace.symmetry import permute

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["InvarianceResult", "invariance_experiment"]


@dataclass(frozen=True, eq=False)
class InvarianceResult(ProbeResult):
    """Ratios of intra (permutations) to inter (models) distances, beside the paper's."""

    table: pd.DataFrame
    n_models: int
    n_permutations: int

    probe = "invariance"
    title = "Permutation invariance of weight representations (MI-WD supplement, Table 1)"

    def to_frame(self) -> pd.DataFrame:
        """Columns: representation, K, ratio, paper_ratio."""
        return self.table.copy()

    def summary(self) -> str:
        """The table as text, ours beside the paper's."""
        wide = self.table.pivot(index="K", columns="representation", values="ratio")
        paper = self.table.pivot(index="K", columns="representation", values="paper_ratio")
        order = ["global stats", "raw", "pca", "random projection", "mi-wd"]
        lines = [
            f"Permutation invariance: intra/inter distance ratio ({self.n_models} models x "
            f"{self.n_permutations} permutations); ours (paper). Lower is more invariant.",
            f"{'K':>5} " + " ".join(f"{name:>18}" for name in order),
        ]
        for k in wide.index:
            cells = []
            for name in order:
                ours = wide.loc[k, name] if name in wide.columns else float("nan")
                ref = paper.loc[k, name] if name in paper.columns else float("nan")
                cells.append(
                    "-".rjust(18) if math.isnan(ours) else f"{ours:.3f} ({ref:.3f})".rjust(18)
                )
            lines.append(f"{k:>5} " + " ".join(cells))
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Grouped bars of ours and the paper's ratio per representation and K."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 3.5), layout="constrained")
        ax = fig.add_subplot()
        labels = [
            f"{r}\nK={k}" for r, k in zip(self.table.representation, self.table.K, strict=True)
        ]
        x = np.arange(len(labels))
        ax.bar(x - 0.2, self.table.ratio, 0.4, label="ours")
        ax.bar(x + 0.2, self.table.paper_ratio, 0.4, label="paper", alpha=0.6)
        ax.set_xticks(x, labels, fontsize=6, rotation=90)
        ax.set_ylabel("intra / inter distance")
        ax.legend()
        return fig

    def figures(self) -> dict[str, Figure]:
        """``ratios``: :meth:`plot`."""
        return {"ratios": self.plot()}

    def notes(self) -> list[str]:
        """How the ratio is measured."""
        return [
            "Ratio: mean distance between a model's representation and its permuted copies' over "
            "the mean distance between different models (0: invariant; 1: a permutation moves a "
            "model as far as another model is). Paper: MI-WD supplement, Table 1.",
            "PCA is fitted on the selected models and their permutations together (the paper "
            "fits it on thousands of models); K components need at least K vectors.",
        ]


def _mean_pairwise(X: np.ndarray) -> float:
    sq = np.sum(X.astype(np.float64) ** 2, axis=1)
    d2 = np.maximum(
        sq[:, None] + sq[None, :] - 2 * X.astype(np.float64) @ X.T.astype(np.float64), 0
    )
    n = X.shape[0]
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean())


def invariance_experiment(
    lib: Library,
    *,
    selection: Selection = Selection(),  # noqa: B008
    n_models: int = 100,
    n_permutations: int = 10,
    dims: Sequence[int] = (16, 64, 256, 1024),
    random_state: int = 0,
) -> InvarianceResult:
    """Run the invariance experiment on library models (the last snapshot of each).

    Parameters
    ----------
    lib : Library
    selection : Selection, default=Selection()
        The models: failed trainings left out (``Selection(failed=None)`` keeps every model; a
        filter needs a ``test_acc`` column), ``where`` (SQL), ``ids`` (the models used; without
        them, ``n_models`` models drawn at random (seeded) among the selection's most common
        architecture).
    n_models : int, default=100
    n_permutations : int, default=10
    dims : sequence of int, default=(16, 64, 256, 1024)
        Representation sizes K (perfect squares, for MI-WD's S = B = sqrt(K)).
    random_state : int, default=0
    """
    rng = np.random.default_rng(random_state)
    frame, _ = selection.models(lib)
    if selection.ids is not None:
        chosen = sorted(int(i) for i in frame["id"])
    else:
        chosen = _pick(lib, frame, n_models, rng)
    if len(chosen) < 2:
        raise WeightspaceError("the invariance experiment needs at least 2 models")
    originals = [lib.get(i) for i in chosen]
    permuted = [[permute(ws, rng) for _ in range(n_permutations)] for ws in originals]
    base = [ws.vector() for ws in originals]
    perm_vectors = [[p.vector() for p in row] for row in permuted]
    flat_perm = [v for row in perm_vectors for v in row]

    rows = []
    for name, k, estimator in _representations(dims, random_state):
        fit_on = base + flat_perm if name == "pca" else base
        if name == "pca" and k > len(fit_on):
            rows.append(
                {
                    "representation": name,
                    "K": k,
                    "ratio": float("nan"),
                    "paper_ratio": MIWD_INVARIANCE.get((name, k), float("nan")),
                }
            )
            continue  # K components need at least K vectors
        estimator.fit(fit_on)
        R0 = np.asarray(estimator.transform(base), dtype=np.float64)
        RP = np.asarray(estimator.transform(flat_perm), dtype=np.float64)
        RP = RP.reshape(len(base), n_permutations, -1)
        intra = float(np.linalg.norm(RP - R0[:, None, :], axis=2).mean())
        inter = _mean_pairwise(R0)
        ratio = intra / inter if inter > 0 else float("nan")
        rows.append(
            {
                "representation": name,
                "K": k,
                "ratio": ratio,
                "paper_ratio": MIWD_INVARIANCE.get((name, k), float("nan")),
            }
        )
    return InvarianceResult(pd.DataFrame(rows), len(chosen), n_permutations)


def _representations(dims: Sequence[int], random_state: int) -> list[tuple[str, int, Any]]:
    out: list[tuple[str, int, Any]] = [("global stats", 16, GlobalStats())]
    for k in dims:
        side = math.isqrt(k)
        if side * side != k:
            raise WeightspaceError(
                f"dims must be perfect squares (MI-WD uses S = B = sqrt(K)); got {k}"
            )
        out += [
            ("raw", k, RawBaseline(K=k)),
            ("pca", k, PCABaseline(K=k, random_state=random_state)),
            ("random projection", k, RandomProjection(K=k, random_state=random_state)),
            ("mi-wd", k, MIWD(S=side, B=side)),
        ]
    return out


def _pick(lib: Library, frame: pd.DataFrame, n: int, rng: np.random.Generator) -> list[int]:
    if frame.empty:
        raise WeightspaceError(f"{lib.path}: the selection holds no models")
    arch = frame["arch_id"].value_counts().index[0]
    ids = frame.loc[frame["arch_id"] == arch, "id"].to_numpy()
    if len(ids) > n:
        ids = rng.choice(ids, size=n, replace=False)
    return sorted(int(i) for i in ids)
