"""Why a chain of a task zoo does or does not identify its task: per chain, how far training moved
its layers, and how far apart the tasks' chain-normalized Gram features lie.

    python scripts/htt_chain_diagnostics.py ZOO [ZOO ...] [--chains 1,2]

For each zoo (made with ``weightspace zoo generate --preset htt-...``) and chain k it prints:

- ``dims``: the Gram matrix's size and the number of features (its upper triangle);
- ``drift``: median over trainings of ||W_T - W_0|| / ||W_0|| of layer k's kernel (how far
  training moved the layer that the chain adds);
- ``fisher``: between-task over within-task variance of the standardized features, summed over
  features (trained snapshot; ``fisher@init`` on the initializations, the control): a chain whose
  tasks differ by less than their trainings do cannot be classified by any linear probe;
- ``1-NN``: leave-one-out nearest-centroid accuracy of the task from the features (chance 1/tasks).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from weightspace import Library
from weightspace.probe.htt import network_features


def _kernels(ws: Any) -> list[np.ndarray]:
    return [np.asarray(t.array, dtype=np.float64) for t in ws.tensors if t.role == "kernel"]


def fisher_ratio(x: np.ndarray, labels: np.ndarray) -> float:
    """Sum over standardized features of between-group variance / mean within-group variance."""
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    groups = [x[labels == g] for g in np.unique(labels)]
    between = np.var([g.mean(0) for g in groups], axis=0)
    within = np.mean([g.var(0) for g in groups], axis=0)
    return float(np.sum(between / np.where(within > 0, within, np.inf)) / x.shape[1])


def centroid_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out nearest-centroid accuracy on standardized features."""
    x = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
    hits = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        cents = {g: x[keep & (labels == g)].mean(0) for g in np.unique(labels)}
        best = min(cents, key=lambda g: float(np.sum((x[i] - cents[g]) ** 2)))
        hits += int(best == labels[i])
    return hits / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zoos", nargs="+")
    parser.add_argument("--chains", default="1,2")
    args = parser.parse_args()
    chains = [int(c) for c in args.chains.split(",")]
    print("zoo | chain | gram | features | drift | fisher | fisher@init | 1-NN | 1-NN@init | tasks")
    for path in args.zoos:
        lib = Library(path)
        frame = lib.query()
        ids, tasks = frame["id"].tolist(), frame["task"].to_numpy()
        final = [lib.get(i) for i in ids]
        init = [lib.get(i, 0) for i in ids]
        for c in chains:
            x = np.stack([network_features(w, "chain", [c])[0] for w in final])
            x0 = np.stack([network_features(w, "chain", [c])[0] for w in init])
            side = int((np.sqrt(8 * x.shape[1] + 1) - 1) / 2)
            drift = np.median(
                [
                    np.linalg.norm(_kernels(a)[c - 1] - _kernels(b)[c - 1])
                    / np.linalg.norm(_kernels(b)[c - 1])
                    for a, b in zip(final, init, strict=True)
                ]
            )
            print(
                f"{path} | {c} | {side}x{side} | {x.shape[1]} | {drift:.3f} | "
                f"{fisher_ratio(x, tasks):.3f} | {fisher_ratio(x0, tasks):.3f} | "
                f"{centroid_accuracy(x, tasks):.3f} | {centroid_accuracy(x0, tasks):.3f} | "
                f"{len(np.unique(tasks))}"
            )


if __name__ == "__main__":
    main()
