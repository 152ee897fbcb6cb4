"""Renderers of one atlas: the self-contained HTML file, Jupyter display, matplotlib figures, the
server callbacks' figures and the app's layout."""

import html
import json
import re

import numpy as np
import pytest

from weightspace.atlas import Atlas, AtlasError, export_html, plot_atlas, plot_selection, to_html
from weightspace.atlas.export import plotly_js
from weightspace.atlas.figures import save_png
from weightspace.atlas.views import filters_of, render_compare, render_mask, render_selection


def embedded_atlas(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="atlas-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_plotly_js_is_bundled_offline():
    js = plotly_js()
    assert len(js) > 1_000_000
    assert "plotly.js v" in js[:200]


def test_the_html_export_is_self_contained(atlas, tmp_path):
    path = export_html(atlas, tmp_path / "out" / "atlas.html", color_by="init")
    page = path.read_text(encoding="utf-8")
    assert re.search(r"<script[^>]+src=", page) is None  # every script inline
    assert re.search(r"<link[^>]+href=", page) is None
    assert not re.search(r"__[A-Z_]+__", page.split("<script")[0])  # every placeholder filled
    payload = embedded_atlas(page)
    assert payload["n"] == len(atlas)
    assert "descriptors" not in payload
    assert json.loads(re.search(r'id="atlas-options">(.*?)</script>', page).group(1)) == {
        "color_by": "init"
    }
    assert "WeightspaceAtlas" in page  # assets/atlas.js, inlined


def test_text_cannot_break_out_of_the_page(rng):
    atlas = Atlas(
        ids=np.arange(3), coords=rng.normal(size=(3, 2)), descriptors=rng.random((3, 2, 2)),
        title="</script><script>alert(1)</script>",
    )  # fmt: skip
    page = to_html(atlas)
    assert "</script><script>alert(1)" not in page  # the JSON escapes "</" as "<\\/"
    assert html.escape("</script><script>alert(1)</script>") in page
    assert embedded_atlas(page)["title"] == atlas.title


def test_export_checks_its_options(atlas):
    with pytest.raises(AtlasError, match="choose one of"):
        to_html(atlas, color_by="nope")
    with pytest.raises(AtlasError, match="CSS length"):
        to_html(atlas, height="100; color: red")


def test_jupyter_display_is_an_isolated_frame(atlas):
    bundle = atlas._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Atlas(48 models")
    frame = bundle["text/html"]
    assert frame.startswith("<iframe srcdoc=")
    assert 'sandbox="allow-scripts"' in frame
    assert atlas._repr_html_() == frame


def test_the_map_figure_has_a_legend_or_a_colour_bar(atlas, tmp_path):
    ax = plot_atlas(atlas, "init")
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(atlas.column("init").categories)
    assert legend.get_title().get_text() == "init"
    ax = plot_atlas(atlas)
    assert len(ax.figure.axes) == 2  # the map and its colour bar
    path = save_png(atlas, tmp_path / "map.png", color_by="dataset")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_selection_figure_shows_examples_mean_and_std(atlas):
    fig = plot_selection(atlas, np.arange(10), title="A")
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 6
    assert titles[-2:] == ["mean", "standard deviation"]
    assert all(t.startswith("#") for t in titles[:4])


def test_the_selection_callback_fills_the_cluster_panel(atlas):
    box = {"range": {"x": [-1e9, 1e9], "y": [-1e9, 1e9]}}
    panel, hint, title, examples, mean, std, parcoords, shifts = render_selection(
        atlas, box, {}, None
    )
    assert panel == {"display": "block"}
    assert hint == {"display": "none"}
    assert title.startswith(f"{len(atlas)} models selected")
    assert len(examples["data"]) == 4
    assert np.array(mean["data"][0]["z"]).shape == (32, 32)
    assert std["data"][0]["colorscale"][0] == [0.0, "#440154"]
    dims = parcoords["data"][0]["dimensions"]
    assert [d["label"] for d in dims][:2] == ["dataset", "optimizer"]
    assert dims[0]["ticktext"] == ["digits", "shapes"]
    assert len(dims[0]["values"]) == len(atlas)
    assert shifts["data"] == [] or shifts["data"][0]["type"] == "bar"
    assert render_selection(atlas, None, {}, None)[0] == {"display": "none"}


def test_the_selection_callback_honours_filters(atlas):
    box = {"range": {"x": [-1e9, 1e9], "y": [-1e9, 1e9]}}
    filters = filters_of(atlas, "dataset", ["digits"], [0, 1])
    assert filters == {"dataset": ["digits"]}
    digits = int((atlas.column("dataset").decoded() == "digits").sum())
    assert render_selection(atlas, box, filters, None)[2].startswith(f"{digits} models")
    mask, text = render_mask(atlas, filters)
    assert text == f"{digits} of {len(atlas)} models shown"
    assert mask["dtype"] == "uint8"
    assert render_mask(atlas, {}) == (None, f"{len(atlas)} models")


def test_kept_selections_become_cards(atlas):
    box = {"range": {"x": [-1e9, 1e9], "y": [-1e9, 1e9]}}
    cards = render_compare(
        atlas,
        [
            {"name": "A", "geometry": box},
            {"name": "B", "geometry": box, "filters": {"dataset": ["shapes"]}},
        ],
    )
    assert [c.id for c in cards] == ["compare-card-A", "compare-card-B"]


def test_the_app_layout_has_stable_ids(atlas):
    pytest.importorskip("dash")
    from weightspace.atlas import create_app

    app = create_app(atlas, max_upload_bytes=1234)
    ids = set()

    def walk(node):
        if hasattr(node, "id") and isinstance(getattr(node, "id", None), str):
            ids.add(node.id)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, str):
                walk(child)
        for prop in ("control",):
            if hasattr(node, prop):
                walk(getattr(node, prop))

    walk(app.layout)
    expected = {
        "atlas-map", "color-by", "filter-column", "filter-values", "filter-accuracy",
        "cluster-panel", "sel-title", "sel-examples", "sel-mean", "sel-std", "sel-parcoords",
        "sel-categories", "keep-selection", "compare-panel", "upload-checkpoint", "upload-status",
        "upload-result", "atlas-data", "named-selections", "placed-models",
    }  # fmt: skip
    assert expected <= ids
    assert app.server.config["MAX_CONTENT_LENGTH"] == 1234 * 4 // 3 + (1 << 20)
