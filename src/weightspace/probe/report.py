"""The probe result contract: a table, figures, a text summary, and a Markdown report on disk.

Every probe returns a :class:`ProbeResult`: ``to_frame()`` (the result table), ``plot()`` (the main
figure), ``figures()`` (all figures by name), ``summary()`` (text, the paper's number beside ours
where the paper has one) and ``write_report(out_dir)`` (Markdown + CSV + PNG). Figures are plain
:class:`matplotlib.figure.Figure` objects, not registered with pyplot: nothing global is left open.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ProbeResult", "Report", "markdown_table"]


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
