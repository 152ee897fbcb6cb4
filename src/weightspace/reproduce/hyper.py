"""Reproduce Schürholt et al.'s hyper-representation comparison on a zoo.

1. Train (or reuse) three encoders on every snapshot of the zoo: E_cD (contrastive +
   reconstruction), E_c (contrastive only) and E_D (reconstruction only), kept in
   ``ZOO/encoders/<name>-<hash of the settings>`` (or ``encoders=DIR``); a rerun reuses finished ones
   and resumes interrupted ones.
2. Probe them and the baselines W (the weights), s(W), layer-stats and MI-WD with the same linear
   probes (:func:`weightspace.probe.linear.score_targets`: splits by model, ridge / linear
   classifier, mean over seeds) on test accuracy, epoch, generalization gap and every
   hyper-parameter of the paper's table the zoo has.
3. Out of distribution (``ood=`` another zoo of the architecture): the representations (E_cD
   trained on the first zoo) and probes fitted on the first zoo predict the other zoo's test
   accuracy (the paper's protocol), and probes fitted and tested on the other zoo with the first
   zoo's encoder; both scored by Kendall's tau.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weightspace.errors import WeightspaceError
from weightspace.library import Library
from weightspace.probe.common import FailureFilter, Selection, select_models
from weightspace.probe.linear import TargetResult, probe_rows, score_targets
from weightspace.probe.linear_engine import ALPHAS, fit_ridge, kendall_tau, split_by_model
from weightspace.reproduce.hyper_result import HyperReproduction
from weightspace.reproduce.papers import HYP_OOD, HYP_TARGETS

__all__ = ["ENCODERS", "hyper_experiment"]

#: The encoders of the paper's comparison: (name, loss).
ENCODERS: tuple[tuple[str, str], ...] = (("E_cD", "cd"), ("E_c", "c"), ("E_D", "d"))
_BASELINES: tuple[tuple[str, str], ...] = (
    ("W", "raw"),
    ("s(W)", "swstats"),
    ("layer-stats", "layer-stats"),
    ("MI-WD", "miwd"),
)
_BUDGET = ("epochs", "patience")


def _folder(root: Path, name: str, settings: Any, lib: Library, where: str | None) -> Path:
    """``ROOT/<name>-<hash>``: the hash covers the settings (not the epoch budget) and the models,
    so a grown zoo or other settings get new encoders instead of a refusal."""
    identity = {k: v for k, v in settings.to_json().items() if k not in _BUDGET}
    models = lib.query(where)[["id", "n_snapshots"]].astype(int).to_numpy().tolist()
    text = json.dumps([identity, models], sort_keys=True)
    return root / f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def _epoch_logger(name: str, say: Callable[[str], None]) -> Callable[[Any], None]:
    def log(r: Any) -> None:
        say(f"{name} epoch {r.epoch}: train {r.train_loss:.4f}, val {r.val_loss:.4f}, "
            f"reconstruction R2 {r.val_r2:.3f} ({r.seconds:.0f} s)")  # fmt: skip

    return log


def _default_targets(models: pd.DataFrame) -> list[str]:
    targets = ["test_acc", "epoch", "ggap"]
    return targets + [t for t, _ in HYP_TARGETS if t in models.columns and t not in targets]


def hyper_experiment(
    lib: Library,
    *,
    ood: Library | None = None,
    encoders: str | Path | None = None,
    settings: Any = None,
    targets: Sequence[str] | None = None,
    n_seeds: int = 3,
    snapshots: Sequence[int] | None = None,
    selection: Selection = Selection(failed=None),  # noqa: B008
    random_state: int = 0,
    device: str = "cpu",
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> HyperReproduction:
    """Train the three encoders (or reuse them), probe every representation, compare.

    Parameters
    ----------
    lib : Library
        A zoo of one architecture with snapshot records (test/train accuracy, epoch).
    ood : Library, optional
        Another zoo of the same architecture for the out-of-distribution rows.
    encoders : path, optional
        Where the encoders live (default ``LIB/encoders``).
    settings : TrainSettings, optional
        Training settings of the encoders (their ``loss`` is set per encoder).
    targets : sequence of str, optional
        Default: test_acc, epoch, ggap and the paper's hyper-parameters present in the zoo.
    n_seeds : int, default=3
    snapshots : sequence of int, optional
        Snapshot rows of the probes (default all).
    selection : Selection, default=Selection(failed=None)
        The models probed: every one, as the paper (its zoos' samples are all models at every
        epoch); ``Selection()`` rejects failed trainings; ``where`` (SQL), ``ids``. The encoders learn from every model matching ``where`` (failed
        trainings and models outside ``ids`` too); the ``ood`` zoo's models pass the same
        failure filter.
    random_state : int, default=0
    device : str, default="cpu"
    progress : bool, default=False
    log : callable, optional
        Receives one line per step (what is trained or probed, and its wall time).

    Returns
    -------
    HyperReproduction
    """
    from weightspace.learn.train import TrainSettings, train_encoder

    say = log or (lambda _line: None)
    base = settings or TrainSettings()
    root = Path(encoders) if encoders is not None else lib.path / "encoders"
    where = selection.where
    timings: list[dict[str, Any]] = []
    enc_rows, folders = [], {}
    for name, loss in ENCODERS:
        s = dataclasses.replace(base, loss=loss)
        folder = _folder(root, name, s, lib, where)
        say(f"{name}: training in {folder} (reused when finished)")
        start = time.perf_counter()
        result = train_encoder(lib, folder, s, where=where, device=device, progress=progress,
                               callback=_epoch_logger(name, say))  # fmt: skip
        wall = time.perf_counter() - start
        timings.append({"step": f"train {name}", "seconds": wall})
        say(f"{name}: {len(result.history)} epochs ({result.stop_reason}), best val loss "
            f"{result.best_val_loss:.4f}, reconstruction R2 {result.best_val_r2:.3f}; "
            f"{result.seconds:.0f} s of training, {wall:.0f} s in this run")  # fmt: skip
        folders[name] = folder
        enc_rows.append({
            "encoder": name, "loss": loss, "folder": str(folder), "epochs": len(result.history),
            "stop": result.stop_reason, "best_epoch": result.best_epoch,
            "val_loss": result.best_val_loss, "val_recon_r2": result.best_val_r2,
            "train_seconds": result.seconds,
        })  # fmt: skip

    models, report = selection.models(lib)
    ids = models["id"].astype(int).tolist()
    names = list(targets) if targets is not None else _default_targets(models)
    n_params = int(models["n_params"].iloc[0])
    reps: list[tuple[str, str, dict[str, Any]]] = [
        (label, rep, {"K": n_params} if rep == "raw" else {}) for label, rep in _BASELINES
    ]
    reps += [(name, "hyper", {"encoder": str(folders[name])}) for name, _ in ENCODERS]
    scores: dict[str, list[TargetResult]] = {}
    skipped: list[str] = []
    n_samples = 0
    features: dict[str, np.ndarray] = {}
    frame_a = pd.DataFrame()
    for label, rep, params in reps:
        start = time.perf_counter()
        X, frame_a = probe_rows(
            lib, rep, ids, params=params, snapshots=snapshots, progress=progress
        )
        results, skip = score_targets(X, frame_a, names, n_seeds=n_seeds, random_state=random_state)
        wall = time.perf_counter() - start
        timings.append({"step": f"probe {label} ({X.shape[1]} features)", "seconds": wall})
        say(f"{label}: probed {len(results)} targets on {X.shape[1]} features in {wall:.0f} s")
        scores[label] = results
        skipped = skipped or skip  # the same targets for every representation
        features[label] = X
        n_samples = X.shape[0]

    ood_frame = None
    if ood is not None:
        start = time.perf_counter()
        ood_frame = _ood_rows(lib, ood, reps, features, frame_a, snapshots, selection.failed,
                              n_seeds, random_state, progress)  # fmt: skip
        wall = time.perf_counter() - start
        timings.append({"step": f"out of distribution ({ood.path.name})", "seconds": wall})
        say(f"OOD rows on {ood.path}: {wall:.0f} s")
    return HyperReproduction(
        zoo=str(lib.path),
        representations=tuple(label for label, _, _ in reps),
        scores=scores,
        targets=tuple(names),
        n_models=len(ids),
        n_samples=n_samples,
        n_seeds=n_seeds,
        encoders=pd.DataFrame(enc_rows),
        timings=pd.DataFrame(timings),
        ood=ood_frame,
        filter_report=report,
        remarks=tuple(f"skipped {s}" for s in skipped),
    )


def _ood_rows(
    lib: Library,
    ood: Library,
    reps: list[tuple[str, str, dict[str, Any]]],
    features: dict[str, np.ndarray],
    frame_a: pd.DataFrame,
    snapshots: Sequence[int] | None,
    failed: FailureFilter | None,
    n_seeds: int,
    random_state: int,
    progress: bool,
) -> pd.DataFrame:
    """Kendall tau of test accuracy on ``ood``: probes fitted on ``lib`` / fitted on ``ood``."""
    models_b, _ = select_models(ood, failed=failed)
    ids_b = models_b["id"].astype(int).tolist()
    seeds = [int(s) for s in np.random.SeedSequence(random_state).generate_state(n_seeds)]
    y_a = frame_a["test_acc"].to_numpy(dtype=np.float64)
    groups_a = frame_a["model"].to_numpy()
    transfer: dict[str, Any] = {
        "setting": f"probe fitted on {lib.path.name}, tested on {ood.path.name}"
    }
    inside: dict[str, Any] = {
        "setting": f"probe fitted and tested on {ood.path.name} (split by model)"
    }
    home: dict[str, Any] = {"setting": f"in distribution: fitted and tested on {lib.path.name}"}
    for label, rep, params in reps:
        try:
            X_b, frame_b = probe_rows(ood, rep, ids_b, params=params, snapshots=snapshots,
                                      progress=progress)  # fmt: skip
        except WeightspaceError as exc:
            transfer[label] = inside[label] = float("nan")
            transfer.setdefault("notes", f"{label}: {exc}")
            continue
        y_b = frame_b["test_acc"].to_numpy(dtype=np.float64)
        taus = []
        for seed in seeds:
            tr, va, _ = split_by_model(groups_a, seed=seed)
            bounds = (float(y_a[tr].min()), float(y_a[tr].max()))  # as score_targets
            model, _ = fit_ridge(features[label][tr], y_a[tr], features[label][va], y_a[va],
                                 ALPHAS, clip=bounds)  # fmt: skip
            taus.append(kendall_tau(y_b, model.predict(X_b)))
        transfer[label] = float(np.nanmean(taus))
        results, _ = score_targets(X_b, frame_b, ["test_acc"], n_seeds=n_seeds,
                                   random_state=random_state)  # fmt: skip
        inside[label] = results[0].mean_std("tau")[0] if results else float("nan")
        results, _ = score_targets(features[label], frame_a, ["test_acc"], n_seeds=n_seeds,
                                   random_state=random_state)  # fmt: skip
        home[label] = results[0].mean_std("tau")[0] if results else float("nan")
    paper_id = HYP_OOD["MNIST-HYP"]
    paper_ood = HYP_OOD["FASHION-HYP"]
    home["paper"] = f"MNIST-HYP: W {paper_id[0]}, s(W) {paper_id[1]}, E_c+D {paper_id[2]}"
    transfer["paper"] = (
        f"MNIST-HYP -> FASHION-HYP: W {paper_ood[0]}, s(W) {paper_ood[1]}, E_c+D {paper_ood[2]}"
    )
    inside["paper"] = ""
    return pd.DataFrame([home, transfer, inside])
