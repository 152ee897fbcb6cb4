"""Predicting test accuracy from weights: a ranking benchmark against the published methods.

The protocol is the NFN one (Zhou et al. 2023, on Unterthiner et al.'s Small CNN Zoo): final
checkpoints only; for each seed the models are shuffled, the second half is the test split and the
first half is cut 80/20 into training and validation models. Every method is fitted on the
training models, selects its hyper-parameter (ridge penalty, number of trees, MLP or NFN epoch) on
the validation models' Kendall tau, and is scored on the test models: Kendall tau (tau-b) and
R^2 of the predicted against the true test accuracy.

Our predictors' predictions are clipped to the range of their training targets (test accuracy is
bounded; an unclipped ridge predicted a diverged model at 307, an R^2 of about -5,900). R^2 and
the ``predicted`` column are of the clipped predictions; Kendall tau is of the unclipped scores,
which clipping (monotone) could only tie, so tau is that of the regressor itself. The peer NFNs
are run as published, unclipped.

Methods (:data:`DEFAULT_REPRESENTATIONS` x models, see :mod:`weightspace.predict.models`):

- ``statnn``: StatNN, the MLP on Unterthiner's statistics (``unterthiner``);
- ``gbt-<repr>``: gradient-boosted trees on a representation (on ``unterthiner``, Unterthiner's
  other model);
- ``ridge-<repr>``: ridge regression on a representation;
- ``nfn-np`` and ``nfn-hnp``: the peer NFNs (:mod:`weightspace.predict.nfn_peer`), where the
  architecture allows them.

Out of distribution: a model fitted on one dataset's zoo (80/20 training/validation) ranks every
model of another dataset's zoo.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from weightspace.errors import WeightspaceError
from weightspace.library import Library
from weightspace.predict.common import FeatureScaler, PredictorError, kendall_tau, r2
from weightspace.predict.models import create_model
from weightspace.predict.nfn_peer import (
    BNOrder,
    NFNRegressor,
    NFNUnsupportedError,
    Stacked,
    nfn_available,
    nfn_tensors,
    stack_nfn,
    take,
)
from weightspace.predict.predictor import representation_reads
from weightspace.represent.registry import describe_library
from weightspace.reproduce.accuracy_prediction_result import AccuracyPredictionResult

__all__ = [
    "DEFAULT_REPRESENTATIONS",
    "Method",
    "accuracy_prediction_experiment",
    "default_methods",
    "nfn_protocol_split",
]

#: Representations compared by default (``hyper`` joins when an encoder is given).
DEFAULT_REPRESENTATIONS: tuple[str, ...] = (
    "unterthiner",
    "swstats",
    "layer-stats",
    "stats",
    "miwd",
    "raw",
)
_NWS_SPACES = ("nws", "nws-fixed")


@dataclass(frozen=True)
class Method:
    """One predictor of the benchmark.

    Attributes
    ----------
    name : str
        ``statnn``, ``gbt-unterthiner``, ``ridge-miwd``, ``nfn-hnp``, ...
    family : str
        ``"ours"`` (our predictors, the published statistics methods among them) or ``"peer"``.
    model : str
        ``ridge``, ``gbt``, ``mlp`` or ``nfn-np`` / ``nfn-hnp``.
    representation : str or None
        None for the NFNs (they read the weights).
    """

    name: str
    family: str
    model: str
    representation: str | None

    @property
    def is_nfn(self) -> bool:
        """Whether this is a peer NFN."""
        return self.model.startswith("nfn")


def default_methods(
    representations: Sequence[str] | None = None,
    *,
    peers: bool | Sequence[str] = True,
    ours: bool = True,
    hyper: bool = False,
) -> list[Method]:
    """StatNN, trees and ridge on every representation, and the two NFNs.

    ``peers``: True (both NFNs), False, or names among ``"nfn-np"``, ``"nfn-hnp"``; ``ours=False``
    leaves only the peers; ``hyper=True`` adds the ``hyper`` representation to the default ones
    (it needs an encoder: ``representation_params={"hyper": {"encoder": DIR}}``).
    """
    reps = list(representations or DEFAULT_REPRESENTATIONS)
    if representations is None and hyper:
        reps.append("hyper")
    for rep in reps:
        representation_reads(rep)  # a clear error for an unknown name
    methods = []
    if ours:
        methods += [Method("statnn", "ours", "mlp", "unterthiner")] if "unterthiner" in reps else []
        methods += [Method(f"gbt-{r}", "ours", "gbt", r) for r in reps]
        methods += [Method(f"ridge-{r}", "ours", "ridge", r) for r in reps]
    names = ("nfn-np", "nfn-hnp") if peers is True else () if peers is False else tuple(peers)
    unknown = sorted(set(names) - {"nfn-np", "nfn-hnp"})
    if unknown:
        raise PredictorError(f"unknown peer(s) {unknown}; choose nfn-np, nfn-hnp")
    methods += [Method(name, "peer", name, None) for name in ("nfn-np", "nfn-hnp") if name in names]
    if not methods:
        raise PredictorError("no method to run: keep ours or name a peer")
    return methods


def nfn_protocol_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, val, test)`` indices: shuffled, the second half test, the first cut 80/20.

    Examples
    --------
    >>> train, val, test = nfn_protocol_split(20, seed=0)
    >>> len(train), len(val), len(test)
    (8, 2, 10)
    """
    if n < 8:
        raise PredictorError(f"the NFN split needs at least 8 models; got {n}")
    order = np.random.default_rng(seed).permutation(n)
    half = int(0.5 * n)
    trainval, test = order[:half], order[half:]
    cut = int(0.8 * half)
    return np.sort(trainval[:cut]), np.sort(trainval[cut:]), np.sort(test)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


@dataclass
class _Zoo:
    """One library's final checkpoints: targets, datasets, features and NFN inputs."""

    lib: Library
    ids: list[int]
    y: np.ndarray
    datasets: np.ndarray
    features: dict[str, np.ndarray]
    cost: dict[str, tuple[float, float]]
    skipped: dict[str, str]
    nfn: Stacked | None = None

    def has(self, key: str) -> bool:
        """Whether the inputs of ``key`` (a representation, or ``"nfn"``) were computed."""
        return self.nfn is not None if key == "nfn" else key in self.features


def _load_zoo(
    lib: Library,
    methods: Sequence[Method],
    where: str | None,
    target: str,
    progress: bool,
    nfn_batch_norm: str,
    representation_params: dict[str, dict[str, Any]],
) -> _Zoo:
    frame = lib.query(where)
    if frame.empty:
        raise PredictorError(f"{lib.path}: the selection holds no models")
    if target not in frame.columns:
        raise PredictorError(f"{lib.path}: no column {target!r} to predict")
    y = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
    keep = np.isfinite(y)
    if "nonfinite" in frame.columns:
        keep &= frame["nonfinite"].fillna(0).to_numpy() == 0
    frame, y = frame[keep].reset_index(drop=True), y[keep]
    datasets = (
        frame["dataset"].astype(str).to_numpy()
        if "dataset" in frame.columns
        else np.full(len(frame), "", dtype=object)
    )
    ids = [int(i) for i in frame["id"]]
    zoo = _Zoo(lib, ids, y, datasets, {}, {}, {})
    for rep in dict.fromkeys(m.representation for m in methods if m.representation):
        start = _clock()
        try:
            _, X = describe_library(
                lib, rep, ids=ids, params=representation_params.get(rep), cache=False,
                progress=progress,
            )  # fmt: skip
        except WeightspaceError as exc:
            zoo.skipped[rep] = f"representation {rep!r} cannot describe this zoo: {exc}"
            continue
        zoo.features[rep] = np.asarray(X, dtype=np.float64)
        zoo.cost[rep] = _since(start)
    if any(m.is_nfn for m in methods):
        _load_nfn(zoo, frame, nfn_batch_norm)
    return zoo


def _load_nfn(zoo: _Zoo, frame: pd.DataFrame, batch_norm: str) -> None:
    reason = nfn_available()
    if reason is None:
        spaces = set(frame["zoo_space"].astype(str)) if "zoo_space" in frame.columns else set()
        bn_order: BNOrder | None = "nws" if spaces and spaces <= set(_NWS_SPACES) else None
        if batch_norm == "ignore":
            bn_order = "ignore"
        start = _clock()
        try:
            converted = [nfn_tensors(zoo.lib.get(i), bn_order=bn_order) for i in zoo.ids]
            zoo.nfn = stack_nfn(converted)
            zoo.cost["nfn"] = _since(start)
        except NFNUnsupportedError as exc:
            reason = str(exc)
    if reason is not None:
        zoo.skipped["nfn"] = f"NFN: {reason}"


#: A fitted method: (zoo, rows) -> (predictions, scores): scores rank, predictions are clipped.
_Predict = Callable[["_Zoo", np.ndarray], tuple[np.ndarray, np.ndarray]]


def _fit_predict(
    method: Method,
    zoo_train: _Zoo,
    train: np.ndarray,
    val: np.ndarray,
    seed: int,
    model_params: dict[str, dict[str, Any]],
) -> tuple[_Predict, dict[str, Any]]:
    """Fit on ``train`` (select on ``val``); return a predictor of (zoo, rows) and fit facts."""
    start = _clock()
    y = zoo_train.y
    if method.is_nfn:
        data = zoo_train.nfn
        assert data is not None  # the caller checked zoo.has("nfn")
        mode: Literal["HNP", "NP"] = "HNP" if method.model == "nfn-hnp" else "NP"
        params = {"random_state": seed, **model_params.get("nfn", {})}
        nfn = NFNRegressor(mode=mode, **params).fit(
            take(data, train), y[train], val=take(data, val), y_val=y[val]
        )
        wall, cpu = _since(start)

        def predict_nfn(zoo: _Zoo, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            assert zoo.nfn is not None
            pred = nfn.predict(take(zoo.nfn, rows))
            return pred, pred

        return predict_nfn, {"fit_wall_s": wall, "fit_cpu_s": cpu, "selected": nfn.best_epoch_}
    rep = str(method.representation)
    X = zoo_train.features[rep]
    scaler = FeatureScaler.fit(X[train])
    model = create_model(method.model, **model_params.get(method.model, {}))
    if "random_state" in model.get_params():
        model.set_params(random_state=seed)
    model.fit(
        scaler.transform(X[train])[0], y[train], X_val=scaler.transform(X[val])[0], y_val=y[val]
    )
    wall, cpu = _since(start)
    selected = getattr(
        model, "alpha_", getattr(model, "n_iter_", getattr(model, "best_epoch_", None))
    )

    def predict(zoo: _Zoo, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        score = np.asarray(model.predict_unclipped(scaler.transform(zoo.features[rep][rows])[0]))
        return np.clip(score, model.y_min_, model.y_max_), score

    return predict, {"fit_wall_s": wall, "fit_cpu_s": cpu, "selected": selected}


def _feature_key(method: Method) -> str:
    return "nfn" if method.is_nfn else str(method.representation)


def _in_distribution(
    zoo: _Zoo,
    methods: Sequence[Method],
    seeds: Sequence[int],
    model_params: dict[str, dict[str, Any]],
    note: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
    rows, predictions = [], []
    for seed in seeds:
        train, val, test = nfn_protocol_split(len(zoo.ids), seed)
        for method in methods:
            if not zoo.has(_feature_key(method)):
                continue
            note(f"{zoo.lib.path.name}: {method.name}, seed {seed}")
            predict, facts = _fit_predict(method, zoo, train, val, seed, model_params)
            pred, score = predict(zoo, test)
            truth = zoo.y[test]
            row: dict[str, Any] = {
                "zoo": str(zoo.lib.path), "method": method.name, "family": method.family,
                "model": method.model, "representation": method.representation or "weights",
                "seed": seed, "kendall_tau": kendall_tau(truth, score), "r2": r2(truth, pred),
                "n_train": len(train), "n_val": len(val), "n_test": len(test), **facts,
            }  # fmt: skip
            for name in sorted(set(zoo.datasets[test])):
                part = zoo.datasets[test] == name
                row[f"tau_{name}"] = kendall_tau(truth[part], score[part])
            rows.append(row)
            predictions.append(
                pd.DataFrame(
                    {
                        "zoo": str(zoo.lib.path),
                        "method": method.name,
                        "seed": seed,
                        "id": np.asarray(zoo.ids)[test],
                        "dataset": zoo.datasets[test],
                        "true": truth,
                        "predicted": pred,
                    }
                )
            )
    return rows, predictions


def _groups(zoos: Sequence[_Zoo], min_models: int) -> list[tuple[_Zoo, str, np.ndarray]]:
    out = []
    for zoo in zoos:
        for name in sorted(set(zoo.datasets)):
            rows = np.flatnonzero(zoo.datasets == name)
            if rows.size >= min_models:
                out.append((zoo, str(name), rows))
    return out


def _out_of_distribution(
    zoos: Sequence[_Zoo],
    methods: Sequence[Method],
    seeds: Sequence[int],
    model_params: dict[str, dict[str, Any]],
    note: Callable[[str], None],
) -> list[dict[str, Any]]:
    groups = _groups(zoos, min_models=10)
    rows = []
    for zoo_a, name_a, rows_a in groups:
        for seed in seeds:
            order = np.random.default_rng(seed).permutation(rows_a)
            cut = int(0.8 * order.size)
            train, val = np.sort(order[:cut]), np.sort(order[cut:])
            for method in methods:
                key = _feature_key(method)
                targets = [
                    g for g in groups
                    if (g[0], g[1]) != (zoo_a, name_a) and g[0].has(key) and zoo_a.has(key)
                    and _width(g[0], key) == _width(zoo_a, key)
                ]  # fmt: skip
                if not targets:
                    continue
                note(f"OOD from {name_a}: {method.name}, seed {seed}")
                predict, facts = _fit_predict(method, zoo_a, train, val, seed, model_params)
                for zoo_b, name_b, rows_b in targets:
                    (pred, score), truth = predict(zoo_b, rows_b), zoo_b.y[rows_b]
                    rows.append({
                        "method": method.name, "family": method.family, "seed": seed,
                        "train_zoo": str(zoo_a.lib.path), "train_dataset": name_a,
                        "test_zoo": str(zoo_b.lib.path), "test_dataset": name_b,
                        "kendall_tau": kendall_tau(truth, score), "r2": r2(truth, pred),
                        "n_train": len(train), "n_test": len(rows_b), **facts,
                    })  # fmt: skip
    return rows


def _width(zoo: _Zoo, key: str) -> tuple[int, ...]:
    if key == "nfn":  # NFN inputs: the layer shapes
        assert zoo.nfn is not None
        return tuple(int(n) for w in zoo.nfn[0] for n in w.shape[1:])
    return (int(zoo.features[key].shape[1]),)


def accuracy_prediction_experiment(
    libraries: Sequence[Library],
    *,
    methods: Sequence[Method] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    target: str = "test_acc",
    where: str | None = None,
    ood: bool = True,
    ood_peers: bool = False,
    model_params: dict[str, dict[str, Any]] | None = None,
    representation_params: dict[str, dict[str, Any]] | None = None,
    nfn_batch_norm: str = "fold",
    progress: Callable[[str], None] | None = None,
) -> AccuracyPredictionResult:
    """Run the benchmark on one or more zoos.

    Parameters
    ----------
    libraries : sequence of Library
        The zoos (each ranked on its own; out of distribution, every dataset of every zoo).
    methods : sequence of Method, optional
        Default :func:`default_methods`.
    seeds : sequence of int, default=(0, 1, 2)
        One split (and one initialization of the learned models) per seed.
    target : str, default="test_acc"
    where : str, optional
        SQL condition selecting the models of every zoo.
    ood : bool, default=True
        Also fit on one dataset's models and rank another's.
    ood_peers : bool, default=False
        Also run the NFNs out of distribution (their training dominates the cost).
    model_params : dict, optional
        Parameters by model (``"ridge"``, ``"gbt"``, ``"mlp"``, ``"nfn"``) replacing the
        published settings, e.g. ``{"mlp": {"epochs": 5}, "nfn": {"epochs": 5}}``; reported.
    representation_params : dict, optional
        Parameters by representation, e.g. ``{"hyper": {"encoder": "ZOO/encoders/E_cD-..."}}``
        (the hyper-representation needs its encoder); reported.
    nfn_batch_norm : {"fold", "ignore"}, default="fold"
        How the NFNs read batch norm: folded into the weights where its order is known (the NWS
        CNNs), or dropped (a control; not the networks' function).
    progress : callable, optional
        Called with a line per fit.

    Returns
    -------
    AccuracyPredictionResult
    """
    if not libraries:
        raise PredictorError("give at least one zoo")
    if len(seeds) < 1:
        raise PredictorError("give at least one seed")
    chosen = list(methods) if methods is not None else default_methods()
    note = progress or (lambda _line: None)
    params = {k: dict(v) for k, v in (model_params or {}).items()}
    unknown = sorted(set(params) - {"ridge", "gbt", "mlp", "nfn"})
    if unknown:
        raise PredictorError(
            f"model_params: unknown model(s) {unknown}; use ridge, gbt, mlp or nfn"
        )
    if nfn_batch_norm not in ("fold", "ignore"):
        raise PredictorError(f"nfn_batch_norm must be 'fold' or 'ignore'; got {nfn_batch_norm!r}")
    rep_params = {k: dict(v) for k, v in (representation_params or {}).items()}
    if any(m.representation == "hyper" for m in chosen) and "encoder" not in rep_params.get(
        "hyper", {}
    ):
        raise PredictorError(
            "the hyper representation needs a trained encoder: pass --encoder DIR "
            "(Python: representation_params={'hyper': {'encoder': DIR}})"
        )
    zoos = [
        _load_zoo(lib, chosen, where, target, progress is not None, nfn_batch_norm, rep_params)
        for lib in libraries
    ]
    rows: list[dict[str, Any]] = []
    predictions: list[pd.DataFrame] = []
    skipped: list[dict[str, str]] = []
    for zoo in zoos:
        for method in chosen:
            key = _feature_key(method)
            if key in zoo.skipped:
                skipped.append({"zoo": str(zoo.lib.path), "method": method.name,
                                "reason": zoo.skipped[key]})  # fmt: skip
        found, preds = _in_distribution(zoo, chosen, seeds, params, note)
        rows += found
        predictions += preds
    ood_rows: list[dict[str, Any]] = []
    if ood:
        ood_methods = [m for m in chosen if ood_peers or not m.is_nfn]
        ood_rows = _out_of_distribution(zoos, ood_methods, seeds, params, note)
    costs = [
        {"zoo": str(z.lib.path), "features": k, "wall_s": v[0], "cpu_s": v[1]}
        for z in zoos for k, v in z.cost.items()
    ]  # fmt: skip
    zoo_lines = [
        f"{z.lib.path}: {len(z.ids)} models with {target}; datasets "
        + ", ".join(f"{d} ({int((z.datasets == d).sum())})" for d in sorted(set(z.datasets)))
        for z in zoos
    ]
    return AccuracyPredictionResult(
        runs=pd.DataFrame(rows),
        ood=pd.DataFrame(ood_rows),
        predictions=pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(),
        costs=pd.DataFrame(costs),
        skipped=pd.DataFrame(skipped, columns=["zoo", "method", "reason"]),
        zoos=tuple(zoo_lines),
        settings={
            "seeds": list(seeds),
            "target": target,
            "where": where,
            "ood_peers": ood_peers,
            "model_params": params,
            "representation_params": rep_params,
            "nfn_batch_norm": nfn_batch_norm,
        },
    )
