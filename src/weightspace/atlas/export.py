"""The atlas as one self-contained HTML file: map, colouring, hover and legend; no server, no network.

The page is ``assets/export.html`` with its placeholders filled in one pass: the atlas dictionary
(:meth:`Atlas.to_dict` without descriptors), plotly.js from the plotly package's bundled
``plotly.min.js``, and the front-end files ``assets/atlas.js`` (the map figure, shared with the Dash
app) and ``assets/export.js`` (the page's bootstrap). No JavaScript is written from Python.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from weightspace._version import __version__
from weightspace.atlas.model import AtlasError

if TYPE_CHECKING:
    from weightspace.atlas.model import Atlas

__all__ = ["ASSETS", "describe", "export_html", "plotly_js", "to_html", "to_iframe"]

#: The folder of the front-end files (JavaScript, CSS, the HTML template).
ASSETS = Path(__file__).with_name("assets")
_PLACEHOLDER = re.compile(r"__([A-Z_]+)__")


def plotly_js() -> str:
    """plotly.js (minified) as bundled with the plotly Python package (read offline)."""
    try:
        ref = resources.files("plotly") / "package_data" / "plotly.min.js"
        return ref.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ImportError(
            "the HTML export inlines plotly.js from the plotly package: pip install plotly "
            "(or pip install 'weightspace[atlas]')"
        ) from exc


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _json_safe(text: str) -> str:
    """JSON that cannot close its <script> element early (``</`` becomes the escape ``<\\/``)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def _js_safe(text: str) -> str:
    """JavaScript that cannot close its <script> element early (only ``</script`` is rewritten,
    inside strings, where ``<\\/`` reads as ``</``)."""
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)


def describe(atlas: Atlas) -> str:
    """One line: models, representation and embedding (shown under the map's title)."""
    rep = dict(atlas.representation)
    params = rep.get("params", {}) if isinstance(rep.get("params"), dict) else {}
    name = str(rep.get("name", "descriptors"))
    if name == "miwd":
        name = f"MI-WD {params.get('S', '?')}×{params.get('B', '?')}"
    emb = dict(atlas.embedding)
    method = str(emb.get("method", "umap")).upper()
    detail = ", ".join(
        f"{k.replace('_', ' ')} {emb[k]}"
        for k in ("n_neighbors", "min_dist", "metric", "pca_components", "random_state")
        if emb.get(k) is not None
    )
    return f"{len(atlas):,} models · {name} · {method}" + (f" ({detail})" if detail else "")


def to_html(atlas: Atlas, *, color_by: str | None = None, height: str = "100vh") -> str:
    """The atlas as a self-contained HTML page.

    Parameters
    ----------
    atlas : Atlas
    color_by : str, optional
        The colouring shown first (default: the atlas's first, the normalized accuracy).
    height : str, default="100vh"
        CSS height of the map area.

    Returns
    -------
    str
        The page: it opens from a file with no server and no network.
    """
    if color_by is not None:
        atlas.coloring(color_by)  # a clear error for an unknown column
    if not re.fullmatch(r"[0-9.]+(px|vh|%|em|rem)", height):
        raise AtlasError(f"height must be a CSS length such as '600px' or '100vh'; got {height!r}")
    data = json.dumps(atlas.to_dict(descriptors=False), allow_nan=False, separators=(",", ":"))
    values = {
        "VERSION": html.escape(__version__),
        "TITLE": html.escape(atlas.title),
        "INFO": html.escape(describe(atlas)),
        "HEIGHT": height,
        "CSS": _asset("export.css"),
        "DATA": _json_safe(data),
        "OPTIONS": _json_safe(json.dumps({"color_by": color_by})),
        "PLOTLY": _js_safe(plotly_js()),
        "ATLAS_JS": _js_safe(_asset("atlas.js")),
        "EXPORT_JS": _js_safe(_asset("export.js")),
    }
    template = _asset("export.html")
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def export_html(atlas: Atlas, path: str | os.PathLike[str], *, color_by: str | None = None) -> Path:
    """Write :func:`to_html` to ``path`` (atomically); return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(to_html(atlas, color_by=color_by), encoding="utf-8")
    tmp.replace(target)
    return target


def to_iframe(atlas: Atlas, *, height: int = 560, color_by: str | None = None) -> str:
    """The page of :func:`to_html` in an ``<iframe srcdoc>`` (for Jupyter: scripts stay isolated)."""
    page = to_html(atlas, color_by=color_by, height="100%")
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" '
        f'style="width: 100%; height: {int(height)}px; border: 1px solid #ddd;" '
        'sandbox="allow-scripts" title="weightspace atlas"></iframe>'
    )
