"""The atlas in a Jupyter notebook: ``Atlas.display()``, ``_repr_html_`` and ``_repr_mimebundle_``.

The notebook output is the self-contained page of ``to_html`` inside an ``<iframe srcdoc>``; the
tests read the map data back out of it, publish it through a stand-in for ``IPython.display``
(IPython is not a dependency), check that ``nbformat``/``nbclient`` are never needed, and open the
frame in headless chromium when it is installed.
"""

from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
import tempfile
import types
from importlib.metadata import requires
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from weightspace.atlas import AtlasError
from weightspace.atlas._codec import decode_array

CHROMIUM = Path("/usr/bin/chromium")
#: Models drawn on the map (the traces of models, not the colour bar), read from plotly's data.
COUNT_POINTS = """() => {
    const gd = document.querySelector('#atlas-map');
    if (!gd || !gd.data) return -1;
    return gd.data.filter(t => t.meta === 'models').reduce((s, t) => s + t.x.length, 0);
}"""


def page_of(frame: str) -> str:
    match = re.fullmatch(r'<iframe srcdoc="([^"]*)" .*</iframe>', frame, re.S)
    assert match is not None
    return html.unescape(match.group(1))


def embedded(page: str, element: str) -> Any:
    match = re.search(f'<script type="application/json" id="{element}">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1).replace("<\\/", "</"))


@pytest.fixture
def published(monkeypatch) -> list[tuple[Any, dict[str, Any]]]:
    """A stand-in for ``IPython.display`` that records what is displayed."""
    calls: list[tuple[Any, dict[str, Any]]] = []
    module = types.ModuleType("IPython.display")
    module.display = lambda obj, **kw: calls.append((obj, kw))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", module)
    return calls


def test_the_notebook_frame_holds_the_whole_map(atlas):
    bundle = atlas._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    page = page_of(bundle["text/html"])
    data = embedded(page, "atlas-data")
    assert data["n"] == len(atlas)
    assert np.array_equal(decode_array(data["ids"]), atlas.ids)
    assert np.array_equal(decode_array(data["coords"]), atlas.coords)
    assert [c["name"] for c in data["columns"]] == list(atlas.column_names)
    assert re.search(r"<script[^>]+src=", page) is None  # plotly.js and the app inline
    assert "plotly.js v" in page


def test_display_publishes_the_frame_with_its_options(atlas, published):
    atlas.display(color_by="init", height=400)
    [(bundle, options)] = published
    assert options == {"raw": True}
    assert bundle["text/plain"] == repr(atlas)
    assert "height: 400px" in bundle["text/html"]
    page = page_of(bundle["text/html"])
    assert embedded(page, "atlas-options") == {"color_by": "init"}
    with pytest.raises(AtlasError, match="choose one of"):
        atlas.display(color_by="nope")
    with pytest.raises(AtlasError, match="height must be"):
        atlas.display(height=0)


def test_a_page_over_the_limit_is_replaced_by_how_to_open_it(atlas, published):
    frame = atlas._display_bundle(max_bytes=100_000)["text/html"]
    assert "<iframe" not in frame
    assert "more than the 0.1 MiB" in frame
    assert "export_html(atlas, 'atlas.html')" in frame
    assert "display(max_bytes=None)" in frame
    atlas.display(max_bytes=None)
    assert published[0][0]["text/html"].startswith("<iframe srcdoc=")
    with pytest.raises(AtlasError, match="max_bytes must be"):
        atlas.display(max_bytes=0)


def test_display_without_ipython_says_how_to_write_a_file(atlas, monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    monkeypatch.setitem(sys.modules, "IPython.display", None)
    with pytest.raises(ImportError, match=r"needs IPython.*export_html"):
        atlas.display()
    assert atlas._repr_html_().startswith("<iframe srcdoc=")  # the repr needs nothing


def test_nbformat_and_nbclient_are_not_needed(atlas, published, monkeypatch):
    for name in ("nbformat", "nbclient", "notebook", "ipykernel", "jupyter_client"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    assert atlas._repr_html_().startswith("<iframe srcdoc=")
    atlas.display()
    assert len(published) == 1
    needed = " ".join(requires("weightspace") or [])
    assert "nbformat" not in needed
    assert "nbclient" not in needed


@pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None or not CHROMIUM.exists(),
    reason="needs the playwright package and Debian's chromium at /usr/bin/chromium",
)
def test_the_notebook_frame_draws_every_model_in_a_browser(atlas, tmp_path):
    from playwright.sync_api import sync_playwright

    host = tmp_path / "notebook.html"
    host.write_text(f"<!doctype html><html><body>{atlas._repr_html_()}</body></html>")
    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="atlas-chromium-") as profile:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
            headless=True,
        )
        context.route(re.compile(r"^(?!file:|data:|blob:|about:).*"), lambda r: r.abort())
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(host.as_uri())
        frame = next(f for f in page.frames if f.url == "about:srcdoc")
        frame.wait_for_function(f"() => ({COUNT_POINTS})() === {len(atlas)}", timeout=30_000)
        count = frame.evaluate(COUNT_POINTS)
        context.close()
    assert count == len(atlas)
    assert errors == []
