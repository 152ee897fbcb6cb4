"""What the web app's server callbacks compute, as plain functions of the atlas (testable, timed by
``bench/bench_atlas.py`` without a server).

Each function takes the atlas and JSON values from the browser and returns Dash components and
plotly figure dictionaries; nothing loops over models in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from weightspace.atlas._codec import encode_array
from weightspace.atlas.model import Atlas
from weightspace.atlas.panels import (
    descriptor_figure,
    empty_figure,
    example_label,
    parcoords_figure,
    shifts_figure,
)
from weightspace.atlas.summary import SelectionSummary, filter_mask, select, summarize
from weightspace.atlas.upload import Placement

__all__ = [
    "LETTERS",
    "accuracy_column",
    "filters_of",
    "render_compare",
    "render_mask",
    "render_placement",
    "render_selection",
    "selection_of",
]

#: Names of kept selections, in order.
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_HIDDEN = {"display": "none"}
_SHOWN = {"display": "block"}


def accuracy_column(atlas: Atlas) -> str | None:
    """The normalized accuracy column (the filter slider's column), if the atlas has one."""
    return next((c.name for c in atlas.columns if c.kind == "derived"), None)


def filters_of(
    atlas: Atlas,
    column: str | None,
    values: Sequence[str] | None,
    accuracy: Sequence[float] | None,
) -> dict[str, Any]:
    """The filter mapping of :func:`~weightspace.atlas.summary.filter_mask` from the controls."""
    filters: dict[str, Any] = {}
    if column and values:
        filters[column] = list(values)
    acc = accuracy_column(atlas)
    if acc and accuracy and (accuracy[0] > 0.0 or accuracy[1] < 1.0):
        filters[acc] = [float(accuracy[0]), float(accuracy[1])]
    return filters


def render_mask(atlas: Atlas, filters: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The filter as an encoded 0/1 array for the map (None: nothing filtered) and a count."""
    mask = filter_mask(atlas, filters)
    if mask is None:
        return None, f"{len(atlas):,} models"
    return encode_array(
        mask.astype(np.uint8)
    ), f"{int(mask.sum()):,} of {len(atlas):,} models shown"


def selection_of(
    atlas: Atlas, geometry: Mapping[str, Any] | None, filters: Mapping[str, Any]
) -> SelectionSummary | None:
    """The summary of the models inside ``geometry`` that pass ``filters`` (None: no geometry)."""
    if not geometry:
        return None
    idx = select(atlas, geometry, filter_mask(atlas, filters))
    return summarize(atlas, idx)


def render_selection(
    atlas: Atlas,
    geometry: Mapping[str, Any] | None,
    filters: Mapping[str, Any],
    parallel: Sequence[str] | None,
) -> tuple[Any, ...]:
    """The cluster panel of a selection.

    Returns
    -------
    tuple
        ``(panel style, hint style, title, examples figure, mean figure, std figure,
        parallel-coordinates figure, category-shifts figure)``.
    """
    summary = selection_of(atlas, geometry, filters)
    if summary is None:
        blank = empty_figure()
        return (_HIDDEN, _SHOWN, "", blank, blank, blank, blank, blank)
    k = summary.count
    acc = "" if summary.accuracy is None else f" · mean normalized accuracy {summary.accuracy:.2f}"
    title = f"{k:,} model{'s' if k != 1 else ''} selected{acc}"
    if k == 0:
        blank = empty_figure("no models in the selection")
        return (_SHOWN, _HIDDEN, title, blank, blank, blank, blank, blank)
    examples = descriptor_figure(
        atlas,
        [atlas.descriptors[i] for i in summary.examples],
        [example_label(atlas, int(i)) for i in summary.examples],
        height=250,
    )
    mean = descriptor_figure(atlas, [summary.mean], ["<b>mean</b>"], height=250, colorbar=True)
    std = descriptor_figure(
        atlas, [summary.std], ["<b>standard deviation</b>"], colorscale="viridis", sqrt=False,
        height=250, colorbar=True,
    )  # fmt: skip
    columns = [c for c in (parallel or atlas.parallel) if c in atlas.column_names]
    return (
        _SHOWN,
        _HIDDEN,
        title,
        examples,
        mean,
        std,
        parcoords_figure(atlas, summary, columns),
        shifts_figure(summary),
    )


def render_compare(atlas: Atlas, named: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Cards of the kept selections, side by side: size, accuracy, mean and std descriptors."""
    from dash import dcc, html

    cards = []
    for item in named:
        name = str(item.get("name", "?"))
        summary = selection_of(atlas, item.get("geometry"), item.get("filters") or {})
        if summary is None or summary.count == 0:
            body: list[Any] = [html.P("no models", className="muted")]
        else:
            fig = descriptor_figure(
                atlas,
                [summary.mean, summary.std],
                ["mean", "standard deviation"],
                colorscale=["magma", "viridis"],
                sqrt=[True, False],
                shared=False,
                height=190,
            )
            top = [s for s in summary.shifts if s.difference > 0][:4]
            body = [
                html.P(
                    f"{summary.count:,} models"
                    + ("" if summary.accuracy is None else f" · accuracy {summary.accuracy:.2f}"),
                    className="muted",
                ),
                dcc.Graph(
                    id={"type": "compare-graph", "name": name},
                    figure=fig,
                    config={"displayModeBar": False},
                    responsive=True,
                    style={"height": "190px"},
                ),
                html.Ul(
                    [
                        html.Li(
                            f"{s.column} = {s.category}: {100 * s.fraction:.0f}% "
                            f"(library {100 * s.library_fraction:.0f}%)"
                        )
                        for s in top
                    ],
                    className="shift-list",
                ),
            ]
        cards.append(
            html.Div(
                [html.H3(name, className="card-title"), *body],
                id=f"compare-card-{name}",
                className="compare-card",
            )
        )
    return cards


def render_placement(atlas: Atlas, placement: Placement) -> list[Any]:
    """The upload result: where it landed, its descriptor and its nearest library models."""
    from dash import dcc, html

    names = [n for n in ("dataset", "optimizer", "activation", "init") if n in atlas.column_names]
    acc = accuracy_column(atlas)
    header = ["#", "model", "distance", *names, *(["norm. acc"] if acc else [])]
    rows = []
    for rank, (row, dist) in enumerate(
        zip(placement.neighbors.tolist(), placement.distances.tolist(), strict=True), start=1
    ):
        cells = [str(rank), str(int(atlas.ids[row])), f"{dist:.3f}"]
        for n in names:
            col = atlas.column(n)
            code = int(col.values[row])
            cells.append("–" if code < 0 else col.categories[code])
        if acc:
            value = float(atlas.column(acc).values[row])
            cells.append("–" if value != value else f"{value:.2f}")
        rows.append(html.Tr([html.Td(c) for c in cells]))
    figure = descriptor_figure(
        atlas, [placement.descriptor], [f"<b>{placement.name}</b>"], height=230, colorbar=True
    )
    return [
        html.Div(
            [
                html.H3(f"Nearest library models to {placement.name}"),
                html.Table(
                    [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
                    id="nearest-table",
                    className="nearest-table",
                ),
            ],
            className="upload-table",
        ),
        dcc.Graph(
            id="upload-descriptor",
            figure=figure,
            config={"displayModeBar": False},
            className="upload-descriptor",
            responsive=True,
            style={"height": "230px"},
        ),
    ]
