"""Hypothesis-training-testing with and without chain normalization (the chain-normalization paper).

*Understanding Weight Similarity of Neural Networks via Chain Normalization Rule and
Hypothesis-Training-Testing*: weight classification (top-1) and weight retrieval (rank-1) per
chain, normalized (chain Gram matrices) against unnormalized (the layer's raw weights), for an
MLP and a CNN trained many times on each of many tasks. The paper's numbers:

- tiny ImageNet (sec. 4.1, Fig. 2; 50 tasks of 4 classes, 100 trainings each, MLP-4 and
  PlainNet-5): per chain 1-3, quoted in the text (:data:`weightspace.reproduce.papers.HTT_TINY_IMAGENET`);
- CIFAR-100 (sec. 4.2, appendix E, Fig. 3; 50 binary tasks, classes 2k vs 2k+1): "about 98.0%
  top-1 and 98.0% rank-1", per chain lost; appendix E's table (unnormalized 17.2% top-1 /
  21.3% rank-1, normalized 100.0% / 95.7%) repeats the NameData GRU table (sec. 4.3) verbatim;
- ResNet-MLP-12 (appendix D, Table 2): top-1 100.0, 100.0, 100.0, 99.7, 100.0% for chains
  3, 5, 7, 9, 11.

Our zoos (:mod:`weightspace.zoo.tasks`, presets ``htt-mnist10k-mlp`` and ``htt-mnist10k-cnn``) are
random class pairs of mnist10k at 8 x 8, 40 trainings per task, far smaller networks than the
paper's. As a control the same classifier is run on the initializations (snapshot 0), where no
task can have left a footprint: it must be at chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe.common import ProbeError, Selection
from weightspace.probe.htt import FEATURES, HTTResult, htt_probe
from weightspace.probe.report import ProbeResult, with_reference
from weightspace.reproduce.papers import HTT_OTHER, htt_reference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["HTTReproduction", "htt_experiment"]


@dataclass(frozen=True, eq=False)
class HTTReproduction(ProbeResult):
    """Normalized vs unnormalized per network, protocol and chain, beside the paper.

    Attributes
    ----------
    result : HTTResult
        Every feature kind, chain and protocol (the full table).
    control : HTTResult or None
        The same on the initializations (snapshot 0), chain-normalized features.
    zoos : tuple of str
        One line per library: path, models, tasks.
    """

    result: HTTResult
    control: HTTResult | None = None
    zoos: tuple[str, ...] = ()

    probe = "htt"
    title = "Hypothesis-training-testing: chain normalization vs unnormalized weights"

    def to_frame(self) -> pd.DataFrame:
        """One row per network, protocol and chain: ours normalized / unnormalized (and the
        chain Gram without row normalization), the paper's (tiny ImageNet), the test on ours."""
        t = self.result.to_frame()
        rows = []
        for key, part in t.groupby(["network", "protocol", "chain"], sort=False):
            network, protocol, chain = (str(k) for k in key)
            by = part.set_index("features")
            row: dict[str, Any] = {"network": network, "protocol": protocol, "chain": int(chain)}
            row["metric"] = "top-1" if protocol == "classification" else "rank-1"
            for kind, column in (
                ("chain", "normalized"),
                ("layer", "unnormalized"),
                ("gram", "gram_no_row_norm"),
            ):
                row[column] = _value(by, kind, "accuracy")
            row["paper_normalized"] = _value(by, "chain", "paper_accuracy")
            row["paper_unnormalized"] = _value(by, "layer", "paper_accuracy")
            row["chance"] = float(part["chance"].iloc[0])
            row["alpha"] = float(part["alpha"].iloc[0])
            row["accept_normalized"] = _flag(by, "chain")
            row["p_value_normalized"] = _value(by, "chain", "p_value")
            row["accept_unnormalized"] = _flag(by, "layer")
            if protocol == "retrieval":
                row["rank5_normalized"] = _value(by, "chain", "rank5")
                row["mAP_normalized"] = _value(by, "chain", "mAP")
                row["mAP_unnormalized"] = _value(by, "layer", "mAP")
            rows.append(row)
        frame = pd.DataFrame(rows)
        order = {n: i for i, n in enumerate(dict.fromkeys(t["network"]))}
        frame["_n"] = frame["network"].map(order)
        frame = frame.sort_values(["_n", "protocol", "chain"], kind="stable")
        return frame.drop(columns="_n").reset_index(drop=True)

    def summary(self) -> str:
        """The paper's table layout: unnormalized | normalized per chain, ours beside theirs."""
        frame = self.to_frame()
        alpha = float(frame["alpha"].iloc[0]) if not frame.empty else 0.05
        lines = [
            "Hypothesis-training-testing (chain normalization paper): weight classification top-1 "
            "and retrieval rank-1",
            f"H0 (the trainings of a task are one solution) accepted when the error < alpha = "
            f"{alpha:g} (the paper's alpha is lost in the text)",
            *self.zoos,
            "",
            f"{'network':<8}{'protocol':<22}{'chain':>5}  {'ours: unnorm.':>13} {'normalized':>10}"
            f"  {'paper: unnorm.':>14} {'normalized':>10}  {'chance':>6}  H0 (normalized)",
        ]
        for r in frame.to_dict("records"):
            p_value = float(r["p_value_normalized"])
            decision = f"{'accept' if r['accept_normalized'] else 'reject'} (p={p_value:.2g})"
            lines.append(
                f"{r['network']:<8}{r['protocol'] + ' ' + r['metric']:<22}{r['chain']:>5}  "
                f"{_pct(r['unnormalized']):>13} {_pct(r['normalized']):>10}  "
                f"{_pct(r['paper_unnormalized']):>14} {_pct(r['paper_normalized']):>10}  "
                f"{_pct(r['chance']):>6}  {decision}"
            )
        lines.append("paper: tiny ImageNet (sec. 4.1), chains 1-3; the paper's other numbers:")
        lines += [f"  {where}: {what}" for where, what in HTT_OTHER]
        if self.control is not None:
            c = self.control.table
            cls = c[c["protocol"] == "classification"].to_dict("records")
            cells = [f"{r['network']} chain {r['chain']}: {float(r['accuracy']):.3f}" for r in cls]
            chance = sorted({float(r["chance"]) for r in cls})
            lines.append(
                "control, the initializations (snapshot 0), normalized top-1: "
                + ", ".join(cells)
                + f" (chance {', '.join(f'{v:.3f}' for v in chance)})"
            )
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Top-1 and rank-1 per chain, network and feature kind, the paper's as markers."""
        return self.result.plot()

    def figures(self) -> dict[str, Figure]:
        """``accuracy`` and ``cmc`` of the trained networks."""
        return self.result.figures()

    def tables(self) -> dict[str, pd.DataFrame]:
        """The full table, and the control on the initializations."""
        columns = ["network", "features", "chain", "protocol", "accuracy", "accuracy_std",
                   "rank5", "rank10", "mAP", "chance", "n_test", "error", "accept", "p_value",
                   "paper_accuracy", "n_features"]  # fmt: skip
        out = {"Every feature kind, chain and protocol": self.result.to_frame()[columns]}
        if self.control is not None:
            out["Control: the initializations (snapshot 0), normalized"] = self.control.to_frame()[
                columns
            ]
        return out

    def notes(self) -> list[str]:
        """The probe's notes, what 'unnormalized' is, and how our zoos differ from the paper's."""
        return [
            *self.result.notes(),
            "Our zoos: random class pairs of mnist10k at 8 x 8 grey pixels, 40 trainings per task "
            "(SGD, momentum 0.9, 12 epochs), a 64-32-32-32-2 MLP and a two-unit PlainNet "
            "(32 and 64 3x3 filters); the paper: tiny ImageNet / CIFAR-100, MLP-4 with 500 units, "
            "PlainNet-5, 100 trainings per task, 50 tasks.",
            "Run r of every task shares its data order seed; its initialization seed is mixed "
            "with the task name, so no two tasks share an initialization.",
        ]


def _value(by: pd.DataFrame, kind: str, column: str) -> float:
    value: Any = by.at[kind, column] if kind in by.index else float("nan")
    return float(value)


def _flag(by: pd.DataFrame, kind: str) -> bool | None:
    return bool(by.at[kind, "accept"]) if kind in by.index else None


def _pct(value: Any) -> str:
    return "-" if value is None or np.isnan(float(value)) else f"{100 * float(value):.1f}%"


def htt_experiment(
    libraries: Sequence[Library],
    *,
    features: Sequence[str] = tuple(FEATURES),
    control: bool = True,
    selection: Selection = Selection(failed=None),  # noqa: B008
    **kwargs: Any,
) -> HTTReproduction:
    """Run :func:`weightspace.probe.htt.htt_probe` on every library (e.g. the MLP and the CNN
    task zoo), and on their initializations as a control.

    Parameters
    ----------
    libraries : sequence of Library
        Task zoos, one architecture each.
    features : sequence of str, default=("chain", "layer", "gram")
    control : bool, default=True
        Also classify the initializations (snapshot 0) with chain-normalized features.
    selection : Selection, default=Selection(failed=None)
        The models probed in every library: by default every model, failed trainings kept (as
        :func:`~weightspace.probe.htt.htt_probe`; ``Selection()`` rejects them), ``where`` (SQL),
        ``ids``.
    **kwargs
        Passed to :func:`~weightspace.probe.htt.htt_probe` (``alpha``, ``n_repeats``, ...).
    """
    if not libraries:
        raise ProbeError("give at least one task zoo library")
    results, controls, zoos = [], [], []
    for lib in libraries:
        result = htt_probe(lib, features=features, selection=selection, **kwargs)
        result = with_reference(result, htt_reference())
        results.append(result)
        row = result.table.iloc[0]
        zoos.append(
            f"{row.network}: {lib.path} ({int(row.n_models)} trainings of {int(row.n_tasks)} "
            f"tasks; {result.settings['architecture'][row.network]})"
        )
        if control:
            settings = {k: v for k, v in kwargs.items() if k != "snapshot"}
            probe = htt_probe(lib, features=("chain",), snapshot=0, selection=selection, **settings)
            controls.append(with_reference(probe, htt_reference()))
    return HTTReproduction(
        HTTResult.combine(results),
        HTTResult.combine(controls) if controls else None,
        tuple(zoos),
    )
