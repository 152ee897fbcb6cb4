"""Representations by name, and describing a whole library with caching.

``create_representation("miwd", S=16, B=16)`` builds the transformer; :func:`describe_library`
computes a representation for a library selection in bounded-memory batches and caches the result in
the library (``LIB/cache``), keyed by the representation, its parameters, the snapshot and the ids
(and, for ``hyper``, a hash of the encoder's files); :func:`describe_weights` describes models
outside a library (checkpoint files, an upload). :func:`representation_spec` tells what a
representation reads and whether it is fitted on the whole selection
(:data:`REPRESENTATION_SPECS`: all of them, read-only).

``hyper`` (a trained encoder of :mod:`weightspace.learn`) is imported only when used: the learn
package builds on this one, never the reverse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from weightspace.errors import WeightspaceError
from weightspace.io.weightset import WeightSet
from weightspace.library import Library
from weightspace.represent.baselines import PCABaseline, RandomProjection, RawBaseline
from weightspace.represent.chain import ChainGram
from weightspace.represent.miwd import MIWD
from weightspace.represent.stats import GlobalStats, LayerStats, SWStats
from weightspace.represent.unterthiner import UnterthinerStats

__all__ = [
    "REPRESENTATION_SPECS",
    "RepresentationSpec",
    "create_representation",
    "describe_library",
    "describe_weights",
    "list_representations",
    "representation_cache_key",
    "representation_spec",
]


@dataclass(frozen=True)
class RepresentationSpec:
    """A registered representation: its transformer and what it reads.

    ``reads`` is ``"vectors"`` (canonical vectors; streamed in batches) or ``"weightsets"``
    (tensors with layers and roles); ``fit_on_all`` marks transformers that must see the whole
    selection when fitted (PCA), so they are not streamed; ``cache_key`` maps the parameters to
    extra cache-key entries (files a representation reads, whose content the parameters do not say).
    """

    name: str
    factory: Callable[..., Any]
    reads: Literal["vectors", "weightsets"]
    fit_on_all: bool = False
    description: str = ""
    cache_key: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def _hyper(**params: Any) -> Any:
    from weightspace.learn.represent import HyperRepresentation

    return HyperRepresentation(**params)


def _hyper_key(params: dict[str, Any]) -> dict[str, Any]:
    from weightspace.learn.represent import hyper_cache_key

    return hyper_cache_key(params)


_REGISTRY: dict[str, RepresentationSpec] = {
    spec.name: spec
    for spec in [
        RepresentationSpec(
            "miwd", MIWD, "vectors", description="MI-WD: S x B histograms over depth"
        ),
        RepresentationSpec("stats", GlobalStats, "vectors", description="16 global statistics"),
        RepresentationSpec(
            "layer-stats", LayerStats, "weightsets", description="16 statistics per layer and type"
        ),
        RepresentationSpec(
            "swstats", SWStats, "weightsets", description="s(W): 7 statistics per layer"
        ),
        RepresentationSpec(
            "unterthiner",
            UnterthinerStats,
            "weightsets",
            description="Unterthiner/nfn StatFeaturizer: 7 statistics per tensor",
        ),
        RepresentationSpec("raw", RawBaseline, "vectors", description="theta resampled to K"),
        RepresentationSpec(
            "pca",
            PCABaseline,
            "vectors",
            fit_on_all=True,
            description="PCA of theta resampled to 65,536",
        ),
        RepresentationSpec(
            "randproj",
            RandomProjection,
            "vectors",
            description="K x 65,536 Gaussian projection of the resampled theta",
        ),
        RepresentationSpec(
            "chain", ChainGram, "weightsets", description="chain-normalized Gram matrices"
        ),
        RepresentationSpec(
            "hyper",
            _hyper,
            "weightsets",
            description="latent of a trained hyper-representation encoder (param encoder=DIR)",
            cache_key=_hyper_key,
        ),
    ]
}


#: The registered representations by name (read-only).
REPRESENTATION_SPECS: Mapping[str, RepresentationSpec] = MappingProxyType(_REGISTRY)


def list_representations() -> list[str]:
    """Names of the registered representations."""
    return sorted(_REGISTRY)


def representation_spec(name: str) -> RepresentationSpec:
    """The registry entry of representation ``name`` (what it reads, whether it is fitted on all).

    Raises
    ------
    WeightspaceError
        For a name that is not registered (the message lists the registered ones).

    Examples
    --------
    >>> representation_spec("miwd").reads, representation_spec("chain").reads
    ('vectors', 'weightsets')
    """
    if name not in _REGISTRY:
        raise WeightspaceError(
            f"unknown representation {name!r}; choose one of {', '.join(list_representations())}"
        )
    return _REGISTRY[name]


def representation_cache_key(name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Extra cache-key entries of representation ``name`` with ``params`` (empty for most)."""
    spec = representation_spec(name)
    return {} if spec.cache_key is None else spec.cache_key(dict(params or {}))


def create_representation(name: str, **params: Any) -> Any:
    """A new (unfitted) transformer of the representation ``name`` with ``params``."""
    spec = representation_spec(name)
    try:
        return spec.factory(**params)
    except TypeError as exc:
        raise WeightspaceError(f"representation {name!r}: {exc}") from None


def describe_weights(name: str, weights: Sequence[WeightSet], **params: Any) -> np.ndarray:
    """Representation ``name`` of models outside a library, fitted on these models.

    The transformer is fitted on ``weights`` and transforms them, as :func:`describe_library` does
    for a library selection (canonical vectors or WeightSets, whichever the representation reads).

    Parameters
    ----------
    name : str
        A registered representation (:func:`list_representations`).
    weights : sequence of WeightSet
        The models, one WeightSet each.
    **params
        Parameters of the representation (``S=16``, ``value_range=(-1, 1)``, ``encoder=DIR``).

    Returns
    -------
    X : numpy.ndarray of shape (n_models, n_features), float32

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace.io import load_weights
    >>> w = load_weights({"fc.weight": np.ones((2, 3), np.float32), "fc.bias": np.zeros(2, np.float32)})
    >>> describe_weights("miwd", [w], S=2, B=4).shape
    (1, 8)
    """
    spec = representation_spec(name)
    inputs: list[Any] = [w.vector() for w in weights] if spec.reads == "vectors" else list(weights)
    estimator = create_representation(name, **params)
    return np.asarray(estimator.fit(inputs).transform(inputs), dtype=np.float32)


def describe_library(
    lib: Library,
    name: str,
    *,
    ids: Sequence[int] | None = None,
    snapshot: int = -1,
    params: dict[str, Any] | None = None,
    batch_size: int = 256,
    cache: bool = True,
    progress: bool = False,
    engine: Literal["local", "ray"] = "local",
) -> tuple[list[int], np.ndarray]:
    """Compute representation ``name`` for models of a library (cached).

    Parameters
    ----------
    lib : Library
    name : str
        A registered representation (:func:`list_representations`).
    ids : sequence of int, optional
        The models (default: all, in id order).
    snapshot : int, default=-1
        Which snapshot of each model (-1: the last).
    params : dict, optional
        Parameters of the representation.
    batch_size : int, default=256
        Models read at a time for streamed representations.
    cache : bool, default=True
        Read and write the library's cache.
    progress : bool, default=False
    engine : {"local", "ray"}, default="local"
        ``"ray"`` transforms each batch in a Ray task on the runtime this process is connected to
        (``ray.init`` first); this process reads the batches, fits as the local path does and
        writes the cache. Representations fitted on the whole selection (``pca``) are computed
        here whatever the engine. The result is the same on either engine.

    Returns
    -------
    ids : list of int
    X : numpy.ndarray of shape (n_models, n_features), float32
    """
    if engine not in ("local", "ray"):
        raise WeightspaceError(f"describe engine must be 'local' or 'ray'; got {engine!r}")
    spec = representation_spec(name)
    chosen = lib.ids() if ids is None else [int(i) for i in ids]
    if not chosen:
        raise WeightspaceError(f"{lib.path}: no models to describe")
    params = dict(params or {})
    estimator = create_representation(name, **params)
    # the key holds every parameter the estimator uses, defaults included, so that a changed
    # default never returns descriptors computed with the old one; a representation may add its
    # own entries (the hyper-representation: its encoder's checkpoint digest)
    key = {
        "estimator": _estimator_id(estimator),
        "snapshot": snapshot,
        **representation_cache_key(name, params),
    }
    if cache:
        hit = lib.cache.get(f"repr-{name}", key, chosen)
        if hit is not None:
            return chosen, hit["X"]
    batches = _batches(lib, chosen, spec, snapshot, batch_size, progress)
    if engine == "ray" and not spec.fit_on_all:
        from weightspace.represent.ray_describe import transform_on_ray

        X = transform_on_ray(estimator, batches)
    elif spec.fit_on_all:
        inputs = [item for batch in batches for item in batch]
        X = np.asarray(estimator.fit(inputs).transform(inputs), dtype=np.float32)
    else:
        parts = []
        fitted = False
        for batch in batches:
            if not fitted:
                estimator.fit(batch)
                fitted = True
            parts.append(np.asarray(estimator.transform(batch), dtype=np.float32))
        X = np.concatenate(parts)
    if cache:
        lib.cache.put(f"repr-{name}", key, chosen, {"X": X})
    return chosen, X


def _estimator_id(estimator: Any) -> dict[str, Any]:
    """Class and full parameters of an estimator (``get_params``), for cache keys."""
    kind = type(estimator)
    get_params = getattr(estimator, "get_params", None)
    params = get_params(deep=False) if callable(get_params) else vars(estimator)
    return {"class": f"{kind.__module__}.{kind.__qualname__}", "params": params}


def _batches(
    lib: Library,
    ids: list[int],
    spec: RepresentationSpec,
    snapshot: int,
    batch_size: int,
    progress: bool,
) -> Any:
    bar = None
    if progress:
        from weightspace._progress import progress_bar

        bar = progress_bar(total=len(ids), unit="model", desc=f"describe {spec.name}")
    try:
        if spec.reads == "vectors":
            for batch in lib.iter_batches(ids, batch_size=batch_size, snapshot=snapshot):
                if bar is not None:
                    bar.update(len(batch.ids))
                yield list(batch.vectors)
        else:
            for start in range(0, len(ids), batch_size):
                part = ids[start : start + batch_size]
                if bar is not None:
                    bar.update(len(part))
                yield [lib.get(i, snapshot) for i in part]
    finally:
        if bar is not None:
            bar.close()
