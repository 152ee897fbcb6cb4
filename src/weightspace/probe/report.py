"""The probe result contract: a table, figures, a text summary, and a Markdown report on disk.

Every probe returns a :class:`ProbeResult`: ``to_frame()`` (the result table), ``plot()`` (the main
figure), ``figures()`` (all figures by name), ``summary()`` (text) and ``write_report(out_dir)`` (Markdown +
CSV + PNG). Figures are plain :class:`matplotlib.figure.Figure` objects, not registered with pyplot:
nothing global is left open.

A probe knows no paper. What a paper published is a :class:`Reference`, built in
:mod:`weightspace.reproduce.papers` and attached to a result with :func:`with_reference` by the
reproductions and the ``probe`` commands; a result with one shows the published numbers and words
beside its own (``paper_*`` columns, ``paper`` lines and markers), a result without one does not.
"""

from __future__ import annotations

import dataclasses
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from weightspace.probe.targets import canonical_target

__all__ = ["ProbeResult", "Reference", "Report", "markdown_table", "with_reference"]

R = TypeVar("R", bound="ProbeResult")


@dataclass(frozen=True)
class Reference:
    """What a paper published, shown beside a probe's own numbers (see the module notes).

    Each result that accepts one (its ``reference`` field) names the keys and slots it reads.

    Attributes
    ----------
    values : mapping
        Published numbers by the result's key (e.g. ``(network, protocol, features, chain)``).
    words : mapping of str to str
        Published statements by canonical target name
        (:func:`~weightspace.probe.targets.canonical_target`).
    texts : mapping of str to str
        Sentences for the result's named slots (a header, a row's remark, a note).
    """

    values: Mapping[Any, float] = field(default_factory=dict)
    words: Mapping[str, str] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict)

    def value(self, key: Any) -> float:
        """The published number for ``key`` (NaN when there is none).

        Examples
        --------
        >>> Reference(values={"a": 0.5}).value("a"), Reference().value("a")
        (0.5, nan)
        """
        return float(self.values.get(key, float("nan")))

    def word(self, target: str) -> str | None:
        """The published statement on ``target`` (any alias of it), or None."""
        return self.words.get(canonical_target(target))

    def text(self, slot: str) -> str:
        """The sentence for ``slot`` ("" when there is none)."""
        return self.texts.get(slot, "")


def with_reference(result: R, reference: Reference | None) -> R:
    """A copy of ``result`` showing ``reference`` beside its own numbers."""
    return dataclasses.replace(result, reference=reference)  # type: ignore[type-var]


@dataclass(frozen=True)
class Report:
    """The files a report was written to."""

    markdown: Path
    table: Path
    figures: tuple[Path, ...]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.4g}"
    text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, *, max_rows: int | None = None) -> str:
    """``frame`` as a GitHub Markdown table (floats to 4 significant digits, NaN as ``-``).

    Examples
    --------
    >>> import pandas as pd
    >>> print(markdown_table(pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})))
    | a | b |
    | --- | --- |
    | 1 | 0.5 |
    | 2 | - |
    """
    shown = frame if max_rows is None else frame.head(max_rows)
    lines = [
        "| " + " | ".join(str(c) for c in shown.columns) + " |",
        "| " + " | ".join("---" for _ in shown.columns) + " |",
    ]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    if max_rows is not None and len(frame) > max_rows:
        lines.append(f"\n({len(frame) - max_rows} more rows in the CSV)")
    return "\n".join(lines)


class ProbeResult(ABC):
    """Base of every probe's result (see the module notes)."""

    #: Short name of the probe, used for file names (``svm``, ``regression``, ``untangling``).
    probe: str = "probe"
    #: Title of the Markdown report.
    title: str = "Probe"

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """The result table (one row per result; what ``--json`` prints)."""

    @abstractmethod
    def summary(self) -> str:
        """A text summary: ours beside the paper's number where the paper has one."""

    @abstractmethod
    def plot(self) -> Figure:
        """The main figure."""

    def figures(self) -> dict[str, Figure]:
        """All figures of the report by name, the main one (:meth:`plot`) first."""
        return {self.probe: self.plot()}

    def tables(self) -> dict[str, pd.DataFrame]:
        """Extra tables for the report, by heading (none by default)."""
        return {}

    def notes(self) -> list[str]:
        """Remarks for the report (choices, what was left out, what the paper lost)."""
        return []

    def write_report(self, out_dir: str | os.PathLike[str], *, stem: str | None = None) -> Report:
        """Write ``STEM.md``, ``STEM.csv`` and ``STEM-<figure>.png`` into ``out_dir``.

        Parameters
        ----------
        out_dir : path
            Created when missing.
        stem : str, optional
            File name stem (default: :attr:`probe`).
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = stem or self.probe
        frame = self.to_frame()
        table = out / f"{stem}.csv"
        frame.to_csv(table, index=False)
        written: list[Path] = []
        parts = [f"# {self.title}", "", "```text", self.summary(), "```", ""]
        for name, fig in self.figures().items():
            path = out / f"{stem}-{name}.png"
            fig.savefig(path, dpi=130)
            _close(fig)
            written.append(path)
            parts += [f"![{name}]({path.name})", ""]
        parts += ["## Results", "", markdown_table(frame, max_rows=200), ""]
        for heading, extra in self.tables().items():
            parts += [f"## {heading}", "", markdown_table(extra, max_rows=60), ""]
        remarks = self.notes()
        if remarks:
            parts += ["## Notes", ""] + [f"- {r}" for r in remarks] + [""]
        markdown = out / f"{stem}.md"
        markdown.write_text("\n".join(parts))
        return Report(markdown, table, tuple(written))


def _close(fig: Figure) -> None:
    """Release a figure's canvas memory (figures here are not registered with pyplot)."""
    fig.clear()
