"""The atlas: one serializable object that every renderer draws.

An :class:`Atlas` holds, for ``n`` models, their library ids, 2-D map coordinates, descriptors
(MI-WD ``S x B`` by default), metadata columns (hyper-parameters, metrics) and colourings. It is
immutable and round-trips through JSON (:meth:`Atlas.to_json`, :meth:`Atlas.from_json`); the Dash
app serves ``to_dict(descriptors=False)`` to the browser, the HTML export embeds the same dictionary,
and matplotlib draws from the arrays. Build one from a library with
:func:`weightspace.atlas.build_atlas`.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from weightspace.atlas._codec import decode_array, encode_array
from weightspace.atlas.columns import AtlasError, Coloring, Column

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from weightspace.atlas.embed import AtlasEmbedding
    from weightspace.atlas.summary import SelectionSummary

__all__ = ["DISPLAY_MAX_BYTES", "FORMAT", "Atlas", "AtlasError", "Coloring", "Column"]

#: The ``format`` field of a serialized atlas, and its version.
FORMAT = "weightspace-atlas"
_VERSION = 1
#: Largest page :meth:`Atlas.display` shows inside a notebook (plotly.js alone is ~5 MiB).
DISPLAY_MAX_BYTES = 32 * 2**20


# ---------------------------------------------------------------------------------- the atlas
@dataclass(frozen=True, eq=False)
class Atlas:
    """A map of a model library (or any set of models) and everything drawn on it.

    Parameters
    ----------
    ids : numpy.ndarray of shape (n,)
        Library model ids (int64).
    coords : numpy.ndarray of shape (n, 2)
        Map coordinates (float32), e.g. a UMAP embedding of the descriptors.
    descriptors : numpy.ndarray of shape (n, S, B) or (n, K)
        The representation the map was made from (float32); MI-WD descriptors are ``S x B``.
    columns : tuple of Column
        Metadata, one value per model.
    colorings : tuple of Coloring
        The ways to colour the map; the first is the default.
    hover : tuple of str
        Columns listed when hovering a point.
    parallel : tuple of str
        Default axes of the cluster panel's parallel coordinates.
    title : str
        Shown above the map.
    representation, embedding : mapping
        How descriptors and coordinates were computed (names and parameters; JSON values).
    source : str
        Where the models come from (a library path).
    fitted_embedding : AtlasEmbedding, optional
        The embedding fitted to make ``coords``, kept for :meth:`transform` (not serialized;
        without it the atlas refits it once when a new model is placed).

    Examples
    --------
    >>> import numpy as np
    >>> atlas = Atlas(ids=np.arange(1, 4), coords=np.zeros((3, 2)), descriptors=np.ones((3, 2, 2)))
    >>> Atlas.from_json(atlas.to_json()).ids.tolist()
    [1, 2, 3]
    """

    ids: np.ndarray
    coords: np.ndarray
    descriptors: np.ndarray
    columns: tuple[Column, ...] = ()
    colorings: tuple[Coloring, ...] = ()
    hover: tuple[str, ...] = ()
    parallel: tuple[str, ...] = ()
    title: str = "weightspace atlas"
    representation: Mapping[str, Any] = field(default_factory=dict)
    embedding: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    fitted_embedding: InitVar[AtlasEmbedding | None] = None
    _state: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _fit_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self, fitted_embedding: AtlasEmbedding | None) -> None:
        if fitted_embedding is not None:
            self._state["embedder"] = fitted_embedding
        ids = np.asarray(self.ids).astype(np.int64, copy=False)
        coords = np.asarray(self.coords, dtype=np.float32)
        desc = np.asarray(self.descriptors, dtype=np.float32)
        n = ids.shape[0]
        if ids.ndim != 1:
            raise AtlasError(f"ids must be 1-D; got shape {ids.shape}")
        if coords.shape != (n, 2):
            raise AtlasError(f"coords must have shape ({n}, 2) for {n} ids; got {coords.shape}")
        if not np.isfinite(coords).all():
            raise AtlasError("coords must be finite; got NaN or inf")
        if desc.ndim not in (2, 3) or desc.shape[0] != n:
            raise AtlasError(
                f"descriptors must have shape ({n}, S, B) or ({n}, K); got {desc.shape}"
            )
        for array in (ids, coords, desc):
            array.setflags(write=False)
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "coords", coords)
        object.__setattr__(self, "descriptors", desc)
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "colorings", tuple(self.colorings))
        object.__setattr__(self, "hover", tuple(self.hover))
        object.__setattr__(self, "parallel", tuple(self.parallel))
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise AtlasError(f"column names must be unique; got {names}")
        for col in self.columns:
            if col.values.shape[0] != n:
                raise AtlasError(
                    f"column {col.name!r} has {col.values.shape[0]} values for {n} models"
                )
        for name in (*[c.column for c in self.colorings], *self.hover, *self.parallel):
            if name not in names:
                raise AtlasError(f"unknown column {name!r}; columns are {names}")

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.descriptors.shape[1:])
        return (
            f"Atlas({len(self)} models, descriptors {shape}, "
            f"{len(self.columns)} columns, source={self.source!r})"
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the metadata columns."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The column ``name`` (AtlasError naming the known columns when absent)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise AtlasError(f"unknown column {name!r}; columns are {list(self.column_names)}")

    def coloring(self, name: str | None = None) -> Coloring:
        """The colouring of column ``name`` (default: the first colouring)."""
        if not self.colorings:
            raise AtlasError("this atlas has no colourings")
        if name is None:
            return self.colorings[0]
        for c in self.colorings:
            if c.column == name:
                return c
        raise AtlasError(
            f"no colouring by {name!r}; choose one of {[c.column for c in self.colorings]}"
        )

    def frame(self) -> pd.DataFrame:
        """The metadata as a DataFrame (one row per model, ``id`` first, x and y last)."""
        import pandas as pd

        data: dict[str, Any] = {"id": self.ids}
        for col in self.columns:
            data[col.name] = col.decoded()
        data["x"], data["y"] = self.coords[:, 0], self.coords[:, 1]
        return pd.DataFrame(data)

    def index_of(self, ids: Sequence[int] | npt.ArrayLike) -> np.ndarray:
        """Row indices of library ids (AtlasError for ids not in the atlas)."""
        wanted = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(self) == 0:
            found = np.zeros(wanted.shape[0], dtype=np.intp)
            bad = np.ones(wanted.shape[0], dtype=bool)
        else:
            order = np.argsort(self.ids, kind="stable")
            pos = np.minimum(np.searchsorted(self.ids[order], wanted), len(self) - 1)
            found = order[pos]
            bad = self.ids[found] != wanted
        if np.any(bad):
            raise AtlasError(f"model id(s) not in the atlas: {wanted[bad][:10].tolist()}")
        return np.asarray(found, dtype=np.intp)

    # ------------------------------------------------------------------ serialization
    def to_dict(self, *, descriptors: bool = True) -> dict[str, Any]:
        """A JSON-ready mapping; arrays are base64 blocks (exact).

        Parameters
        ----------
        descriptors : bool, default=True
            Include the descriptors (``n * S * B * 4`` bytes); the browser does not need them.
        """
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": _VERSION,
            "title": self.title,
            "source": self.source,
            "n": len(self),
            "ids": encode_array(self.ids),
            "coords": encode_array(self.coords),
            "descriptor_shape": list(self.descriptors.shape[1:]),
            "columns": [c.to_dict() for c in self.columns],
            "colorings": [c.to_dict() for c in self.colorings],
            "hover": list(self.hover),
            "parallel": list(self.parallel),
            "representation": _jsonable(self.representation),
            "embedding": _jsonable(self.embedding),
        }
        if descriptors:
            out["descriptors"] = encode_array(self.descriptors)
        return out

    def to_json(self, *, descriptors: bool = True) -> str:
        """The atlas as JSON text (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(descriptors=descriptors), allow_nan=False)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Atlas:
        """The atlas of :meth:`to_dict` (it must include the descriptors)."""
        if obj.get("format") != FORMAT:
            raise AtlasError(f"not a serialized atlas: format is {obj.get('format')!r}")
        if obj.get("version") != _VERSION:
            raise AtlasError(
                f"atlas format version {obj.get('version')!r} is not supported; expected {_VERSION}"
            )
        if "descriptors" not in obj:
            raise AtlasError("this atlas was serialized without descriptors; it cannot be loaded")
        return cls(
            ids=decode_array(obj["ids"], name="ids"),
            coords=decode_array(obj["coords"], name="coords"),
            descriptors=decode_array(obj["descriptors"], name="descriptors"),
            columns=tuple(Column.from_dict(c) for c in obj.get("columns", ())),
            colorings=tuple(Coloring.from_dict(c) for c in obj.get("colorings", ())),
            hover=tuple(obj.get("hover", ())),
            parallel=tuple(obj.get("parallel", ())),
            title=str(obj.get("title", "weightspace atlas")),
            representation=dict(obj.get("representation", {})),
            embedding=dict(obj.get("embedding", {})),
            source=str(obj.get("source", "")),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Atlas:
        """The atlas of :meth:`to_json`."""
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AtlasError(f"not valid JSON: {exc}") from None
        if not isinstance(obj, Mapping):
            raise AtlasError(f"a serialized atlas is a JSON object; got {type(obj).__name__}")
        return cls.from_dict(obj)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` (atomically); return the path."""
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Atlas:
        """Read an atlas written by :meth:`save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    # ------------------------------------------------------------------ analysis
    def summarize(self, indices: npt.ArrayLike) -> SelectionSummary:
        """The cluster summary of the models at row ``indices`` (see :mod:`.summary`)."""
        from weightspace.atlas.summary import summarize

        return summarize(self, indices)

    def nearest(self, descriptors: npt.ArrayLike, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` atlas models nearest to each query in descriptor space (Euclidean).

        Parameters
        ----------
        descriptors : array-like of shape (m, *descriptor_shape) or descriptor_shape
            Query descriptors (flattened to ``S * B`` values).
        k : int, default=5
            Neighbours per query (at most ``len(self)``).

        Returns
        -------
        indices : numpy.ndarray of shape (m, k)
            Row indices into the atlas (``self.ids[indices]`` are the model ids), nearest first.
        distances : numpy.ndarray of shape (m, k)
        """
        flat = self.descriptors.reshape(len(self), -1)
        q = np.asarray(descriptors, dtype=np.float32)
        q = q.reshape(-1, flat.shape[1]) if q.size % flat.shape[1] == 0 else q
        if q.ndim != 2 or q.shape[1] != flat.shape[1]:
            raise AtlasError(
                f"descriptors must hold {flat.shape[1]} values per model "
                f"(shape {self.descriptors.shape[1:]}); got shape {np.shape(descriptors)}"
            )
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise AtlasError(f"k must be a positive integer; got {k!r}")
        k = min(int(k), len(self))
        with self._lock:
            norms = self._state.get("sqnorms")
            if norms is None:
                norms = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
                self._state["sqnorms"] = norms
        d2 = norms[None, :] - 2.0 * (q.astype(np.float64) @ flat.T.astype(np.float64))
        d2 += np.einsum("ij,ij->i", q, q, dtype=np.float64)[:, None]
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(d2, part, axis=1).argsort(axis=1, kind="stable")
        idx = np.take_along_axis(part, order, axis=1)
        dist = np.sqrt(np.maximum(np.take_along_axis(d2, idx, axis=1), 0.0))
        return idx, dist

    def transform(self, descriptors: npt.ArrayLike) -> np.ndarray:
        """Map coordinates of new models' descriptors (UMAP ``transform`` into this atlas).

        The fitted embedding is kept from :func:`build_atlas`; an atlas read from JSON or from the
        library's cache refits it once, deterministically, from its own descriptors and
        ``embedding`` parameters, and checks that it reproduces ``coords``.

        Returns
        -------
        numpy.ndarray of shape (m, 2), float32
        """
        q = np.asarray(descriptors, dtype=np.float32).reshape(-1, self.descriptors[0].size)
        return self.embedder().transform(q)

    def embedder(self) -> AtlasEmbedding:
        """The fitted embedding of this atlas (refitted and checked once when not kept)."""
        from weightspace.atlas.embed import refit_embedding

        with self._fit_lock:  # its own lock: summaries go on while a refit runs
            est = self._state.get("embedder")
            if est is None:
                est = refit_embedding(self)
                self._state["embedder"] = est
        return est

    # ------------------------------------------------------------------ renderers
    def to_html(self, *, color_by: str | None = None, height: str = "100vh") -> str:
        """A self-contained HTML page of the map (see :func:`weightspace.atlas.export.to_html`)."""
        from weightspace.atlas.export import to_html

        return to_html(self, color_by=color_by, height=height)

    def plot(self, color_by: str | None = None, *, ax: Axes | None = None) -> Axes:
        """The map drawn with matplotlib (see :func:`weightspace.atlas.figures.plot_atlas`)."""
        from weightspace.atlas.figures import plot_atlas

        return plot_atlas(self, color_by=color_by, ax=ax)

    def display(
        self,
        *,
        color_by: str | None = None,
        height: int = 560,
        max_bytes: int | None = DISPLAY_MAX_BYTES,
    ) -> None:
        """Show the map in a Jupyter notebook (JupyterLab, classic Notebook, VS Code).

        The page of :meth:`to_html` in an ``<iframe srcdoc>``: it needs no server and no network,
        and its scripts stay isolated from the notebook's. Only IPython (the notebook's kernel) is
        used; ``nbformat``/``nbclient`` are not needed. Displaying the atlas
        as a cell's last value (``atlas``) shows the same with the defaults.

        Parameters
        ----------
        color_by : str, optional
            The colouring shown first (default: the atlas's first).
        height : int, default=560
            Height of the frame in pixels.
        max_bytes : int or None, default=DISPLAY_MAX_BYTES (32 MiB)
            A larger page (it is stored in the notebook file) is replaced by a message that says
            how to open it as a file; None shows any size.

        Raises
        ------
        ImportError
            Without IPython (outside a notebook): write a file with
            :func:`weightspace.atlas.export_html` instead.
        """
        import importlib

        try:
            display = importlib.import_module("IPython.display").display
        except ImportError:
            raise ImportError(
                "Atlas.display() shows the map in a Jupyter notebook and needs IPython (every "
                "Jupyter kernel has it; pip install ipython); outside a notebook write the page to "
                "a file: weightspace.atlas.export_html(atlas, 'atlas.html')"
            ) from None
        bundle = self._display_bundle(color_by=color_by, height=height, max_bytes=max_bytes)
        display(bundle, raw=True)

    def _display_bundle(
        self,
        *,
        color_by: str | None = None,
        height: int = 560,
        max_bytes: int | None = DISPLAY_MAX_BYTES,
    ) -> dict[str, str]:
        """The notebook output: the framed page (or the size message) and the plain repr."""
        from weightspace.atlas.export import to_iframe

        if max_bytes is not None and (
            isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1
        ):
            raise AtlasError(f"max_bytes must be a positive integer or None; got {max_bytes!r}")
        if isinstance(height, bool) or not isinstance(height, int) or height < 1:
            raise AtlasError(f"height must be a positive number of pixels; got {height!r}")
        frame = to_iframe(self, height=height, color_by=color_by)
        size = len(frame.encode("utf-8"))
        if max_bytes is not None and size > max_bytes:
            frame = _too_large(self, size, max_bytes)
        return {"text/html": frame, "text/plain": repr(self)}

    def _repr_html_(self) -> str:
        return self._display_bundle()["text/html"]

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return self._display_bundle()


def _too_large(atlas: Atlas, size: int, limit: int) -> str:
    """The notebook message shown instead of a page over the display limit."""
    import html

    mb = 2**20
    return (
        '<div class="weightspace-atlas-too-large" style="padding: 10px 14px; '
        'border: 1px solid #d9a400; background: #fff8e1; font-family: sans-serif;">'
        f"<b>{html.escape(repr(atlas))}</b><br>Its map is a {size / mb:.1f} MiB page, more than "
        f"the {limit / mb:.1f} MiB shown inside a notebook (the page is stored in the notebook "
        "file). Open it as a file instead: <code>weightspace.atlas.export_html(atlas, "
        "'atlas.html')</code> or <code>weightspace atlas export LIB -o atlas.html</code>; or "
        "show it anyway: <code>atlas.display(max_bytes=None)</code>.</div>"
    )


def _jsonable(value: Any) -> Any:
    """Parameters as JSON values (tuples as lists, NumPy scalars as numbers, NaN as None)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
