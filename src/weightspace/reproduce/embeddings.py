"""Maps of weight representations: MI-WD Fig. 4 and NWS appendix Fig. 13, with numbers.

**MI-WD Fig. 4** (Eilertsen et al., EuroVis 2024, Results, "Embeddings"): UMAP embeddings of five
representations of the same models (the last snapshot of each): global statistics, raw weights
resampled to K values, the first K principal components, a K-dimensional random projection and MI-WD
with S = B = sqrt(K), coloured by initialization. The paper shows pictures only: MI-WD "shows distinct
clusters", raw, PCA and random projection "generate embeddings with little structure", global
statistics "have problems forming meaningful clusters". :func:`representation_maps` draws the five
maps with the atlas's seeded UMAP and renderer, and measures what the pictures show: the k-NN
(k = 5) accuracy of each hyper-parameter from a model's nearest neighbours in the 2-D map and in the
representation itself, and the silhouette score by the colouring.

**NWS Fig. 13** (Eilertsen et al., ECAI 2020, appendix B): the weights of the snapshots along
training (20 per training, initialization to the end) of the fixed-architecture trainings, only the
convolutional layers, reduced to their 10 first principal components and embedded with UMAP,
coloured by dataset, learning rate, augmentation, optimizer, activation, initialization, training
progress and test error. :func:`training_maps` draws the same (and the 2-D PCA beside it); the k-NN
scores there count only neighbours from *other* trainings (a training's own snapshots would make
every score trivially high). Raw weights need one architecture: the largest group, or ``arch``;
``representation="miwd"`` describes each snapshot by MI-WD instead, so mixed architectures work.

Choices here: representations are embedded as they are (no standardization; the paper embeds
"the vectorized descriptors"); all models are kept by default (failed trainings are part of both
figures: the paper's low-performing constant-initialization clusters); PCA as a representation is
fitted as in the untangling experiment (:func:`weightspace.reproduce.untangling._pca_features`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from weightspace.atlas.build import atlas_columns, default_colorings
from weightspace.atlas.columns import Column
from weightspace.atlas.embed import MIN_UMAP_MODELS, AtlasEmbedding
from weightspace.atlas.model import Atlas, Coloring
from weightspace.io.weightset import ROLES
from weightspace.library import Library
from weightspace.probe.common import ProbeError, Selection
from weightspace.reproduce.embeddings_result import EmbeddingsResult, neighbour_score, score_row
from weightspace.reproduce.untangling import DEFAULT_TARGETS, REPRESENTATIONS, _pca_features

__all__ = [
    "TRAINING_COLORS",
    "EmbeddingsResult",
    "neighbour_score",
    "representation_maps",
    "training_maps",
]

#: The colourings of NWS Fig. 13 (a-h), in its order; ``progress`` and ``test_error`` are read
#: from each snapshot's record.
TRAINING_COLORS: tuple[str, ...] = (
    "dataset", "learning_rate", "augmentation", "optimizer", "activation", "init", "progress",
    "test_error",
)  # fmt: skip
_DERIVED = {"progress": "training progress", "test_error": "test error"}


# ---------------------------------------------------------------------------------- shared parts
def _point_columns(frame: pd.DataFrame, kinds: Mapping[str, str]) -> list[Column]:
    """Atlas columns of a frame; a positive continuous column spanning 10x or more is shown as
    its log10 (learning rates)."""
    out = []
    for col in atlas_columns(frame, kinds):
        finite = col.values[np.isfinite(col.values)] if col.type == "continuous" else None
        if (
            finite is not None
            and finite.size
            and finite.min() > 0
            and finite.max() >= 10 * finite.min()
        ):
            col = Column(
                col.name, col.kind, "continuous", np.log10(col.values), label=f"log10 {col.label}"
            )
        out.append(col)
    return out


def _embed(
    lib: Library,
    X: np.ndarray,
    ids: Sequence[int],
    key: Mapping[str, Any],
    est: AtlasEmbedding,
    cache: bool,
) -> np.ndarray:
    """UMAP coordinates of X (cached in the library for a seeded embedding)."""
    use = cache and est.random_state is not None
    full = {**key, **est.cache_key()}
    hit = lib.cache.get("embeddings-map", full, ids) if use else None
    if hit is not None:
        return hit["coords"]
    coords = est.fit_transform(X)
    if use:
        lib.cache.put("embeddings-map", full, ids, {"coords": coords})
    return coords


def _embedding_info(est: AtlasEmbedding, n: int) -> dict[str, Any]:
    return {**est.cache_key(), "method": "umap" if n >= MIN_UMAP_MODELS else "pca"}


def _check_k(k: int, n: int, what: str) -> None:
    """``n``: the points a point can have as neighbours (outside its own training)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ProbeError(f"k must be a positive integer; got {k!r}")
    if n < k:
        raise ProbeError(
            f"the k-NN scores need at least k={k} neighbours per point; {what} has {n}: "
            "select more models or use a smaller k"
        )


# ---------------------------------------------------------------------------------- Fig. 4
def representation_maps(
    lib: Library,
    *,
    color_by: str = "init",
    targets: Sequence[str] = DEFAULT_TARGETS,
    K: int = 1024,
    selection: Selection = Selection(failed=None),  # noqa: B008
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    k: int = 5,
    resample_to: int = 65536,
    random_state: int = 0,
    cache: bool = True,
    progress: bool = False,
) -> EmbeddingsResult:
    """MI-WD Fig. 4: UMAP maps of five representations of the last snapshots, with scores.

    Parameters
    ----------
    lib : Library
    color_by : str, default="init"
        The colouring of the maps (a categorical column).
    targets : sequence of str, default=DEFAULT_TARGETS
        Further columns scored (dataset, optimizer, activation, init, augmentation); absent ones
        are skipped with a remark.
    K : int, default=1024
        Size of raw, PCA, random projection and MI-WD (a perfect square: S = B = sqrt(K)).
    selection : Selection, default=Selection(failed=None)
        The models mapped: by default every model, failed trainings kept (as the paper's library;
        ``Selection()`` rejects them), ``where`` (SQL), ``ids``.
    n_neighbors, min_dist : UMAP settings, as the atlas's.
    k : int, default=5
        Neighbours of the k-NN scores.
    resample_to : int, default=65536
        Resampled length of the weights for PCA and random projection (the paper's 65,536).
    random_state : int, default=0
    cache : bool, default=True
        Read and write representations and maps in the library's cache.
    progress : bool, default=False

    Returns
    -------
    EmbeddingsResult
    """
    from weightspace.represent.registry import describe_library

    side = math.isqrt(K) if isinstance(K, int) and K > 0 else 0
    if side < 2 or side * side != K:
        raise ProbeError(f"K must be a perfect square >= 4 (MI-WD: S = B = sqrt(K)); got {K!r}")
    models, report = selection.models(lib)
    ids = models["id"].astype(int).tolist()
    _check_k(k, len(ids) - 1, f"a selection of {len(ids)} models")
    columns = _point_columns(models, {"n_params": "meta", **lib.columns()})
    colorings = {c.column: c for c in default_colorings(columns)}
    by_name = {c.name: c for c in columns}
    if color_by not in colorings or by_name[color_by].type != "categorical":
        raise ProbeError(
            f"cannot colour by {color_by!r}: choose a categorical column with 2 or more values "
            f"({', '.join(n for n, c in colorings.items() if c.type == 'categorical')})"
        )
    scored = [color_by, *[t for t in targets if t != color_by and t in colorings]]
    remarks = [
        f"{t}: not a column with 2 or more values; not scored" for t in targets if t not in scored
    ]

    def describe(name: str, params: dict[str, Any]) -> np.ndarray:
        _, X = describe_library(lib, name, ids=ids, params=params, cache=cache, progress=progress)
        return np.asarray(X, dtype=np.float32)

    counts = dict(zip(ids, models["n_snapshots"].astype(int), strict=True))
    pca, n_pool = _pca_features(lib, ids, counts, [K], resample_to, random_state, cache)
    if pca.shape[1] < K:
        remarks.append(f"PCA: {pca.shape[1]} components (fitted on {n_pool} weight vectors)")
    resampled = {"K": K, "resample_to": resample_to, "random_state": random_state}
    reps: dict[str, tuple[np.ndarray, dict[str, Any]]] = {
        "global stats": (describe("stats", {}), {}),
        "raw": (describe("raw", {"K": K}), {"K": K}),
        "pca": (pca[:, :K], resampled),
        "random projection": (describe("randproj", resampled), resampled),
        "mi-wd": (describe("miwd", {"S": side, "B": side}), {"S": side, "B": side}),
    }
    est = AtlasEmbedding(n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state)
    maps: dict[str, Atlas] = {}
    rows = []
    for rep in REPRESENTATIONS:
        X, params = reps[rep]
        coords = _embed(lib, X, ids, {"figure": "4", "representation": rep, **params}, est, cache)
        maps[f"4/{rep}"] = Atlas(
            ids=np.asarray(ids, dtype=np.int64), coords=coords, descriptors=X,
            columns=tuple(columns), colorings=tuple(colorings.values()), title=rep,
            representation={"name": rep, "params": params, "snapshot": -1},
            embedding=_embedding_info(est, len(ids)), source=str(lib.path),
        )  # fmt: skip
        for name in scored:
            rows.append(score_row("4", rep, coords, X, by_name[name], None, k, random_state))
    facts = {
        "4": f"MI-WD Fig. 4: UMAP (n_neighbors {n_neighbors}, min_dist {min_dist}, seed "
        f"{random_state}) of five representations of {len(ids)} models (last snapshot)"
    }
    return EmbeddingsResult(
        pd.DataFrame(rows), maps, color_by=color_by, facts=facts, filter_report=report,
        remarks=tuple(remarks), k=k,
    )  # fmt: skip


# ---------------------------------------------------------------------------------- Fig. 13
def _layer_columns(
    lib: Library, model_id: int, layers: str, roles: Sequence[str] | None
) -> np.ndarray | None:
    """Positions in the canonical vector of the tensors kept (None: all): those of the conv
    layers (layers whose kernel has 3 or more dimensions) or of every layer, of ``roles``."""
    if layers == "all" and roles is None:
        return None
    table = lib.layer_table(model_id)
    keep = table[table["offset"].notna()]
    if layers == "conv":
        dims = keep["shape"].map(
            lambda s: len(s) if isinstance(s, list | tuple) else len(str(s).split(","))
        )
        conv = set(keep.loc[(keep["role"] == "kernel") & (dims >= 3), "layer"])
        keep = keep[keep["layer"].isin(conv)]
        if keep.empty:
            raise ProbeError(
                f"model {model_id} has no convolutional layers (kernels of 3+ dimensions); "
                "use every layer (layers='all'; CLI: --layers all)"
            )
    if roles is not None:
        keep = keep[keep["role"].isin(list(roles))]
        if keep.empty:
            raise ProbeError(f"model {model_id}: no {layers} tensors with roles {list(roles)}")
    parts = [
        np.arange(int(o), int(o) + int(n))
        for o, n in zip(keep["offset"], keep["length"], strict=True)
    ]
    return np.concatenate(parts)


def _running_stats_share(
    lib: Library, model_id: int, layers: str, roles: Sequence[str] | None, X: np.ndarray
) -> float:
    """Share of the variance of X (columns as kept) held by batch-norm running statistics."""
    cols = _layer_columns(lib, model_id, layers, roles)
    table = lib.layer_table(model_id)
    stats = table[table["role"].isin(["bn_mean", "bn_var"]) & table["offset"].notna()]
    positions = [
        np.arange(int(o), int(o) + int(n))
        for o, n in zip(stats["offset"], stats["length"], strict=True)
    ]
    if not positions:
        return 0.0
    kept = np.arange(X.shape[1]) if cols is None else cols
    mask = np.isin(kept, np.concatenate(positions))
    var = X.var(axis=0, dtype=np.float64)
    return float(var[mask].sum() / var.sum()) if var.sum() > 0 else 0.0


def _pick_architecture(
    models: pd.DataFrame, arch: str | None, needed: bool, remarks: list[str]
) -> pd.DataFrame:
    groups = models.groupby("arch_id").size()
    order = sorted(groups.index, key=lambda a: (-int(groups[a]), str(a)))
    if arch is not None:
        if arch not in groups.index:
            raise ProbeError(
                f"no model of architecture {arch!r} in the selection; architectures (models): "
                + ", ".join(f"{a} ({groups[a]})" for a in order[:10])
            )
        return models.loc[models["arch_id"] == arch].copy()
    if not needed or len(order) == 1:
        return models
    remarks.append(
        f"{len(order)} architectures; raw weights need one: the largest group, {order[0]} "
        f"({groups[order[0]]} of {len(models)} models), was used (--arch to choose another, "
        "--repr miwd for all)"
    )
    kept: pd.DataFrame = models.loc[models["arch_id"] == order[0]]
    return kept


def _snapshot_points(
    lib: Library,
    ids: list[int],
    arch: Mapping[int, str],
    representation: str,
    layers: str,
    roles: Sequence[str] | None,
    S: int,
    B: int,
) -> tuple[np.ndarray, pd.DataFrame, int]:
    """Vectors of every snapshot of ``ids`` (rows), their records, and dropped non-finite ones."""
    from weightspace.represent.miwd import miwd

    snaps = lib.snapshot_table(ids)
    layouts: dict[str, np.ndarray | None] = {}
    parts, records, dropped = [], [], 0
    for mid in ids:
        key = str(arch[mid])
        if key not in layouts:
            layouts[key] = _layer_columns(lib, mid, layers, roles)
        matrix = lib.snapshot_matrix(mid)
        cols = layouts[key]
        rows = np.asarray(matrix if cols is None else matrix[:, cols], dtype=np.float32)
        rec = snaps[snaps.model == mid].sort_values("idx").reset_index(drop=True)
        if len(rec) != rows.shape[0]:
            raise ProbeError(f"model {mid}: {rows.shape[0]} snapshots but {len(rec)} records")
        n = rows.shape[0]
        progress = pd.to_numeric(rec["progress"], errors="coerce").to_numpy(dtype=np.float64)
        rec = rec.assign(
            progress=np.where(np.isnan(progress), np.arange(n) / max(1, n - 1), progress)
        )
        finite = np.isfinite(rows).all(axis=1)
        dropped += int((~finite).sum())
        rows, rec = rows[finite], rec.iloc[np.flatnonzero(finite)]
        parts.append(miwd(rows, S, B).reshape(len(rows), -1) if representation == "miwd" else rows)
        records.append(rec)
    return np.concatenate(parts).astype(np.float32), pd.concat(records, ignore_index=True), dropped


def training_maps(
    lib: Library,
    *,
    representation: Literal["raw", "miwd"] = "raw",
    layers: Literal["conv", "all"] = "conv",
    roles: Sequence[str] | None = None,
    colors: Sequence[str] = TRAINING_COLORS,
    models: int | Sequence[int] | None = None,
    selection: Selection = Selection(failed=None),  # noqa: B008
    arch: str | None = None,
    n_components: int = 10,
    S: int = 32,
    B: int = 32,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    k: int = 5,
    random_state: int = 0,
    cache: bool = True,
) -> EmbeddingsResult:
    """NWS Fig. 13: PCA and UMAP of the snapshots along training, coloured by hyper-parameters,
    training progress and test error, with scores.

    Parameters
    ----------
    lib : Library
    representation : {"raw", "miwd"}, default="raw"
        Raw weights (one architecture: the largest group or ``arch``), or the MI-WD (S x B) of
        each snapshot's weights (any architectures).
    layers : {"conv", "all"}, default="conv"
        The convolutional layers' tensors only (the paper's choice), or every tensor.
    roles : sequence of str, optional
        Only tensors of these roles (``kernel``, ``bias``, ``bn_gamma``, ``bn_beta``, ``bn_mean``,
        ``bn_var``); default: all, as the paper (its 16,880 conv weights include the batch-norm
        running statistics, which can dominate the variance: ``kernel,bias,bn_gamma,bn_beta``
        keeps the trained parameters only).
    colors : sequence of str, default=TRAINING_COLORS
        Columns to colour by; ``progress`` and ``test_error`` come from the snapshot records.
    models : int or sequence of int, optional
        That many models drawn at random from the selection, or these model ids (default: all);
        ids go here or in ``selection.ids``, not both.
    selection : Selection, default=Selection(failed=None)
        The trainings drawn from: by default every model, failed trainings kept (as the paper's
        figure; ``Selection()`` rejects them), ``where`` (SQL), ``ids``.
    arch : str, optional
        The architecture (``arch_id``) to use.
    n_components : int, default=10
        Principal components fed to UMAP (the paper's 10); the PCA map shows the first two.
    S, B : int, default=32
        MI-WD size (``representation="miwd"``).
    n_neighbors, min_dist, k, random_state, cache
        As :func:`representation_maps`.

    Returns
    -------
    EmbeddingsResult
    """
    _check_training_params(representation, layers, roles, n_components)
    remarks: list[str] = []
    frame, report = _training_models(
        lib, models, selection, arch, representation == "raw", random_state, remarks
    )
    ids = frame["id"].astype(int).tolist()
    arch_of = dict(zip(ids, frame["arch_id"].astype(str), strict=True))
    X, records, dropped = _snapshot_points(lib, ids, arch_of, representation, layers, roles, S, B)
    if dropped:
        remarks.append(f"{dropped} snapshot(s) with non-finite weights left out")
    if representation == "raw":
        share = _running_stats_share(lib, ids[0], layers, roles, X)
        if share > 0.5:
            remarks.append(
                f"Batch-norm running statistics (bn_mean, bn_var) hold {share:.0%} of the variance "
                "of these weights, so PCA and UMAP mostly show them; roles=('kernel', 'bias', "
                "'bn_gamma', 'bn_beta') (CLI: --roles kernel,bias,bn_gamma,bn_beta) leaves them out."
            )
    groups = records["model"].to_numpy(dtype=np.int64)
    largest = int(np.unique(groups, return_counts=True)[1].max())
    _check_k(k, X.shape[0] - largest, "the snapshots of the other trainings")
    columns, colorings = _snapshot_columns(lib, frame, records, colors, remarks)
    shown = [c.column for c in colorings]

    from sklearn.decomposition import PCA

    n_pcs = min(n_components, X.shape[0], X.shape[1])
    pca = PCA(n_components=n_pcs, random_state=random_state)
    Z = np.asarray(pca.fit_transform(X), dtype=np.float32)
    explained = float(pca.explained_variance_ratio_.sum())
    est = AtlasEmbedding(n_neighbors=n_neighbors, min_dist=min_dist, random_state=random_state)
    key = {"figure": "13", "representation": representation, "layers": layers, "n_pcs": n_pcs,
           "roles": list(roles or ()), "S": S, "B": B, "points": int(X.shape[0])}  # fmt: skip
    coords = {
        "pca": np.pad(Z[:, :2], ((0, 0), (0, max(0, 2 - n_pcs)))),
        "umap": _embed(lib, Z, ids, key, est, cache),
    }
    what = f"MI-WD {S}x{B} of the" if representation == "miwd" else "raw"
    part = "conv-layer weights" if layers == "conv" else "weights"
    part += f" ({', '.join(roles)})" if roles is not None else ""
    arch_text = ", ".join(sorted(set(map(str, frame["arch_id"]))))[:60]
    facts = {
        "13": f"NWS Fig. 13: {len(ids)} trainings, {X.shape[0]} snapshots; {what} {part} "
        f"({X.shape[1]} values; architecture {arch_text}); PCA to {n_pcs} components "
        f"({explained:.0%} of the variance) -> UMAP (n_neighbors {n_neighbors}, seed {random_state})"
    }
    maps: dict[str, Atlas] = {}
    rows = []
    by_name = {c.name: c for c in columns}
    rep_info = {"name": representation, "layers": layers, "roles": list(roles or ROLES)}
    rep_info["n_components"] = n_pcs
    for name in ("pca", "umap"):
        embedding = _embedding_info(est, X.shape[0]) if name == "umap" else {"method": "pca"}
        maps[f"13/{name}"] = Atlas(
            ids=groups, coords=coords[name], descriptors=Z, columns=tuple(columns),
            colorings=colorings, title=f"{name} of snapshots",
            representation=rep_info, embedding=embedding, source=str(lib.path),
        )  # fmt: skip
        for c in shown:
            rows.append(score_row("13", name, coords[name], Z, by_name[c], groups, k, random_state))
    return EmbeddingsResult(
        pd.DataFrame(rows), maps, colors=tuple(shown), facts=facts, filter_report=report,
        remarks=tuple(remarks), k=k,
    )  # fmt: skip


def _check_training_params(
    representation: str, layers: str, roles: Sequence[str] | None, n_components: int
) -> None:
    """Raise :class:`ProbeError` naming the first bad parameter of :func:`training_maps`."""
    if representation not in ("raw", "miwd"):
        raise ProbeError(f"representation must be 'raw' or 'miwd'; got {representation!r}")
    if layers not in ("conv", "all"):
        raise ProbeError(f"layers must be 'conv' or 'all'; got {layers!r}")
    unknown = sorted(set(roles or ()) - set(ROLES))
    if unknown or (roles is not None and not roles):
        raise ProbeError(f"roles must be some of {', '.join(ROLES)}; got {list(roles or ())}")
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 2:
        raise ProbeError(f"n_components must be an integer >= 2; got {n_components!r}")


def _training_models(
    lib: Library,
    models: int | Sequence[int] | None,
    selection: Selection,
    arch: str | None,
    one_architecture: bool,
    random_state: int,
    remarks: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The trainings of ``selection`` drawn (``models`` at random, or those ids) and the filter's
    report."""
    if models is not None and not isinstance(models, int):
        if selection.ids is not None:
            raise ProbeError(
                "give the model ids either as models=[...] or as selection=Selection(ids=...), "
                "not both"
            )
        selection = replace(selection, ids=tuple(int(i) for i in models))
    frame, report = selection.models(lib)
    frame = _pick_architecture(frame, arch, one_architecture, remarks)
    if isinstance(models, int) and not isinstance(models, bool):
        if models < 2:
            raise ProbeError(f"models must be at least 2; got {models}")
        if models < len(frame):
            pick = np.random.default_rng(random_state).choice(len(frame), models, replace=False)
            frame = frame.iloc[np.sort(pick)]
    if len(frame) < 2:
        raise ProbeError(
            f"{lib.path}: Fig. 13 needs 2 or more trainings; the selection has {len(frame)}"
        )
    return frame, report


def _snapshot_columns(
    lib: Library,
    frame: pd.DataFrame,
    records: pd.DataFrame,
    colors: Sequence[str],
    remarks: list[str],
) -> tuple[list[Column], tuple[Coloring, ...]]:
    """One value per snapshot point of each model column, ``progress`` and ``test_error``; the
    colourings of ``colors`` that have 2 or more values (the others named in ``remarks``)."""
    groups = records["model"].to_numpy(dtype=np.int64)
    points = frame.set_index("id").loc[groups].reset_index()
    points["progress"] = records["progress"].to_numpy(dtype=np.float64)
    acc = pd.to_numeric(records["test_acc"], errors="coerce").to_numpy(dtype=np.float64)
    points["test_error"] = 1.0 - acc
    kinds = {c: kind for c, kind in lib.columns().items() if c not in _DERIVED}
    columns = [
        c for c in _point_columns(points, kinds) if c.name in colors and c.name not in _DERIVED
    ]
    for name, label in _DERIVED.items():
        if name in colors and np.isfinite(points[name]).any():
            columns.append(
                Column(name, "derived", "continuous", points[name].to_numpy(), label=label)
            )
    colorings = {c.column: c for c in default_colorings(columns)}
    shown = [c for c in colors if c in colorings]
    remarks += [
        f"{c}: no column with 2 or more values; not drawn" for c in colors if c not in shown
    ]
    if not shown:
        raise ProbeError(f"none of the colourings {list(colors)} is a column with 2 or more values")
    return columns, tuple(colorings[c] for c in shown)
