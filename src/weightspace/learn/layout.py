"""Where every neuron's weights sit in a model's canonical vector.

A model is cut into *rows*: for every layer with a kernel, one row per output unit (neuron, or
convolution channel) holding its incoming weights (the kernel row, flattened), its bias and the
per-unit batch-norm values of that layer, in canonical order. A tensor that does not split into the
layer's units (a scalar, a tensor of another first dimension) becomes a group of its own. The
:class:`WeightLayout` keeps, per group, the canonical-vector position of every row entry, so that
tokens are one fancy index of the vector and back (exact, see :mod:`weightspace.learn.tokens`).

Two models have the same layout when their float tensors have the same shapes and roles in the same
order (:attr:`WeightLayout.signature`); layer and tensor *names* do not count, so the same network
built with or without (parameter-free) dropout modules has one layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from weightspace.errors import WeightspaceError
from weightspace.io.weightset import WeightSet

__all__ = ["LayerRows", "LearnError", "WeightLayout"]


class LearnError(WeightspaceError):
    """Bad input to the hyper-representation learner (says what, where, and the fix)."""


@dataclass(frozen=True)
class LayerRows:
    """One group of rows: the units of one layer.

    Attributes
    ----------
    name : str
        The layer's name in the model the layout was read from (informational).
    n_rows : int
        Units (rows) of the layer.
    tensors : tuple of (role, shape, offset)
        The float tensors whose entries make up the rows, with their offset in the canonical vector;
        each gives ``size // n_rows`` consecutive entries per row.
    """

    name: str
    n_rows: int
    tensors: tuple[tuple[str, tuple[int, ...], int], ...]

    @property
    def width(self) -> int:
        """Entries per row (fan-in plus bias and per-unit normalization values)."""
        return sum(int(np.prod(shape)) // self.n_rows for _, shape, _ in self.tensors)

    def positions(self) -> np.ndarray:
        """Canonical-vector index of every entry, shape ``(n_rows, width)``, int64."""
        parts = [
            (offset + np.arange(int(np.prod(shape)), dtype=np.int64)).reshape(self.n_rows, -1)
            for _, shape, offset in self.tensors
        ]
        return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class WeightLayout:
    """The row structure of one architecture (see the module notes).

    Build one with :meth:`from_weightset`.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"a.weight": np.ones((3, 2)), "a.bias": np.ones(3),
    ...                             "b.weight": np.ones((1, 3)), "b.bias": np.ones(1)})
    >>> layout = WeightLayout.from_weightset(ws)
    >>> [(g.n_rows, g.width) for g in layout.groups]
    [(3, 3), (1, 4)]
    """

    groups: tuple[LayerRows, ...]
    n_params: int

    @classmethod
    def from_weightset(cls, ws: WeightSet) -> WeightLayout:
        """The layout of ``ws`` (any architecture; see the module notes)."""
        offsets = ws.offsets
        groups: list[LayerRows] = []
        for layer in ws.layers:
            floats = [t for t in ws.layer(layer).tensors if t.is_float and t.size > 0]
            if not floats:
                continue
            kernels = [t for t in floats if t.role == "kernel"]
            lead = kernels[0] if kernels else floats[0]
            n_rows = lead.shape[0] if lead.shape else 1
            rows: list[tuple[str, tuple[int, ...], int]] = []
            for t in floats:
                if t.shape and t.shape[0] == n_rows and (t is lead or t.role != "kernel"):
                    rows.append((t.role, t.shape, offsets[t.name][0]))
                else:  # a tensor that does not split into this layer's units: a group of its own
                    own = t.shape[0] if t.shape else 1
                    groups.append(
                        LayerRows(
                            f"{layer}:{t.name}", own, ((t.role, t.shape, offsets[t.name][0]),)
                        )
                    )
            groups.append(LayerRows(layer, n_rows, tuple(rows)))
        if not groups:
            raise LearnError(f"{ws.source or 'WeightSet'}: no floating-point weights to tokenize")
        groups.sort(key=lambda g: min(offset for _, _, offset in g.tensors))
        return cls(tuple(groups), ws.n_params)

    @cached_property
    def signature(self) -> tuple[Any, ...]:
        """Rows, roles and shapes of every group, without names: equal for one architecture."""
        return tuple(
            (g.n_rows, tuple((role, tuple(shape)) for role, shape, _ in g.tensors))
            for g in self.groups
        )

    def describe(self) -> str:
        """``rows x width`` per group, e.g. ``8x26 6x201 4x25 20x37 10x21``."""
        return " ".join(f"{g.n_rows}x{g.width}" for g in self.groups)

    @cached_property
    def param_group(self) -> np.ndarray:
        """Group index of every entry of the canonical vector, shape ``(n_params,)``, int64."""
        out = np.full(self.n_params, -1, dtype=np.int64)
        for i, g in enumerate(self.groups):
            out[g.positions().reshape(-1)] = i
        return out

    def to_json(self) -> list[dict[str, Any]]:
        """A JSON-ready description (names, rows and tensors) for an encoder's config."""
        return [
            {
                "name": g.name,
                "n_rows": g.n_rows,
                "tensors": [
                    {"role": role, "shape": list(shape), "offset": offset}
                    for role, shape, offset in g.tensors
                ],
            }
            for g in self.groups
        ]

    @classmethod
    def from_json(cls, items: Sequence[dict[str, Any]], n_params: int) -> WeightLayout:
        """The inverse of :meth:`to_json`."""
        groups = tuple(
            LayerRows(
                str(item["name"]),
                int(item["n_rows"]),
                tuple(
                    (str(t["role"]), tuple(int(s) for s in t["shape"]), int(t["offset"]))
                    for t in item["tensors"]
                ),
            )
            for item in items
        )
        return cls(groups, int(n_params))

    def check(self, ws: WeightSet, what: str) -> None:
        """Raise :class:`LearnError` unless ``ws`` has this layout (``what`` names the user)."""
        other = WeightLayout.from_weightset(ws)
        if other.signature != self.signature:
            raise LearnError(
                f"{ws.source or 'WeightSet'}: architecture {other.describe()} (rows x width per "
                f"layer, {other.n_params} weights) is not the {what}'s {self.describe()} "
                f"({self.n_params} weights); an encoder of neuron tokens embeds only its own "
                "architecture: train one on this architecture, or use chunk tokens (--tokens chunk)"
            )
