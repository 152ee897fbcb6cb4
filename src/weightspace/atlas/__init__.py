"""The model atlas: a map of a library's models, its cluster summaries, and three renderers.

:func:`build_atlas` describes every model (MI-WD of the last snapshot by default), embeds the
descriptors with a seeded UMAP and gathers hyper-parameters and accuracies into an :class:`Atlas`,
one serializable object (JSON) that every renderer draws: the Dash web app (:func:`create_app`,
``weightspace atlas serve``), a self-contained HTML file (:func:`export_html`,
``weightspace atlas export``) and matplotlib figures (:func:`plot_atlas`, :func:`plot_selection`).
Selections on the map are summarized by :func:`summarize` (Eilertsen et al. 2024, Figs. 1 and 5).

The web app needs ``dash`` and the embedding ``umap-learn``; both are imported only when used.

Examples
--------
Map a library of your own (skipped in the doctests: there is no ``my-library`` there):

>>> from weightspace.atlas import build_atlas, export_html  # doctest: +SKIP
>>> atlas = build_atlas("my-library")  # doctest: +SKIP
>>> export_html(atlas, "atlas.html")  # doctest: +SKIP
"""

from weightspace.atlas.app import RunningServer, create_app, serve, start_server
from weightspace.atlas.build import build_atlas
from weightspace.atlas.colors import categorical_palette, normalized_accuracy
from weightspace.atlas.embed import AtlasEmbedding
from weightspace.atlas.export import export_html, to_html
from weightspace.atlas.figures import plot_atlas, plot_selection
from weightspace.atlas.model import Atlas, AtlasError, Coloring, Column
from weightspace.atlas.summary import (
    CategoryShift,
    SelectionSummary,
    filter_mask,
    select,
    summarize,
)
from weightspace.atlas.upload import Placement, UploadError, place, read_upload

__all__ = [
    "Atlas",
    "AtlasEmbedding",
    "AtlasError",
    "CategoryShift",
    "Coloring",
    "Column",
    "Placement",
    "RunningServer",
    "SelectionSummary",
    "UploadError",
    "build_atlas",
    "categorical_palette",
    "create_app",
    "export_html",
    "filter_mask",
    "normalized_accuracy",
    "place",
    "plot_atlas",
    "plot_selection",
    "read_upload",
    "select",
    "serve",
    "start_server",
    "summarize",
    "to_html",
]
