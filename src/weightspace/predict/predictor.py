"""A fitted accuracy predictor: representation + regressor + distance to the training zoo.

:func:`fit_predictor` fits one on a library's checkpoints (by default the final ones), holding out
a validation part (20%) for the regressor's model selection; :meth:`Predictor.rank` ranks new
checkpoints (files, WeightSets) or another library's models by predicted target, each with its
distance to the training zoo and a warning when it is far from it.

A predictor is a directory, written without pickle:

- ``predictor.json``: what it predicts, from which representation, the regressor's parameters,
  the training architecture, the validation scores;
- ``representation.skops``: the fitted representation (read back with the registry's classes as
  the only trusted types); except for the ``hyper`` representation, whose fitted state is its
  encoder folder: ``predictor.json`` holds that folder's path and the SHA-256 digest of its files
  (``representation.encoder``), and loading refuses a folder that changed or is gone;
- ``model.safetensors`` (ridge, StatNN) or ``model.skops`` (trees);
- ``state.safetensors``: the feature scaling and the standardized training features of the
  distance check.

Predictions are clipped to the range of the training targets (a bounded target: see
:mod:`weightspace.predict.models`); rankings and Kendall tau use the unclipped ``score``, so
clipping never changes them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weightspace._version import __version__
from weightspace.errors import WeightspaceError
from weightspace.io.load import load_weights
from weightspace.io.weightset import WeightSet
from weightspace.library import Library
from weightspace.predict.common import (
    ArchitectureSignature,
    FeatureScaler,
    PredictorError,
    kendall_tau,
    r2,
)
from weightspace.predict.distance import ZooDistance
from weightspace.predict.models import _Regressor, create_model, load_model, load_skops
from weightspace.represent.registry import REPRESENTATION_SPECS as _REGISTRY
from weightspace.represent.registry import create_representation, list_representations

__all__ = ["FORMAT", "Predictor", "fit_predictor", "load_predictor"]

#: The ``format`` field of ``predictor.json``.
FORMAT = "weightspace-predictor"
FORMAT_VERSION = 1
_BATCH = 256


def representation_reads(name: str) -> str:
    """``"weightsets"`` (layer-wise: needs one architecture) or ``"vectors"`` (any network)."""
    if name not in _REGISTRY:
        raise PredictorError(
            f"unknown representation {name!r}; choose one of {', '.join(list_representations())}"
        )
    return str(_REGISTRY[name].reads)


def _trusted_representation_types() -> tuple[str, ...]:
    out = []
    for spec in _REGISTRY.values():
        factory = spec.factory
        out.append(f"{factory.__module__}.{getattr(factory, '__qualname__', factory.__name__)}")
    return tuple(sorted(out))


def _describe(transformer: Any, models: Sequence[WeightSet]) -> np.ndarray:
    parts = [
        np.asarray(transformer.transform(list(models[i : i + _BATCH])), dtype=np.float64)
        for i in range(0, len(models), _BATCH)
    ]
    return np.concatenate(parts).reshape(len(models), -1)


@dataclass(frozen=True)
class Predictor:
    """A fitted predictor (see the module notes); build one with :func:`fit_predictor`.

    Attributes
    ----------
    target : str
        The predicted column (``test_acc``).
    representation : str
    params : dict
        The representation's parameters.
    transformer : object
        The fitted representation.
    architecture : ArchitectureSignature or None
        The training architecture, for layer-wise representations (None: any network).
    scaler : FeatureScaler
    model : regressor
    zoo : ZooDistance
    info : dict
        The training facts written to ``predictor.json`` (library, ids, validation scores).
    """

    target: str
    representation: str
    params: dict[str, Any]
    transformer: Any
    architecture: ArchitectureSignature | None
    scaler: FeatureScaler
    model: _Regressor
    zoo: ZooDistance
    info: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ features
    def check_architecture(self, ws: WeightSet) -> None:
        """Raise :class:`PredictorError` if ``ws`` is not of the architecture the predictor needs."""
        if self.architecture is None:
            return
        problem = self.architecture.difference(ArchitectureSignature.of(ws))
        if problem is not None:
            raise PredictorError(
                f"{ws.source or 'checkpoint'}: another architecture than the predictor's "
                f"training zoo ({problem}); representation {self.representation!r} is layer-wise: "
                "rank checkpoints of the training architecture, or fit a predictor on an "
                "architecture-free representation (miwd, stats, raw)"
            )

    def features(self, models: Sequence[WeightSet]) -> np.ndarray:
        """The representation of ``models`` (architectures checked), shape ``(n, d)``."""
        for ws in models:
            self.check_architecture(ws)
        try:
            return _describe(self.transformer, models)
        except WeightspaceError as exc:
            raise PredictorError(f"representation {self.representation!r}: {exc}") from None

    def predict_weights(self, models: Sequence[WeightSet]) -> pd.DataFrame:
        """Prediction and distance to the zoo of each model, in the given order.

        Returns
        -------
        pandas.DataFrame
            ``source, prediction, score, zoo_distance, zoo_percentile, far_from_zoo, imputed``:
            ``prediction`` is clipped to the training targets' range, ``score`` is the
            regressor's unclipped output (the ranking order).
        """
        if not models:
            raise PredictorError("give at least one checkpoint to rank")
        Z, imputed = self.scaler.transform(self.features(models))
        distance, percentile, far = self.zoo.score(Z)
        score = self.model.predict_unclipped(Z)
        return pd.DataFrame(
            {
                "source": [ws.source for ws in models],
                "prediction": np.clip(score, self.model.y_min_, self.model.y_max_),
                "score": score,
                "zoo_distance": distance,
                "zoo_percentile": percentile,
                "far_from_zoo": far,
                "imputed": imputed.astype(int),
            }
        )

    def rank(self, sources: Sequence[Any]) -> pd.DataFrame:
        """Rank checkpoints (paths, WeightSets, modules) by predicted target, best first.

        Returns
        -------
        pandas.DataFrame
            ``rank`` (1: highest score, the unclipped prediction) and the columns of
            :meth:`predict_weights`.
        """
        models = []
        for source in sources:
            ws = load_weights(source)
            if not ws.source and isinstance(source, str | os.PathLike):
                ws = WeightSet(ws.tensors, source=str(source))
            models.append(ws)
        return _ranked(self.predict_weights(models))

    def rank_library(
        self, lib: Library, *, where: str | None = None, snapshot: int = -1
    ) -> pd.DataFrame:
        """Rank the models of a library; with the target column also ``true`` and ``id``."""
        frame = lib.query(where)
        if frame.empty:
            raise PredictorError(f"{lib.path}: the selection holds no models")
        ids = [int(i) for i in frame["id"]]
        parts = [
            self.predict_weights([lib.get(i, snapshot) for i in ids[s : s + _BATCH]])
            for s in range(0, len(ids), _BATCH)
        ]
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "id", ids)
        if self.target in frame.columns:
            out["true"] = pd.to_numeric(frame[self.target], errors="coerce").to_numpy()
        return _ranked(out)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the predictor directory (created; files in it replaced); return its path."""
        import skops.io as sio
        from safetensors.numpy import save_file

        out = Path(path)
        if out.exists() and not out.is_dir():
            raise PredictorError(f"{out}: exists and is not a directory; choose another -o path")
        out.mkdir(parents=True, exist_ok=True)
        for stale in ("model.safetensors", "model.skops", "representation.skops"):
            (out / stale).unlink(missing_ok=True)
        reference = _reference(self.transformer)
        if reference is None:
            try:
                sio.dump(self.transformer, out / "representation.skops")
            except Exception as exc:
                raise PredictorError(
                    f"representation {self.representation!r} cannot be saved without pickle "
                    f"({exc}); fit the predictor on another representation"
                ) from None
        model_info = self.model.save(out)
        arrays = {**self.scaler.arrays(), **self.zoo.arrays()}
        save_file(
            {k: np.ascontiguousarray(v) for k, v in arrays.items()}, out / "state.safetensors"
        )
        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "weightspace": __version__,
            "target": self.target,
            "representation": {
                "name": self.representation,
                "params": self.params,
                "reads": representation_reads(self.representation),
                **({} if reference is None else {"encoder": reference}),
            },
            "architecture": None if self.architecture is None else self.architecture.to_json(),
            "model": {"kind": self.model.kind, "params": model_info},
            "zoo": {
                "k": self.zoo.k,
                "threshold": self.zoo.threshold,
                "far_quantile": self.zoo.far_quantile,
            },
            "training": self.info,
        }
        (out / "predictor.json").write_text(json.dumps(doc, indent=2, default=_json_default))
        return out


def _reference(transformer: Any) -> dict[str, str] | None:
    """The encoder folder and digest of a representation saved by reference (``hyper``)."""
    method = getattr(transformer, "encoder_reference", None)
    if not callable(method):
        return None
    try:
        return dict(method())
    except WeightspaceError as exc:
        raise PredictorError(f"cannot save the predictor: {exc}") from None


def _load_transformer(root: Path, rep: dict[str, Any], name: str) -> Any:
    if "encoder" not in rep:
        return load_skops(root / "representation.skops", _trusted_representation_types())
    transformer = create_representation(name, **dict(rep["params"]))
    try:
        return transformer.fit_reference(dict(rep["encoder"]))
    except WeightspaceError as exc:
        raise PredictorError(f"{root}: {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def _ranked(frame: pd.DataFrame) -> pd.DataFrame:
    order = np.argsort(-frame["score"].to_numpy(), kind="stable")
    out = frame.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def load_predictor(path: str | os.PathLike[str]) -> Predictor:
    """Read a predictor directory written by :meth:`Predictor.save`.

    Raises
    ------
    PredictorError
        The directory or a file in it is missing, of another format or version, or holds types
        outside the trusted list.
    """
    from safetensors.numpy import load_file

    root = Path(path)
    doc_path = root / "predictor.json"
    if not doc_path.is_file():
        raise PredictorError(
            f"{root}: not a predictor (no predictor.json); make one with `weightspace predict fit`"
        )
    try:
        doc = json.loads(doc_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PredictorError(f"{doc_path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PredictorError(f"{doc_path}: the format field is not {FORMAT!r}")
    if doc.get("version") != FORMAT_VERSION:
        raise PredictorError(
            f"{doc_path}: predictor format version {doc.get('version')!r}; this weightspace reads "
            f"version {FORMAT_VERSION}: refit the predictor"
        )
    try:
        rep = doc["representation"]
        name = str(rep["name"])
        representation_reads(name)
        transformer = _load_transformer(root, rep, name)
        state_path = root / "state.safetensors"
        if not state_path.is_file():
            raise PredictorError(f"{state_path}: missing; the predictor directory is incomplete")
        state = dict(load_file(state_path))
        zoo_doc = doc["zoo"]
        arch = doc["architecture"]
        return Predictor(
            target=str(doc["target"]),
            representation=name,
            params=dict(rep["params"]),
            transformer=transformer,
            architecture=None if arch is None else ArchitectureSignature.from_json(arch),
            scaler=FeatureScaler.from_arrays(state),
            model=load_model(str(doc["model"]["kind"]), root, dict(doc["model"]["params"])),
            zoo=ZooDistance.from_arrays(
                state,
                k=int(zoo_doc["k"]),
                threshold=float(zoo_doc["threshold"]),
                far_quantile=float(zoo_doc["far_quantile"]),
            ),
            info=dict(doc.get("training") or {}),
        )
    except (KeyError, TypeError) as exc:
        raise PredictorError(f"{doc_path}: missing or malformed field {exc}") from None


# ---------------------------------------------------------------------------------- fitting
def split_validation(n: int, fraction: float, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded ``(train, validation)`` indices of ``n`` models, at least 2 in each part."""
    if not 0.0 < fraction < 1.0:
        raise PredictorError(f"the validation fraction must be in (0, 1); got {fraction!r}")
    if n < 4:
        raise PredictorError(f"a predictor needs at least 4 models with a target; got {n}")
    order = np.random.default_rng(random_state).permutation(n)
    n_val = min(n - 2, max(2, round(fraction * n)))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def targets(lib: Library, target: str, where: str | None = None) -> tuple[list[int], np.ndarray]:
    """Ids and values of the models of a selection that have a finite ``target``."""
    frame = lib.query(where)
    if frame.empty:
        raise PredictorError(f"{lib.path}: the selection holds no models")
    if target not in frame.columns:
        raise PredictorError(
            f"{lib.path}: no column {target!r}; the models have "
            f"{', '.join(sorted(map(str, frame.columns)))}"
        )
    values = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
    keep = np.isfinite(values)
    if not keep.any():
        raise PredictorError(f"{lib.path}: column {target!r} holds no numbers")
    return [int(i) for i in frame["id"].to_numpy()[keep]], values[keep]


def fit_predictor(
    lib: Library,
    *,
    target: str = "test_acc",
    representation: str = "unterthiner",
    params: dict[str, Any] | None = None,
    model: str = "gbt",
    model_params: dict[str, Any] | None = None,
    where: str | None = None,
    snapshot: int = -1,
    validation: float = 0.2,
    k: int = 5,
    far_quantile: float = 0.99,
    random_state: int = 0,
) -> Predictor:
    """Fit a predictor of ``target`` on a library's checkpoints.

    Parameters
    ----------
    lib : Library
    target : str, default="test_acc"
        A numeric column of the models table.
    representation : str, default="unterthiner"
        Any registered representation (:func:`weightspace.represent.registry.list_representations`).
    params : dict, optional
        Its parameters.
    model : {"ridge", "gbt", "mlp"}, default="gbt"
    model_params : dict, optional
        The regressor's parameters (``random_state`` defaults to ``random_state``).
    where : str, optional
        SQL condition selecting the training models.
    snapshot : int, default=-1
        Which snapshot of each model (-1: the final checkpoint).
    validation : float, default=0.2
        Fraction held out for the regressor's model selection (validation tau).
    k, far_quantile : int, float
        The distance check (:class:`ZooDistance`).
    random_state : int, default=0
        Seed of the validation split and of the regressor.

    Returns
    -------
    Predictor
    """
    reads = representation_reads(representation)
    ids, y = targets(lib, target, where)
    train, val = split_validation(len(ids), validation, random_state)
    models = [lib.get(i, snapshot) for i in ids]
    signature = ArchitectureSignature.of(models[0]) if reads == "weightsets" else None
    if signature is not None:
        kinds = {ArchitectureSignature.of(ws) for ws in models}
        if len(kinds) > 1:
            raise PredictorError(
                f"{lib.path}: the training models have {len(kinds)} architectures; representation "
                f"{representation!r} is layer-wise and needs one: select one with --where, or use "
                "an architecture-free representation (miwd, stats, raw)"
            )
    params = dict(params or {})
    transformer = create_representation(representation, **params)
    train_models = [models[i] for i in train]
    spec = _REGISTRY[representation]
    try:
        transformer.fit(train_models if spec.fit_on_all else train_models[:_BATCH])
        X_train = _describe(transformer, train_models)
        X_val = _describe(transformer, [models[i] for i in val])
    except WeightspaceError as exc:
        raise PredictorError(f"representation {representation!r}: {exc}") from None
    scaler = FeatureScaler.fit(X_train)
    Z_train, _ = scaler.transform(X_train)
    Z_val, _ = scaler.transform(X_val)
    regressor = create_model(model, **(model_params or {}))
    if "random_state" in regressor.get_params() and "random_state" not in (model_params or {}):
        regressor.set_params(random_state=random_state)
    regressor.fit(Z_train, y[train], X_val=Z_val, y_val=y[val])
    pred_val = regressor.predict(Z_val)
    score_val = regressor.predict_unclipped(Z_val)
    info = {
        "library": str(lib.path),
        "where": where,
        "snapshot": snapshot,
        "n_train": len(train),
        "n_val": len(val),
        "ids_train": [ids[i] for i in train],
        "ids_val": [ids[i] for i in val],
        "val_kendall_tau": kendall_tau(y[val], score_val),
        "val_r2": r2(y[val], pred_val),
        "random_state": random_state,
    }
    return Predictor(
        target=target,
        representation=representation,
        params=params,
        transformer=transformer,
        architecture=signature,
        scaler=scaler,
        model=regressor,
        zoo=ZooDistance.fit(Z_train, k=k, far_quantile=far_quantile),
        info=info,
    )
