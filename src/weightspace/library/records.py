"""Typed, immutable records of the model library."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from weightspace.errors import LibraryError

__all__ = ["LibraryInfo", "SnapshotRecord"]


@dataclass(frozen=True)
class SnapshotRecord:
    """What is known of one weight snapshot of a training.

    Parameters
    ----------
    epoch : int, optional
        Epochs completed when the weights were taken (0 = the initialization).
    step : int, optional
        Optimizer steps completed.
    progress : float, optional
        Training progress in [0, 1] (0 = initialization, 1 = the final model).
    train_acc, val_acc, test_acc : float, optional
        Accuracies in [0, 1].
    train_loss, val_loss, test_loss : float, optional
        Losses.
    """

    epoch: int | None = None
    step: int | None = None
    progress: float | None = None
    train_acc: float | None = None
    val_acc: float | None = None
    test_acc: float | None = None
    train_loss: float | None = None
    val_loss: float | None = None
    test_loss: float | None = None

    def __post_init__(self) -> None:
        for name in ("progress", "train_acc", "val_acc", "test_acc"):
            value = getattr(self, name)
            if value is not None and not (0.0 <= float(value) <= 1.0):
                raise LibraryError(f"snapshot field {name!r} must be in [0, 1]; got {value!r}")
        for name in ("epoch", "step"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or int(value) != value or value < 0):
                raise LibraryError(
                    f"snapshot field {name!r} must be a non-negative integer; got {value!r}"
                )

    @classmethod
    def coerce(cls, value: SnapshotRecord | Mapping[str, Any] | None) -> SnapshotRecord:
        """Accept a record, a mapping of its fields, or None (nothing known)."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise LibraryError(
                f"a snapshot record must be a SnapshotRecord or a mapping; got {type(value).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise LibraryError(
                f"unknown snapshot field(s) {unknown}; known fields: {sorted(known)}"
            )
        clean: dict[str, Any] = {}
        for key, item in value.items():
            if item is None or (isinstance(item, float) and math.isnan(item)):
                clean[key] = None
            elif key in ("epoch", "step"):
                clean[key] = int(item)
            else:
                clean[key] = float(item)
        return cls(**clean)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class LibraryInfo:
    """A summary of a library, as printed by ``weightspace library info``."""

    path: str
    schema_version: int
    weightspace_version: str
    created: str
    n_models: int
    n_snapshots: int
    n_weights: int
    n_architectures: int
    disk_bytes: int
    nonfinite_models: tuple[int, ...]
    columns: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        out = asdict(self)
        out["nonfinite_models"] = list(self.nonfinite_models)
        out["columns"] = dict(self.columns)
        return out

    def to_text(self) -> str:
        """Human-readable summary."""
        lines = [
            f"library       {self.path}",
            f"schema        v{self.schema_version} (created {self.created})",
            f"models        {self.n_models:,}",
            f"snapshots     {self.n_snapshots:,}",
            f"weights       {self.n_weights:,} (all snapshots)",
            f"architectures {self.n_architectures:,}",
            f"on disk       {self.disk_bytes / 1e6:,.1f} MB",
        ]
        if self.nonfinite_models:
            shown = ", ".join(str(i) for i in self.nonfinite_models[:20])
            more = " ..." if len(self.nonfinite_models) > 20 else ""
            lines.append(
                f"NaN/Inf       {len(self.nonfinite_models)} model(s) with non-finite weights: "
                f"{shown}{more}"
            )
        else:
            lines.append("NaN/Inf       none")
        for kind in ("hparam", "metric", "meta"):
            names = [n for n, k in self.columns.items() if k == kind]
            if names:
                label = {"hparam": "hyper-params", "metric": "metrics", "meta": "metadata"}[kind]
                lines.append(f"{label:<13} {', '.join(names)}")
        return "\n".join(lines)
