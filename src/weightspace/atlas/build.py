"""Building an atlas from a model library: descriptors, map, metadata columns, colourings.

The pipeline of Eilertsen et al. (2024), sec. 2.2: 1) a descriptor per model (MI-WD of the last
snapshot by default), 2) a UMAP projection of the vectorized descriptors, coloured by the per-dataset
normalized test accuracy; 3) the cluster summaries are computed on demand
(:mod:`weightspace.atlas.summary`). Descriptors and coordinates are cached in the library.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from weightspace.atlas.colors import VIRIDIS, categorical_palette, normalized_accuracy
from weightspace.atlas.embed import MIN_UMAP_MODELS, AtlasEmbedding
from weightspace.atlas.model import Atlas, AtlasError, Coloring, Column
from weightspace.represent.miwd import DEFAULT_BINS, DEFAULT_VALUE_RANGE, DEFAULT_WINDOWS

if TYPE_CHECKING:
    import pandas as pd

    from weightspace.library import Library

__all__ = ["atlas_columns", "build_atlas", "default_colorings"]

#: Numeric columns with at most this many distinct values are treated as categories.
MAX_NUMERIC_CATEGORIES = 12
#: Text columns with more distinct values than this (ids, hashes) are left out of the atlas.
MAX_CATEGORIES = 40
#: Preferred axes of the parallel coordinates (the paper's Fig. 1 shows six parameters).
_PARALLEL_FIRST = ("dataset", "optimizer", "activation", "init", "learning_rate", "batch_size")
_NOT_SHOWN = ("seed", "zoo_index", "zoo_key", "zoo_space")
_DEFAULT_MIWD = {"S": DEFAULT_WINDOWS, "B": DEFAULT_BINS, "value_range": DEFAULT_VALUE_RANGE}


def build_atlas(
    lib: Library | str | os.PathLike[str],
    *,
    representation: str = "miwd",
    params: Mapping[str, Any] | None = None,
    snapshot: int = -1,
    where: str | None = None,
    ids: Sequence[int] | None = None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    metric: str = "euclidean",
    pca_components: int | None = None,
    random_state: int | None = 0,
    accuracy: str = "test_acc",
    group_by: str = "dataset",
    cache: bool = True,
    progress: bool = False,
    title: str | None = None,
) -> Atlas:
    """The atlas of a library's models.

    Parameters
    ----------
    lib : Library or path
        The model library.
    representation : str, default="miwd"
        A registered representation (:func:`weightspace.represent.registry.list_representations`).
    params : mapping, optional
        Its parameters; MI-WD defaults to ``S=32, B=32, value_range=(-5, 5)``.
    snapshot : int, default=-1
        Which snapshot of each model is described (-1: the last).
    where : str, optional
        SQL condition selecting models (``"dataset = 'digits'"``).
    ids : sequence of int, optional
        The models (default: all, or those matching ``where``).
    n_neighbors, min_dist, metric, pca_components, random_state
        The embedding (:class:`~weightspace.atlas.embed.AtlasEmbedding`).
    accuracy : str, default="test_acc"
        Metric column normalized per ``group_by`` for the default colouring (taken from the last
        snapshot's record when the models table lacks it).
    group_by : str, default="dataset"
        Column of the groups of the normalization (one group when absent).
    cache : bool, default=True
        Read and write descriptors and coordinates in the library's cache (seeded embeddings only).
    progress : bool, default=False
        Show a progress bar while describing models.
    title : str, optional
        Title of the map (default: the library's name and size).

    Returns
    -------
    Atlas
        With its fitted embedding kept for :meth:`Atlas.transform` when it was fitted here.
    """
    from weightspace.library import Library

    if not isinstance(lib, Library):
        lib = Library(lib)
    chosen = _chosen(lib, ids, where)
    rep_params = dict(params or {})
    if representation == "miwd":
        rep_params = {**_DEFAULT_MIWD, **rep_params}
    X, descriptors = _describe(lib, representation, rep_params, chosen, snapshot, cache, progress)
    est = AtlasEmbedding(
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        pca_components=pca_components,
        random_state=random_state,
    )
    rep_info = {"name": representation, "params": rep_params, "snapshot": snapshot}
    coords, fitted = _embed(lib, X, est, rep_info, chosen, cache=cache and random_state is not None)
    columns = _columns(lib, chosen, accuracy, group_by)
    return Atlas(
        ids=np.asarray(chosen, dtype=np.int64),
        coords=coords,
        descriptors=descriptors,
        columns=tuple(columns),
        colorings=default_colorings(columns),
        hover=_hover_columns(columns, accuracy),
        parallel=_parallel_columns(columns, accuracy),
        title=title or f"{lib.path.name}: {len(chosen)} models",
        representation=rep_info,
        embedding={
            **est.cache_key(),
            "method": "umap" if len(chosen) >= MIN_UMAP_MODELS else "pca",
        },
        source=str(lib.path),
        fitted_embedding=est if fitted else None,
    )


def _chosen(lib: Library, ids: Sequence[int] | None, where: str | None) -> list[int]:
    """The ids of the mapped models: ``ids`` (those matching ``where`` when both are given), or
    every model matching ``where``."""
    chosen = [int(i) for i in ids] if ids is not None else lib.ids(where)
    if ids is not None and where is not None:
        allowed = set(lib.ids(where))
        chosen = [i for i in chosen if i in allowed]
    if not chosen:
        raise AtlasError(f"{lib.path}: no models to map" + (f" (where {where})" if where else ""))
    return chosen


def _describe(
    lib: Library,
    representation: str,
    params: dict[str, Any],
    chosen: list[int],
    snapshot: int,
    cache: bool,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The representation as vectors ``(n, K)``, and as the atlas keeps it (``S x B`` for MI-WD)."""
    from weightspace.represent.registry import describe_library

    _, X = describe_library(
        lib,
        representation,
        ids=chosen,
        snapshot=snapshot,
        params=params,
        cache=cache,
        progress=progress,
    )
    shape: tuple[int, ...] = (X.shape[1],)
    if representation == "miwd":
        shape = (int(params["S"]), int(params["B"]))
    return X, np.asarray(X, dtype=np.float32).reshape(len(chosen), *shape)


def _embed(
    lib: Library,
    X: np.ndarray,
    est: AtlasEmbedding,
    rep_info: dict[str, Any],
    chosen: list[int],
    *,
    cache: bool,
) -> tuple[np.ndarray, bool]:
    """Map coordinates from the library's cache, or fitted here (then True)."""
    from weightspace.represent.registry import representation_cache_key

    key = {
        "representation": rep_info,
        **representation_cache_key(rep_info["name"], rep_info["params"]),
        **est.cache_key(),
    }
    hit = lib.cache.get("atlas-umap", key, chosen) if cache else None
    if hit is not None:
        return hit["coords"], False
    coords = est.fit_transform(X)
    if cache:
        lib.cache.put("atlas-umap", key, chosen, {"coords": coords})
    return coords, True


def _columns(lib: Library, chosen: list[int], accuracy: str, group_by: str) -> list[Column]:
    """The metadata columns, the normalized accuracy first when the models have ``accuracy``."""
    frame = _metadata(lib, chosen, accuracy)
    kinds = {"n_params": "meta", **lib.columns()}
    columns = atlas_columns(frame, kinds)
    if accuracy not in frame.columns:
        return columns
    groups = frame[group_by].to_numpy(dtype=object) if group_by in frame.columns else None
    norm = normalized_accuracy(frame[accuracy].to_numpy(dtype=np.float64), groups)
    label = f"normalized {accuracy}" if groups is not None else accuracy
    return [Column(f"{accuracy}_norm", "derived", "continuous", norm, label=label), *columns]


def _metadata(lib: Library, ids: list[int], accuracy: str) -> pd.DataFrame:
    """The models table rows of ``ids`` in order; ``accuracy`` from the last snapshot if absent."""
    frame = lib.query().set_index("id").loc[ids]
    if accuracy not in frame.columns or frame[accuracy].isna().all():
        snaps = lib.snapshot_table(ids)
        if accuracy in snaps.columns:
            last = snaps.groupby("model").tail(1).set_index("model")[accuracy]
            frame[accuracy] = last.reindex(ids).to_numpy(dtype=np.float64)
    return frame.reset_index()


def atlas_columns(frame: pd.DataFrame, kinds: Mapping[str, str]) -> list[Column]:
    """Atlas columns of a metadata frame, typed categorical or continuous.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per model.
    kinds : mapping
        ``column -> kind`` (``"hparam"``, ``"metric"``, ``"meta"``) of the columns to keep, in order.

    Returns
    -------
    list of Column
        Text and boolean columns, and numeric columns with at most 12 distinct values, are
        categorical (numbers sorted by value); other numeric columns are continuous. Text columns
        with more than 40 values (names, hashes) and columns with no value are left out.
    """
    import pandas as pd

    out: list[Column] = []
    for name, kind in kinds.items():
        if name not in frame.columns:
            continue
        series = frame[name]
        if series.isna().all():
            continue
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            distinct = np.unique(values[~np.isnan(values)])
            if distinct.shape[0] > MAX_NUMERIC_CATEGORIES:
                out.append(Column(name, kind, "continuous", values))
                continue
            codes = np.searchsorted(distinct, values).astype(np.int32)
            codes[np.isnan(values)] = -1
            labels = tuple(_number_label(v) for v in distinct)
            out.append(Column(name, kind, "categorical", codes, labels))
            continue
        text = series.astype(object).where(series.notna(), None)
        codes_, uniques = pd.factorize(text.map(lambda v: None if v is None else str(v)), sort=True)
        if len(uniques) > MAX_CATEGORIES or (len(uniques) == len(frame) > MAX_NUMERIC_CATEGORIES):
            continue  # names, hashes: one value per model
        out.append(Column(name, kind, "categorical", codes_, tuple(str(u) for u in uniques)))
    return out


def _number_label(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def default_colorings(columns: Iterable[Column]) -> tuple[Coloring, ...]:
    """One colouring per column: a palette for categories, viridis for numbers.

    Derived columns (the normalized accuracy) come first, then hyper-parameters, metrics and the
    rest; columns of one value are left out.
    """
    order = {"derived": 0, "hparam": 1, "metric": 2, "meta": 3}
    out = []
    for col in sorted(columns, key=lambda c: order.get(c.kind, 4)):
        if col.name in _NOT_SHOWN:
            continue
        if col.type == "categorical":
            if len(col.categories) < 2 and col.kind != "derived":
                continue
            out.append(
                Coloring(
                    col.name, col.label, "categorical", categorical_palette(len(col.categories))
                )
            )
            continue
        finite = col.values[np.isfinite(col.values)]
        if finite.size == 0:
            continue
        lo, hi = float(finite.min()), float(finite.max())
        if col.kind == "derived":
            lo, hi = 0.0, 1.0
        out.append(
            Coloring(col.name, col.label, "continuous", colorscale=VIRIDIS, cmin=lo, cmax=hi)
        )
    return tuple(out)


def _varies(col: Column) -> bool:
    if col.type == "categorical":
        return len(col.categories) > 1
    finite = col.values[np.isfinite(col.values)]
    return bool(finite.size) and bool(finite.min() < finite.max())


def _hover_columns(columns: Sequence[Column], accuracy: str) -> tuple[str, ...]:
    hp = [c.name for c in columns if c.kind == "hparam" and c.name not in _NOT_SHOWN and _varies(c)]
    first = [n for n in _PARALLEL_FIRST if n in hp]
    rest = [n for n in hp if n not in first]
    names = [*first, *rest][:12]
    names += [n for n in (accuracy, f"{accuracy}_norm") if any(c.name == n for c in columns)]
    return tuple(names)


def _parallel_columns(columns: Sequence[Column], accuracy: str) -> tuple[str, ...]:
    hp = [c.name for c in columns if c.kind == "hparam" and c.name not in _NOT_SHOWN and _varies(c)]
    first = [n for n in _PARALLEL_FIRST if n in hp]
    rest = [n for n in hp if n not in first]
    names = [*first, *rest][:6]
    for n in (f"{accuracy}_norm", accuracy):
        if any(c.name == n for c in columns):
            names.append(n)
            break
    return tuple(names)
