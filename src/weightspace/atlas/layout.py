"""The layout of the atlas web app: every element with a stable id (tests and scripts find them).

``atlas-map`` (the map), ``color-by``, ``filter-column``, ``filter-values``, ``filter-accuracy``,
``filter-count``; ``upload-checkpoint``, ``upload-status``, ``upload-result`` (with ``nearest-table``
and ``upload-descriptor``); ``cluster-hint``, ``cluster-panel`` with ``sel-title``,
``keep-selection``, ``sel-examples``, ``sel-mean``, ``sel-std``, ``pc-columns``, ``sel-parcoords``,
``sel-categories``; ``compare-panel`` (cards ``compare-card-A``...) and ``clear-selections``; stores
``atlas-data``, ``filter-mask``, ``selection-geometry``, ``named-selections``, ``placed-models``.
"""

from __future__ import annotations

from typing import Any

from weightspace.atlas.export import describe
from weightspace.atlas.model import Atlas
from weightspace.atlas.views import accuracy_column

__all__ = ["GRAPH_CONFIG", "build_layout"]

#: Plotly configuration of the panel graphs (no mode bar, no logo).
GRAPH_CONFIG: Any = {"displaylogo": False, "displayModeBar": False}


def build_layout(atlas: Atlas, *, max_upload_bytes: int, color_by: str | None = None) -> Any:
    """The page: header, map with controls and upload box, cluster panel, kept selections, and the
    stores (the atlas dictionary, filter mask, selection geometry, kept selections, uploads)."""
    from dash import dcc, html

    colorings = [{"label": c.label, "value": c.column} for c in atlas.colorings]
    categorical = [
        {"label": c.label, "value": c.name}
        for c in atlas.columns
        if c.type == "categorical" and c.kind in ("hparam", "metric") and len(c.categories) > 1
    ]
    axes = [
        {"label": c.label, "value": c.name}
        for c in atlas.columns
        if c.kind in ("hparam", "metric", "derived")
    ]
    acc = accuracy_column(atlas)
    default = color_by or (atlas.colorings[0].column if atlas.colorings else None)
    return html.Div(
        id="atlas-app",
        children=[
            html.Header(
                id="atlas-header",
                children=[
                    html.H1(atlas.title, id="atlas-title"),
                    html.Span(describe(atlas), id="atlas-info"),
                ],
            ),
            html.Div(
                id="atlas-body",
                children=[
                    html.Section(
                        id="map-column",
                        children=[
                            html.Div(
                                id="controls",
                                children=[
                                    _labelled(
                                        "colour by",
                                        dcc.Dropdown(
                                            id="color-by",
                                            options=colorings,
                                            value=default,
                                            clearable=False,
                                            className="dropdown wide",
                                        ),
                                    ),
                                    _labelled(
                                        "filter",
                                        dcc.Dropdown(
                                            id="filter-column",
                                            options=categorical,
                                            placeholder="column…",
                                            className="dropdown",
                                        ),
                                    ),
                                    dcc.Dropdown(
                                        id="filter-values",
                                        options=[],
                                        multi=True,
                                        placeholder="values…",
                                        className="dropdown wide",
                                    ),
                                    html.Div(
                                        _labelled(
                                            "normalized accuracy",
                                            dcc.RangeSlider(
                                                id="filter-accuracy",
                                                min=0,
                                                max=1,
                                                step=0.01,
                                                value=[0, 1],
                                                marks={0: "0", 0.5: "0.5", 1: "1"},
                                                tooltip={"placement": "bottom"},
                                            ),
                                        ),
                                        className="slider",
                                        style={} if acc else {"display": "none"},
                                    ),
                                    html.Span(
                                        f"{len(atlas):,} models",
                                        id="filter-count",
                                        className="muted",
                                    ),
                                ],
                            ),
                            dcc.Graph(
                                id="atlas-map",
                                config={
                                    "displaylogo": False,
                                    "scrollZoom": True,
                                    "modeBarButtonsToRemove": ["autoScale2d", "toImage"],
                                },
                                responsive=True,
                                style={"height": "68vh", "minHeight": "420px"},
                            ),
                            html.P(
                                "Drag on the map to select a box (lasso and zoom in the toolbar); "
                                "double-click to clear.",
                                className="muted hint",
                            ),
                            dcc.Upload(
                                id="upload-checkpoint",
                                children=html.Div(
                                    [
                                        "Drop a checkpoint here or ",
                                        html.A("choose a file"),
                                        f" (.pt, .safetensors, .h5, .keras, .onnx, .npz; up to "
                                        f"{max_upload_bytes / 2**20:.0f} MB) to place it on the map",
                                    ]
                                ),
                                max_size=max_upload_bytes,
                                multiple=False,
                                className="upload",
                            ),
                            html.Div(id="upload-status", className="muted"),
                            html.Div(id="upload-result", className="upload-result"),
                        ],
                    ),
                    html.Section(
                        id="panel-column",
                        children=[
                            html.Div(
                                "Draw a box or a lasso on the map to summarize a cluster: its "
                                "example, mean and standard-deviation descriptors, hyper-parameters "
                                "and accuracy, and how its categories differ from the library.",
                                id="cluster-hint",
                                className="hint-box",
                            ),
                            html.Div(
                                id="cluster-panel",
                                style={"display": "none"},
                                children=[
                                    html.Div(
                                        [
                                            html.H2(id="sel-title"),
                                            html.Button("Keep as A", id="keep-selection"),
                                        ],
                                        className="panel-header",
                                    ),
                                    html.H3("Example descriptors (best to worst accuracy)"),
                                    _graph("sel-examples", 250),
                                    html.H3("Mean and standard deviation descriptors"),
                                    html.Div(
                                        [
                                            _graph("sel-mean", 250, "half"),
                                            _graph("sel-std", 250, "half"),
                                        ],
                                        className="pair",
                                    ),
                                    html.H3("Hyper-parameters and accuracy of the selection"),
                                    dcc.Dropdown(
                                        id="pc-columns",
                                        options=axes,
                                        value=list(atlas.parallel),
                                        multi=True,
                                        className="dropdown",
                                    ),
                                    _graph("sel-parcoords", 320),
                                    html.H3("Categories: selection compared with the library"),
                                    _graph("sel-categories", 310),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
            html.Section(
                id="compare-section",
                children=[
                    html.Div(
                        [
                            html.H2("Kept selections"),
                            html.Button("Clear", id="clear-selections"),
                        ],
                        className="panel-header",
                    ),
                    html.Div(id="compare-panel"),
                ],
            ),
            dcc.Store(id="atlas-data", data=atlas.to_dict(descriptors=False)),
            dcc.Store(id="filter-mask", data=None),
            dcc.Store(id="selection-geometry", data=None),
            dcc.Store(id="named-selections", data=[]),
            dcc.Store(id="placed-models", data=[]),
        ],
    )


def _graph(ident: str, height: int, class_name: str = "") -> Any:
    """A panel graph that follows its container's width (it is drawn while hidden at first)."""
    from dash import dcc

    return dcc.Graph(
        id=ident,
        config=GRAPH_CONFIG,
        responsive=True,
        style={"height": f"{height}px"},
        className=class_name,
    )


def _labelled(label: str, control: Any) -> Any:
    from dash import html

    return html.Label([html.Span(label, className="control-label"), control], className="control")
