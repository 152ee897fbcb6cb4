"""The atlas in a real browser: Playwright driving Debian's headless chromium.

The Dash app runs in a thread on a free 127.0.0.1 port; every other address is blocked, except
``rebound.test``, which chromium resolves to 127.0.0.1 (a DNS-rebinding attacker's name). The tests
drive the page as a person would (a mouse drag for a box selection, the colour-by dropdown, a file
chosen in the upload box) and save a screenshot of each state to ``artifacts/screenshots/``.
Skipped when ``/usr/bin/chromium`` (``apt-get install chromium``) or the ``playwright`` package
(``pip install playwright``; no browser download is needed) is missing.
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from weightspace.atlas import create_app, export_html, select, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a DNS name that resolves to this machine, as a rebinding attacker's name would
    "--host-resolver-rules=MAP rebound.test 127.0.0.1",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="browser tests need the playwright package: pip install playwright",
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="browser tests need Debian's chromium at /usr/bin/chromium: apt-get install chromium",
    ),
]

#: Points of the map in the graph's data (traces of models, not the colour bar or highlights).
COUNT_POINTS = """(sel) => {
    const gd = document.querySelector(sel);
    if (!gd || !gd.data || !gd._fullLayout) return -1;
    return gd.data.filter(t => t.meta === 'models').reduce((s, t) => s + t.x.length, 0);
}"""
MAP = "#atlas-map .js-plotly-plot"
#: The upload weight limit of the served app (the library's models have a few hundred weights).
MAX_WEIGHTS = 10_000


@pytest.fixture(scope="module")
def server(atlas: Any) -> Iterator[Any]:
    srv = start_server(create_app(atlas, max_upload_bytes=5 * 2**20, max_weights=MAX_WEIGHTS))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="atlas-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        # only this machine: the app and file:// pages must need nothing from the network
        context.route(
            re.compile(r"^(?!http://(127\.0\.0\.1|rebound\.test)[:/]|file:|data:|blob:).*"),
            lambda route: route.abort(),
        )
        yield context
        context.close()


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    page.wait_for_function(f"() => ({COUNT_POINTS})('{MAP}') > 0", timeout=30_000)
    yield page
    page.close()
    assert errors == []


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"atlas_{name}.png"), full_page=True)


def drag_box(page: Any, fx0: float, fy0: float, fx1: float, fy1: float) -> dict[str, Any]:
    """Drag a box over the map (fractions of the plot area); return plotly's selection box."""
    area = page.locator("#atlas-map .nsewdrag").first.bounding_box()
    x0, y0 = area["x"] + fx0 * area["width"], area["y"] + fy0 * area["height"]
    x1, y1 = area["x"] + fx1 * area["width"], area["y"] + fy1 * area["height"]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 9):
        page.mouse.move(x0 + (x1 - x0) * k / 8, y0 + (y1 - y0) * k / 8)
    page.mouse.up()
    page.wait_for_function(
        f"() => {{ const s = document.querySelector('{MAP}').layout.selections; return s && s.length; }}"
    )
    box = page.evaluate(f"() => document.querySelector('{MAP}').layout.selections.at(-1)")
    return {"range": {"x": [box["x0"], box["x1"]], "y": [box["y0"], box["y1"]]}}


def panel_count(page: Any) -> int:
    page.wait_for_selector("#cluster-panel", state="visible", timeout=20_000)
    page.wait_for_function(
        "() => /selected/.test(document.querySelector('#sel-title').textContent)"
    )
    title = page.inner_text("#sel-title")
    return int(re.match(r"([\d,]+) models? selected", title).group(1).replace(",", ""))


def test_the_page_loads_and_draws_every_model(page, atlas):
    assert page.evaluate(COUNT_POINTS, MAP) == len(atlas)
    assert page.inner_text("#atlas-title") == atlas.title
    assert page.locator("#cluster-panel").is_hidden()
    bar = page.evaluate(
        f"() => document.querySelector('{MAP}').data.filter(t => t.meta === 'colorbar')"
        ".map(t => t.marker.colorbar.title.text)"
    )
    assert bar == [atlas.coloring().label]  # a continuous colouring: a colour bar
    assert page.locator("#atlas-map .colorbar").count() == 1
    shot(page, "loaded")


def test_a_box_drag_fills_the_cluster_panel(page, atlas):
    geometry = drag_box(page, 0.02, 0.02, 0.6, 0.98)
    expected = select(atlas, geometry).size
    assert 0 < expected < len(atlas)
    assert panel_count(page) == expected
    z = page.evaluate("() => document.querySelector('#sel-mean .js-plotly-plot').data[0].z")
    assert np.array(z).shape == atlas.descriptors.shape[1:]
    dims = page.evaluate(
        "() => document.querySelector('#sel-parcoords .js-plotly-plot').data[0].dimensions"
    )
    assert len(dims[0]["values"]) == expected
    assert [d["label"] for d in dims][-1] == atlas.column(atlas.parallel[-1]).label
    examples = page.evaluate(
        "() => document.querySelector('#sel-examples .js-plotly-plot').data.length"
    )
    assert examples == min(4, expected)
    shot(page, "selection")


def test_kept_selections_are_compared_side_by_side(page, atlas):
    drag_box(page, 0.02, 0.02, 0.5, 0.98)
    panel_count(page)
    page.click("#keep-selection")
    page.wait_for_selector("#compare-card-A")
    page.wait_for_function(f"() => document.querySelector('{MAP}').layout.shapes.length === 1")
    drag_box(page, 0.5, 0.02, 0.98, 0.98)
    panel_count(page)
    assert page.inner_text("#keep-selection") == "Keep as B"
    page.click("#keep-selection")
    page.wait_for_selector("#compare-card-B")
    labels = page.evaluate(
        f"() => document.querySelector('{MAP}').layout.annotations.map(a => a.text)"
    )
    assert labels == ["<b>A</b>", "<b>B</b>"]
    shot(page, "compare")


def test_colour_by_recolours_the_map(page, atlas):
    page.click("#color-by")
    page.get_by_role("option", name="init", exact=True).click()
    page.wait_for_function(
        f"() => document.querySelector('{MAP}')._fullLayout.legend.title.text === 'init'"
    )
    traces = page.evaluate(
        f"() => document.querySelector('{MAP}').data.filter(t => t.meta === 'models')"
        ".map(t => [t.name, t.marker.color, t.x.length])"
    )
    coloring = atlas.coloring("init")
    col = atlas.column("init")
    assert [t[0] for t in traces] == list(col.categories)
    assert [t[1] for t in traces] == list(coloring.colors)
    assert [t[2] for t in traces] == np.bincount(col.values, minlength=len(col.categories)).tolist()
    shot(page, "color_by_init")


def test_a_filter_greys_out_models_and_limits_selections(page, atlas):
    page.click("#filter-column")
    page.get_by_role("option", name="dataset", exact=True).click()
    page.click("#filter-values")
    page.get_by_role("option", name="digits", exact=True).click()
    page.keyboard.press("Escape")
    digits = int((atlas.column("dataset").decoded() == "digits").sum())
    page.wait_for_function(
        f"() => document.querySelector('#filter-count').textContent.startsWith('{digits} of')"
    )
    page.wait_for_function(f"() => ({COUNT_POINTS})('{MAP}') === {digits}")
    geometry = drag_box(page, 0.01, 0.01, 0.99, 0.99)
    assert (
        panel_count(page)
        == select(atlas, geometry, atlas.column("dataset").decoded() == "digits").size
    )
    shot(page, "filter")


def test_an_uploaded_checkpoint_is_placed_with_its_nearest_models(
    page, atlas, atlas_library, tmp_path
):
    model_id = int(atlas.ids[7])
    state = {
        k: torch.tensor(np.array(v)) for k, v in atlas_library.get(model_id).to_numpy().items()
    }
    path = tmp_path / "my_model.pt"
    torch.save(state, path)
    page.set_input_files("#upload-checkpoint input[type=file]", str(path))
    page.wait_for_selector("#nearest-table", timeout=60_000)
    first_row = page.locator("#nearest-table tbody tr").first.locator("td").all_inner_texts()
    assert first_row[:3] == ["1", str(model_id), "0.000"]
    assert "placed my_model.pt" in page.inner_text("#upload-status")
    placed = page.evaluate(
        f"() => document.querySelector('{MAP}').data.filter(t => t.meta === 'uploaded')"
        ".map(t => [t.text, t.x.length])"
    )
    assert placed == [[["my_model.pt"], 1]]
    shot(page, "upload")


def upload_error(page: Any, path: Path) -> str:
    """Upload ``path`` and return the one-line error shown (the map keeps its models)."""
    page.set_input_files("#upload-checkpoint input[type=file]", str(path))
    page.wait_for_selector("#upload-error", timeout=30_000)
    text: str = page.inner_text("#upload-error")
    assert page.locator("#nearest-table").count() == 0
    return text


def test_a_bad_upload_is_reported_by_its_name_not_the_server_path(page, tmp_path):
    path = tmp_path / "broken.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 200)
    text = upload_error(page, path)
    assert text.startswith("broken.h5: ")
    assert "/tmp" not in text
    assert "weightspace-upload-" not in text
    assert "\n" not in text
    shot(page, "upload_error")


def test_an_upload_over_the_weight_limit_is_refused_in_one_line(page, tmp_path):
    import h5py

    path = tmp_path / "bomb.h5"  # a Keras 2 file: one gzip-compressed kernel of 4 MB of zeros
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        group = f.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0"]
        group.create_dataset(
            "dense/kernel:0", data=np.zeros((1000, 1000), np.float32), compression="gzip"
        )
    assert path.stat().st_size < 100_000
    text = upload_error(page, path)
    assert text.startswith("bomb.h5: ")
    assert f"1,000,000 weights, over the limit of {MAX_WEIGHTS:,}" in text
    assert "\n" not in text


def test_an_hdf5_upload_reading_a_server_file_is_refused(page, tmp_path):
    import h5py

    path = tmp_path / "passwd.h5"  # its kernel's bytes are those of the server's /etc/passwd
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        group = f.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0"]
        group.create_dataset(
            "dense/kernel:0", shape=(4, 8), dtype="<f4", external=[("/etc/passwd", 0, 128)]
        )
    text = upload_error(page, path)
    assert text.startswith("passwd.h5: ")
    assert "\n" not in text


def test_a_page_reached_through_a_rebound_dns_name_is_refused(browser, server):
    port = server.url.rsplit(":", 1)[1]
    page = browser.new_page()
    response = page.goto(f"http://rebound.test:{port}/")
    assert response.status == 400
    assert "unexpected Host header 'rebound.test:" in page.inner_text("body")
    assert page.locator("#atlas-map").count() == 0
    page.close()


def test_the_exported_html_opens_from_a_file_without_a_server(browser, atlas, tmp_path):
    path = export_html(atlas, tmp_path / "atlas.html")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())
    page.wait_for_function(f"() => ({COUNT_POINTS})('#atlas-map') === {len(atlas)}", timeout=30_000)
    page.select_option("#color-by", "init")
    categories = list(atlas.column("init").categories)
    page.wait_for_function(
        f"() => document.querySelectorAll('#atlas-map .legend .traces').length === {len(categories)}"
    )
    legend = page.evaluate(
        "() => Array.from(document.querySelectorAll('#atlas-map .legend .traces .legendtext'))"
        ".map(e => e.textContent)"
    )
    assert legend == categories
    shot(page, "export")
    page.close()
    assert errors == []
