"""Hypothesis-training-testing: is every training of one task the same solution, up to permutation?

*Understanding Weight Similarity of Neural Networks via Chain Normalization Rule and
Hypothesis-Training-Testing* (sec. 2-4, appendices A-F). The null hypothesis: the trainings of one
network on one learning task (differing in their seed) are equivalent in a metric space. Labelling
every training with its task, a weight classifier is trained on some trainings and tested:

- **classification protocol**: per task 60% of the trainings train the classifier, the other 40%
  test it (top-1 accuracy);
- **retrieval protocol**: the classifier is trained on the trainings of some tasks (the paper: 30
  of 50); the trainings of the other, unseen tasks are embedded with the classifier's linear layer
  (its outputs, "the last fully-connected layer"), 20% of each unseen task's trainings are
  queries, the rest the gallery; scored by CMC rank-1/5/10 and mAP (cosine similarity);
- **the test**: the hypothesis is accepted when the error (1 - top-1, or 1 - rank-1) falls below
  the significance level ``alpha`` (the text lost its value; its accepted errors reach 4.3%, so
  0.05 is the default here). Beside that rule we give the exact one-sided binomial p-value of
  "error < alpha".

The weight classifier is the paper's: one linear layer on the flattened features, softmax,
cross-entropy; here with an L2 weight decay, optimized to convergence with L-BFGS (a strictly
convex problem: one solution, no seed). Features, per chain ``k``:

- ``chain``: the chain-normalized Gram matrix of layers ``1..k`` (rows of each layer scaled to unit
  norm, :func:`weightspace.represent.chain.chain_grams`), upper triangle: "normalized";
- ``layer``: the raw kernel of layer ``k``, flattened: the paper's "without chain normalization"
  (its layer-based baseline);
- ``gram``: the Gram matrix of the raw chain, without the row normalization (an ablation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightspace.io.load import load_weights
from weightspace.library import Library
from weightspace.probe.common import ProbeError, Selection, filter_notes
from weightspace.probe.htt_protocols import (
    WeightClassifier,
    classification_protocol,
    htt_decision,
    retrieval_protocol,
)
from weightspace.probe.report import ProbeResult, Reference
from weightspace.represent.chain import chain_grams

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FEATURES", "HTTResult", "htt_probe", "network_features"]

#: The feature kinds, and what the report calls them.
FEATURES: dict[str, str] = {
    "chain": "normalized (chain Gram)",
    "layer": "unnormalized (layer weights)",
    "gram": "chain Gram, no row norm",
}


# ------------------------------------------------------------------------------ features
def network_features(weights: Any, kind: str, chains: Sequence[int]) -> list[np.ndarray]:
    """The flattened features of one network for each chain in ``chains`` (1-based).

    Parameters
    ----------
    weights : WeightSet, nn.Module, path or state dict
        A feed-forward MLP or CNN.
    kind : {"chain", "layer", "gram"}
        See the module notes.
    chains : sequence of int
        Chains (``chain``, ``gram``) or layers (``layer``), 1-based.

    Returns
    -------
    list of numpy.ndarray
        One float32 vector per chain: the upper triangle of a Gram matrix, or a layer's kernel.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    >>> [f.shape for f in network_features(net, "chain", [1, 2])]
    [(6,), (6,)]
    """
    if kind not in FEATURES:
        raise ProbeError(f"unknown feature kind {kind!r}; choose one of {list(FEATURES)}")
    ws = load_weights(weights)
    if kind == "layer":
        kernels = [t.array for t in ws.tensors if t.role == "kernel"]
        bad = [c for c in chains if not 1 <= c <= len(kernels)]
        if bad:
            raise ProbeError(f"layers {bad} out of range: the network has {len(kernels)} layers")
        return [np.asarray(kernels[c - 1], dtype=np.float32).reshape(-1) for c in chains]
    grams = chain_grams(ws, normalize=kind == "chain", chains=sorted(set(chains)))
    by_chain = dict(zip(sorted(set(chains)), grams, strict=True))
    out = []
    for c in chains:
        g = by_chain[c]
        out.append(g[np.triu_indices(g.shape[0])].astype(np.float32))
    return out


def _network_kind(ws: Any) -> str:
    kernels = [t.array for t in load_weights(ws).tensors if t.role == "kernel"]
    return "CNN" if any(k.ndim > 2 for k in kernels) else "MLP"


# ------------------------------------------------------------------------------ the probe
@dataclass(frozen=True, eq=False)
class HTTResult(ProbeResult):
    """Classification and retrieval per network, feature kind and chain, with the test.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (network, features, chain, protocol); see :meth:`to_frame`.
    curves : pandas.DataFrame
        Mean CMC curves: network, features, chain, rank, cmc.
    settings : dict
        The protocol settings (alpha, fractions, repeats, classifier).
    """

    table: pd.DataFrame
    curves: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    filter_report: pd.DataFrame | None = None
    #: Published accuracies: ``values`` by ``(network, protocol, features, chain)``,
    #: ``texts["header"]`` and ``texts["marker"]`` (where they were measured), ``texts["note"]``.
    reference: Reference | None = None

    probe = "htt"
    title = "Hypothesis-training-testing: weight classification and retrieval"

    @classmethod
    def combine(cls, results: Sequence[HTTResult]) -> HTTResult:
        """One result of several networks (e.g. the MLP zoo and the CNN zoo)."""
        if not results:
            raise ProbeError("no HTT results to combine")
        reports = [r.filter_report for r in results if r.filter_report is not None]
        return cls(
            pd.concat([r.table for r in results], ignore_index=True),
            pd.concat([r.curves for r in results], ignore_index=True),
            dict(results[0].settings),
            pd.concat(reports, ignore_index=True) if reports else None,
            results[0].reference,
        )

    def to_frame(self) -> pd.DataFrame:
        """Columns: network, features, chain, protocol, accuracy (top-1 or rank-1), accuracy_std,
        rank5, rank10, mAP, chance, n_test, error, alpha, accept, p_value, (with a reference the
        published accuracy, ``paper_accuracy``), n_features, n_models, n_tasks."""
        table = self.table.copy()
        if self.reference is not None:
            keys = zip(table.network, table.protocol, table.features, table.chain, strict=True)
            paper = [self._paper(str(n), str(p), str(f), int(c)) for n, p, f, c in keys]
            table.insert(list(table.columns).index("p_value") + 1, "paper_accuracy", paper)
        return table

    def _paper(self, network: str, protocol: str, features: str, chain: int) -> float:
        if self.reference is None:
            return float("nan")
        return self.reference.value((network, protocol, features, chain))

    def _wide(self, network: str, protocol: str, column: str = "accuracy") -> pd.DataFrame:
        part = self.table[(self.table.network == network) & (self.table.protocol == protocol)]
        return part.pivot(index="chain", columns="features", values=column)

    def summary(self) -> str:
        """Per network and protocol: accuracy per chain and feature kind beside the paper's."""
        s = self.settings
        ref = self.reference
        lines = [
            f"Hypothesis-training-testing, alpha = {s.get('alpha', 0.05):g} (accept H0 when the "
            "error is below alpha)" + ("" if ref is None else f"; paper: {ref.text('header')}"),
        ]
        for network in dict.fromkeys(self.table.network):
            sub = self.table[self.table.network == network]
            first = sub.iloc[0]
            lines.append("")
            lines.append(
                f"{network}: {int(first.n_models)} trainings of {int(first.n_tasks)} tasks "
                f"({s.get('architecture', {}).get(network, '')})"
            )
            for protocol, metric in (("classification", "top-1"), ("retrieval", "rank-1")):
                rows = sub[sub.protocol == protocol]
                if rows.empty:
                    continue
                kinds = [k for k in FEATURES if k in set(rows.features)]
                lines.append(
                    f"  {protocol} {metric} (chance {float(rows.chance.iloc[0]):.3f}); "
                    + ("retrieval also rank-5 / mAP" if protocol == "retrieval" else "")
                )
                head = "".join(f"{FEATURES[k]:>30}" for k in kinds)
                paper_head = "" if ref is None else f"   {'paper norm.':>11} {'unnorm.':>8}"
                lines.append(f"  {'chain':<6}{head}{paper_head}  H0")
                wide = rows.set_index(["chain", "features"])
                for chain in sorted(set(rows.chain)):
                    cells = []
                    for k in kinds:
                        r = wide.loc[(chain, k)]
                        text = f"{r.accuracy:.3f}"
                        if protocol == "retrieval":
                            text += f" / {r.rank5:.3f} / {r.mAP:.3f}"
                        cells.append(f"{text:>30}")
                    paper = [
                        self._paper(network, protocol, k, int(chain)) for k in ("chain", "layer")
                    ]
                    ptxt = (
                        ""
                        if ref is None
                        else "   "
                        + " ".join(
                            f"{'-' if np.isnan(v) else f'{v:.3f}':>{w}}"
                            for v, w in zip(paper, (11, 8), strict=True)
                        )
                    )
                    decision = ""
                    if ("chain" in kinds) and (chain, "chain") in wide.index:
                        r = wide.loc[(chain, "chain")]
                        decision = f"{'accept' if r.accept else 'reject'} (p={r.p_value:.2g})"
                    lines.append(f"  {int(chain):<6}{''.join(cells)}{ptxt}  {decision}")
        return "\n".join(lines)

    def plot(self) -> Figure:
        """Top-1 and rank-1 per chain and feature kind (std over splits), the paper's as markers."""
        from matplotlib.figure import Figure

        t = self.table
        networks = list(dict.fromkeys(t.network))
        protocols = [p for p in ("classification", "retrieval") if p in set(t.protocol)]
        fig = Figure(figsize=(4.6 * len(networks) + 0.5, 3.0 * len(protocols) + 0.9))
        fig.set_layout_engine("constrained")
        axes = fig.subplots(len(protocols), len(networks), squeeze=False)
        colors = {"chain": "tab:blue", "layer": "tab:orange", "gram": "tab:green"}
        alpha = float(self.settings.get("alpha", 0.05))
        for i, protocol in enumerate(protocols):
            for j, network in enumerate(networks):
                ax = axes[i][j]
                wide = self._wide(network, protocol)
                err = self._wide(network, protocol, "accuracy_std")
                kinds = [k for k in FEATURES if k in wide.columns]
                width = 0.8 / max(1, len(kinds))
                x = np.arange(len(wide.index))
                for n, k in enumerate(kinds):
                    xs = x - 0.4 + width * (n + 0.5)
                    ax.bar(xs, wide[k].to_numpy(), width, yerr=err[k].to_numpy(), capsize=2,
                           color=colors[k], label=f"ours: {FEATURES[k]}")  # fmt: skip
                    paper = [self._paper(network, protocol, k, int(c)) for c in wide.index]
                    if self.reference is not None and not np.isnan(paper).all():
                        name = FEATURES[k].split(" (")[0]
                        where = self.reference.text("marker")
                        ax.plot(xs, paper, "kD" if k == "chain" else "kx", ms=5,
                                label=f"paper ({where}): {name}")  # fmt: skip
                ax.axhline(1 - alpha, color="tab:red", ls="--", lw=1,
                           label=f"1 - alpha ({1 - alpha:g}): accept above")  # fmt: skip
                rows = t[(t.network == network) & (t.protocol == protocol)]
                ax.axhline(float(rows.chance.iloc[0]), color="0.4", ls=":", lw=1, label="chance")
                ax.set_xticks(x, [f"chain {int(c)}" for c in wide.index])
                ax.set_ylim(0, 1.05)
                metric = "top-1" if protocol == "classification" else "rank-1 (unseen tasks)"
                ax.set_title(f"{network}: {protocol}, {metric}", fontsize=10)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=7.5)
        return fig

    def cmc_figure(self) -> Figure:
        """Mean CMC curves of the unseen tasks' trainings: one panel per network and feature kind,
        one line per chain."""
        from matplotlib.figure import Figure

        c = self.curves
        networks = list(dict.fromkeys(c.network))
        kinds = [k for k in FEATURES if k in set(c.features)]
        fig = Figure(figsize=(3.3 * len(kinds) + 0.4, 2.8 * len(networks) + 0.3))
        fig.set_layout_engine("constrained")
        axes = fig.subplots(len(networks), len(kinds), squeeze=False, sharey=True)
        for i, network in enumerate(networks):
            for j, kind in enumerate(kinds):
                ax = axes[i][j]
                sub = c[(c.network == network) & (c.features == kind)]
                for chain, part in sub.groupby("chain"):
                    ax.plot(part["rank"], part["cmc"], marker=".", label=f"chain {chain}")
                ax.set_ylim(0, 1.02)
                ax.set_title(f"{network}: {FEATURES[kind]}", fontsize=9)
                ax.set_xlabel("rank", fontsize=8)
                if j == 0:
                    ax.set_ylabel("CMC (queries matched)", fontsize=8)
                ax.legend(fontsize=7, loc="lower right")
        return fig

    def figures(self) -> dict[str, Figure]:
        """``accuracy`` (:meth:`plot`) and ``cmc`` (:meth:`cmc_figure`)."""
        out = {"accuracy": self.plot()}
        if not self.curves.empty:
            out["cmc"] = self.cmc_figure()
        return out

    def notes(self) -> list[str]:
        """Choices behind the numbers, and what the paper lost."""
        s = self.settings
        notes = [
            f"Classification: per task {s.get('train_fraction', 0.6):.0%} of the trainings train "
            f"the classifier, the rest test it; retrieval: the classifier is trained on "
            f"{s.get('train_tasks', 0.6):.0%} of the tasks, {s.get('query_fraction', 0.2):.0%} of "
            "each unseen task's trainings are queries, the rest the gallery (cosine similarity of "
            "the linear layer's outputs). "
            f"{s.get('n_repeats', 1)} random split(s) each; accuracy_std is over them.",
            "Weight classifier: one linear layer, softmax, cross-entropy with L2 weight decay "
            f"{s.get('weight_decay', 1e-3):g}, standardized features, L-BFGS to convergence.",
            "'unnormalized' is the paper's baseline without chain normalization: the raw kernel of "
            "layer k, flattened; 'chain Gram, no row norm' is the chain's Gram matrix without the "
            "per-layer row normalization (an ablation the paper does not report).",
            "The test: accept H0 (trainings of a task are one solution) when the error is below "
            "alpha; the paper's alpha is lost in the text (its accepted errors reach 4.3%, so "
            "0.05 here). p_value: exact binomial P(errors <= observed | error rate = alpha).",
        ]
        if self.reference is not None:
            notes.append(self.reference.text("note"))
        return notes + filter_notes(self.filter_report)


def htt_probe(
    lib: Library,
    *,
    task_column: str = "task",
    features: Sequence[str] = ("chain", "layer", "gram"),
    chains: Sequence[int] | None = None,
    alpha: float = 0.05,
    snapshot: int = -1,
    train_fraction: float = 0.6,
    train_tasks: float = 0.6,
    query_fraction: float = 0.2,
    max_rank: int = 10,
    n_repeats: int = 5,
    weight_decay: float = 1e-3,
    network: str | None = None,
    selection: Selection = Selection(failed=None),  # noqa: B008
    random_state: int = 0,
) -> HTTResult:
    """Hypothesis-training-testing on a task zoo: both protocols, every chain and feature kind.

    Parameters
    ----------
    lib : Library
        A task zoo (``weightspace zoo generate --preset htt-mnist10k-mlp``): one architecture,
        several trainings per task.
    task_column : str, default="task"
        The column naming each training's task (the weight label).
    features : sequence of {"chain", "layer", "gram"}
        Feature kinds (see the module notes).
    chains : sequence of int, optional
        Chains (layers for ``layer``), 1-based; default all.
    alpha : float, default=0.05
        Significance level of the test.
    snapshot : int, default=-1
        Which snapshot of every training (-1: the trained weights).
    train_fraction, train_tasks, query_fraction : float
        The protocols' splits (paper: 60/40 trainings; 30 of 50 tasks; 20 of 100 queries).
    max_rank : int, default=10
    n_repeats : int, default=5
        Random splits per protocol.
    weight_decay : float, default=1e-3
        The classifier's L2 penalty.
    network : str, optional
        Name in the report (default ``MLP`` or ``CNN`` from the kernels' shapes).
    selection : Selection, default=Selection(failed=None)
        The models probed: by default every model, failed trainings kept (the paper does not
        reject them; ``Selection()`` rejects them first), ``where`` (SQL), ``ids``.
    random_state : int, default=0
    """
    if not 0.0 < alpha < 1.0:
        raise ProbeError(f"alpha must lie in (0, 1); got {alpha!r}")
    unknown = [k for k in features if k not in FEATURES]
    if unknown or not features:
        raise ProbeError(f"features must be among {list(FEATURES)}; got {list(features)}")
    models, report = selection.models(lib)
    if task_column not in models.columns:
        raise ProbeError(
            f"{lib.path}: the models have no {task_column!r} column; generate a task zoo "
            "(weightspace zoo generate --preset htt-mnist10k-mlp) or name the task column "
            "(task_column=..., CLI --task-column)"
        )
    if models["arch_id"].nunique() > 1:
        raise ProbeError(
            f"{lib.path}: the selection holds {models['arch_id'].nunique()} architectures; the "
            "classifier needs one: select one with "
            "selection=Selection(failed=None, where=\"arch_id = '...'\") (CLI --where)"
        )
    models = models[models[task_column].notna()]
    tasks = models[task_column].astype(str).to_numpy()
    ids = models["id"].astype(int).tolist()
    nets = [lib.get(i, snapshot) for i in ids]
    n_layers = sum(t.role == "kernel" for t in nets[0].tensors)
    chosen = list(range(1, n_layers + 1)) if chains is None else [int(c) for c in chains]
    name = network or _network_kind(nets[0])
    classifier = WeightClassifier(weight_decay=weight_decay)
    rows, curves = [], []
    common = {"network": name, "n_models": len(ids), "n_tasks": len(set(tasks)), "alpha": alpha}
    for kind in features:
        per_net = [network_features(ws, kind, chosen) for ws in nets]
        for c_index, chain in enumerate(chosen):
            X = np.stack([f[c_index] for f in per_net])
            cls = classification_protocol(
                X, tasks, train_fraction=train_fraction, n_repeats=n_repeats,
                classifier=classifier, random_state=random_state,
            )  # fmt: skip
            dec = htt_decision(cls.errors, cls.n_test, alpha)
            rows.append(common | {
                "features": kind, "chain": chain, "protocol": "classification",
                "accuracy": cls.mean, "accuracy_std": float(cls.top1.std()),
                "rank5": np.nan, "rank10": np.nan, "mAP": np.nan, "chance": 1.0 / cls.n_classes,
                "n_test": cls.n_test, "error": dec.error, "accept": dec.accept,
                "p_value": dec.p_value, "n_features": X.shape[1],
            })  # fmt: skip
            ret = retrieval_protocol(
                X, tasks, train_tasks=train_tasks, query_fraction=query_fraction,
                max_rank=max_rank, n_repeats=n_repeats, classifier=classifier,
                random_state=random_state,
            )  # fmt: skip
            dec = htt_decision(ret.errors, ret.n_queries, alpha)
            rows.append(common | {
                "features": kind, "chain": chain, "protocol": "retrieval",
                "accuracy": ret.rank(1), "accuracy_std": float(ret.cmc[:, 0].std()),
                "rank5": ret.rank(5), "rank10": ret.rank(10), "mAP": float(ret.mAP.mean()),
                "chance": 1.0 / ret.n_test_tasks, "n_test": ret.n_queries, "error": dec.error,
                "accept": dec.accept, "p_value": dec.p_value, "n_features": X.shape[1],
            })  # fmt: skip
            mean_cmc = ret.cmc.mean(axis=0)
            curves += [
                {"network": name, "features": kind, "chain": chain, "rank": r + 1, "cmc": v}
                for r, v in enumerate(mean_cmc)
            ]
    columns = [
        "network", "features", "chain", "protocol", "accuracy", "accuracy_std", "rank5",
        "rank10", "mAP", "chance", "n_test", "error", "alpha", "accept", "p_value",
        "n_features", "n_models", "n_tasks",
    ]  # fmt: skip
    settings = {
        "alpha": alpha, "train_fraction": train_fraction, "train_tasks": train_tasks,
        "query_fraction": query_fraction, "n_repeats": n_repeats, "weight_decay": weight_decay,
        "snapshot": snapshot, "architecture": {name: str(models["architecture"].iloc[0])},
    }  # fmt: skip
    return HTTResult(pd.DataFrame(rows)[columns], pd.DataFrame(curves), settings, report)
