"""Metadata columns of an atlas and the ways to colour the map by them (immutable records)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from weightspace.atlas._codec import decode_array, encode_array
from weightspace.atlas.colors import MISSING_COLOR, VIRIDIS
from weightspace.errors import WeightspaceError

__all__ = ["AtlasError", "Coloring", "Column", "ColumnType"]

ColumnType = Literal["categorical", "continuous"]
_TYPES = ("categorical", "continuous")


class AtlasError(WeightspaceError):
    """An atlas got bad input (says which, what was expected, what was got)."""


@dataclass(frozen=True, eq=False)
class Column:
    """One metadata column of the atlas (a hyper-parameter, metric or derived value).

    Parameters
    ----------
    name : str
        The library column name (``"optimizer"``, ``"test_acc"``).
    kind : str
        ``"hparam"``, ``"metric"``, ``"meta"`` or ``"derived"``.
    type : {"categorical", "continuous"}
        Categorical columns hold integer codes into ``categories``; continuous ones hold floats.
    values : numpy.ndarray of shape (n,)
        int32 codes (-1: missing) or float64 values (NaN: missing).
    categories : tuple of str
        Labels of the codes, in code order (categorical only).
    label : str
        A readable name (default: ``name``).
    """

    name: str
    kind: str
    type: ColumnType
    values: np.ndarray
    categories: tuple[str, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise AtlasError(
                f"column {self.name!r}: type must be one of {_TYPES}; got {self.type!r}"
            )
        values = np.asarray(self.values)
        if values.ndim != 1:
            raise AtlasError(f"column {self.name!r}: values must be 1-D; got shape {values.shape}")
        if self.type == "categorical":
            values = values.astype(np.int32, copy=False)
            if values.size and (values.min() < -1 or values.max() >= len(self.categories)):
                raise AtlasError(
                    f"column {self.name!r}: codes must be in [-1, {len(self.categories) - 1}]; "
                    f"got [{values.min()}, {values.max()}]"
                )
        else:
            values = values.astype(np.float64, copy=False)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))
        if not self.label:
            object.__setattr__(self, "label", self.name)

    def decoded(self) -> np.ndarray:
        """Values as labels (object array, None where missing) or floats (NaN where missing)."""
        if self.type == "continuous":
            return self.values.copy()
        labels = np.array([*self.categories, None], dtype=object)
        out: np.ndarray = labels[self.values]  # code -1 picks the trailing None
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (codes in the smallest integer type that holds them)."""
        values = self.values
        if self.type == "categorical":
            n = len(self.categories)
            values = values.astype(np.int8 if n < 127 else np.int16 if n < 32767 else np.int32)
        return {
            "name": self.name,
            "kind": self.kind,
            "type": self.type,
            "label": self.label,
            "categories": list(self.categories),
            "values": encode_array(values),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Column:
        """The column of :meth:`to_dict`."""
        return cls(
            name=str(obj["name"]),
            kind=str(obj["kind"]),
            type=obj["type"],
            values=decode_array(obj["values"], name=f"column {obj.get('name')!r}"),
            categories=tuple(obj.get("categories", ())),
            label=str(obj.get("label", "")),
        )


@dataclass(frozen=True)
class Coloring:
    """How to colour the map by one column.

    Parameters
    ----------
    column : str
        The column coloured by (also the colouring's name).
    label : str
        Legend or colour-bar title.
    type : {"categorical", "continuous"}
        Categorical: one colour per category and a legend; continuous: a colour scale and a bar.
    colors : tuple of str
        One colour per category (categorical only).
    colorscale : tuple of (float, str)
        Stops of the colour scale (continuous only).
    cmin, cmax : float, optional
        Range of the colour scale (continuous only); None for the data's range.
    missing_color : str
        Colour of models without a value.
    """

    column: str
    label: str
    type: ColumnType
    colors: tuple[str, ...] = ()
    colorscale: tuple[tuple[float, str], ...] = VIRIDIS
    cmin: float | None = None
    cmax: float | None = None
    missing_color: str = MISSING_COLOR

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {
            "column": self.column,
            "label": self.label,
            "type": self.type,
            "colors": list(self.colors),
            "colorscale": [[p, c] for p, c in self.colorscale],
            "cmin": self.cmin,
            "cmax": self.cmax,
            "missing_color": self.missing_color,
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> Coloring:
        """The colouring of :meth:`to_dict`."""
        return cls(
            column=str(obj["column"]),
            label=str(obj["label"]),
            type=obj["type"],
            colors=tuple(str(c) for c in obj.get("colors", ())),
            colorscale=tuple((float(p), str(c)) for p, c in obj.get("colorscale", VIRIDIS)),
            cmin=None if obj.get("cmin") is None else float(obj["cmin"]),
            cmax=None if obj.get("cmax") is None else float(obj["cmax"]),
            missing_color=str(obj.get("missing_color", MISSING_COLOR)),
        )
