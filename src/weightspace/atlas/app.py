"""The atlas web app (Dash): the map, filters, the cluster panel, kept selections, uploads.

The browser receives the atlas once, as ``Atlas.to_dict(descriptors=False)`` in a ``dcc.Store``
(the same dictionary the HTML export embeds), and draws the map with ``assets/atlas.js`` in
clientside callbacks: recolouring and filtering redraw without a server round trip. A box or lasso
selection sends only its geometry to the server, which summarizes the models inside (mean and
standard-deviation descriptors, examples, parallel coordinates, category shifts) with vectorized
code over the precomputed atlas. Every element has a stable id (see the layout below).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weightspace.atlas.export import ASSETS
from weightspace.atlas.hosts import HostCheck, install_host_check
from weightspace.atlas.layout import build_layout
from weightspace.atlas.model import Atlas
from weightspace.atlas.upload import DEFAULT_MAX_UPLOAD_BYTES, place, read_upload
from weightspace.atlas.views import (
    LETTERS,
    filters_of,
    render_compare,
    render_mask,
    render_placement,
    render_selection,
)
from weightspace.errors import WeightspaceError
from weightspace.io.limits import UPLOAD_MAX_WEIGHTS

if TYPE_CHECKING:
    import os

    from dash import Dash

__all__ = ["RunningServer", "SELECTION_OUTPUTS", "create_app", "serve", "start_server"]

_INSTALL = "the atlas web app needs dash: pip install dash (or pip install 'weightspace[atlas]')"
#: (component id, property) of the selection callback's outputs, in order.
SELECTION_OUTPUTS = (
    ("cluster-panel", "style"),
    ("cluster-hint", "style"),
    ("sel-title", "children"),
    ("sel-examples", "figure"),
    ("sel-mean", "figure"),
    ("sel-std", "figure"),
    ("sel-parcoords", "figure"),
    ("sel-categories", "figure"),
)


def _dash() -> Any:
    try:
        import dash
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return dash


def create_app(
    atlas: Atlas,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_weights: int | None = UPLOAD_MAX_WEIGHTS,
    upload_dir: str | os.PathLike[str] | None = None,
    color_by: str | None = None,
    host: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
) -> Dash:
    """The Dash app of an atlas.

    Parameters
    ----------
    atlas : Atlas
    max_upload_bytes : int, default=200 MiB
        Largest checkpoint accepted by the upload box (checked in the browser and on the server).
    max_weights : int or None, default=50,000,000
        Most weights an uploaded checkpoint may declare; larger ones are refused before their
        tensors are read (``None``: no limit).
    upload_dir : path, optional
        Where uploads' temporary folders are made (default: the system's temporary directory).
    color_by : str, optional
        The colouring shown first (default: the atlas's first).
    host : str, default="127.0.0.1"
        The address the app will be served on: requests whose ``Host`` header names anything else
        are refused with HTTP 400 (DNS rebinding; see :mod:`weightspace.atlas.hosts`).
    allowed_hosts : iterable of str, default=()
        Further host names to answer (a reverse proxy's): ``name`` (any port) or ``name:port``.

    Returns
    -------
    dash.Dash
        Serve it with :func:`serve` (or :func:`start_server` in a thread).
    """
    dash = _dash()
    from dash import ClientsideFunction, Input, Output, State

    host_check = HostCheck(host, allowed_hosts)
    if color_by is not None:
        atlas.coloring(color_by)
    app: Dash = dash.Dash(
        __name__,
        assets_folder=str(ASSETS),
        assets_ignore=r"^export",
        title=atlas.title,
        update_title=None,
        serve_locally=True,
    )
    # the largest request: a base64 upload (4/3 of the bytes) plus the callback's JSON around it
    app.server.config["MAX_CONTENT_LENGTH"] = max_upload_bytes * 4 // 3 + (1 << 20)
    install_host_check(app.server, host_check)
    app.layout = build_layout(atlas, max_upload_bytes=max_upload_bytes, color_by=color_by)
    filter_inputs = [
        Input("filter-column", "value"),
        Input("filter-values", "value"),
        Input("filter-accuracy", "value"),
    ]

    untyped: Any = app  # Dash's clientside_callback has no annotations
    untyped.clientside_callback(
        ClientsideFunction(namespace="weightspace", function_name="map_figure"),
        Output("atlas-map", "figure"),
        Input("atlas-data", "data"),
        Input("color-by", "value"),
        Input("filter-mask", "data"),
        Input("named-selections", "data"),
        Input("placed-models", "data"),
    )
    untyped.clientside_callback(
        ClientsideFunction(namespace="weightspace", function_name="selection_geometry"),
        Output("selection-geometry", "data"),
        Input("atlas-map", "selectedData"),
    )

    @app.callback(
        Output("filter-values", "options"),
        Output("filter-values", "value"),
        Input("filter-column", "value"),
        prevent_initial_call=True,
    )
    def _filter_options(column: str | None) -> tuple[list[str], list[str]]:
        if not column:
            return [], []
        return list(atlas.column(column).categories), []

    @app.callback(
        Output("filter-mask", "data"),
        Output("filter-count", "children"),
        *filter_inputs,
        prevent_initial_call=True,  # nothing is filtered at first: the map is drawn once
    )
    def _filter_mask(
        column: str | None, values: list[str] | None, accuracy: list[float] | None
    ) -> tuple[Any, str]:
        return render_mask(atlas, filters_of(atlas, column, values, accuracy))

    @app.callback(
        *[Output(i, p) for i, p in SELECTION_OUTPUTS],
        Input("selection-geometry", "data"),
        *filter_inputs,
        Input("pc-columns", "value"),
    )
    def _selection(
        geometry: Mapping[str, Any] | None,
        column: str | None,
        values: list[str] | None,
        accuracy: list[float] | None,
        parallel: list[str] | None,
    ) -> tuple[Any, ...]:
        return render_selection(
            atlas, geometry, filters_of(atlas, column, values, accuracy), parallel
        )

    @app.callback(
        Output("named-selections", "data"),
        Input("keep-selection", "n_clicks"),
        Input("clear-selections", "n_clicks"),
        State("selection-geometry", "data"),
        State("filter-column", "value"),
        State("filter-values", "value"),
        State("filter-accuracy", "value"),
        State("named-selections", "data"),
        prevent_initial_call=True,
    )
    def _keep(
        _keep: int | None,
        _clear: int | None,
        geometry: Mapping[str, Any] | None,
        column: str | None,
        values: list[str] | None,
        accuracy: list[float] | None,
        named: list[dict[str, Any]] | None,
    ) -> Any:
        if dash.ctx.triggered_id == "clear-selections":
            return []
        named = list(named or [])
        if not geometry or len(named) >= len(LETTERS):
            return dash.no_update
        filters = filters_of(atlas, column, values, accuracy)
        return [*named, {"name": LETTERS[len(named)], "geometry": geometry, "filters": filters}]

    @app.callback(
        Output("compare-panel", "children"),
        Output("keep-selection", "children"),
        Input("named-selections", "data"),
    )
    def _compare(named: list[dict[str, Any]] | None) -> tuple[list[Any], str]:
        named = list(named or [])
        label = f"Keep as {LETTERS[len(named)]}" if len(named) < len(LETTERS) else "Keep"
        return render_compare(atlas, named), label

    @app.callback(
        Output("placed-models", "data"),
        Output("upload-status", "children"),
        Output("upload-result", "children"),
        Output("upload-checkpoint", "contents"),
        Input("upload-checkpoint", "contents"),
        State("upload-checkpoint", "filename"),
        State("placed-models", "data"),
        prevent_initial_call=True,
    )
    def _upload(contents: str | None, filename: str | None, placed: list[Any] | None) -> Any:
        if not contents:
            return dash.no_update, dash.no_update, dash.no_update, dash.no_update
        try:
            placement = read_upload(
                contents,
                filename,
                lambda ws: place(atlas, str(filename or "upload"), ws),
                max_bytes=max_upload_bytes,
                max_weights=max_weights,
                tmp_root=upload_dir,
            )
        except (WeightspaceError, ImportError) as exc:
            # read_upload names the file as the client did, never by its temporary path
            status = dash.html.Span(str(exc), className="error", id="upload-error")
            return dash.no_update, status, dash.no_update, None
        x, y = placement.xy
        status = (
            f"placed {placement.name} ({placement.n_params:,} weights) at ({x:.2f}, {y:.2f}); "
            f"nearest model {int(atlas.ids[placement.neighbors[0]])}"
        )
        return (
            [*(placed or []), placement.to_dict()],
            status,
            render_placement(atlas, placement),
            None,
        )

    return app


# ---------------------------------------------------------------------------------- serving
def serve(atlas: Atlas, *, host: str = "127.0.0.1", port: int = 8050, **kwargs: Any) -> None:
    """Run the app until interrupted (``kwargs`` go to :func:`create_app`; ``host`` also does).

    An atlas whose embedding was not fitted in this process (read from JSON or from the library's
    cache) refits it in a background thread, so that the first upload does not wait for it.
    """
    app = create_app(atlas, host=host, **kwargs)
    threading.Thread(target=_warm_up, args=(atlas,), name="atlas-refit", daemon=True).start()
    app.run(host=host, port=port, debug=False)


def _warm_up(atlas: Atlas) -> None:
    # the upload callback calls it again and shows the error to the user
    with contextlib.suppress(WeightspaceError, ImportError):
        atlas.embedder()


@dataclass
class RunningServer:
    """A Dash app served from a background thread (see :func:`start_server`)."""

    url: str
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    app: Dash, *, host: str = "127.0.0.1", port: int = 0, quiet: bool = True
) -> RunningServer:
    """Serve ``app`` from a daemon thread (port 0: a free port); for tests and benchmarks.

    ``quiet`` leaves out the per-request log lines.
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    class _Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    handler = _Quiet if quiet else WSGIRequestHandler
    server = make_server(host, port, app.server, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, name="atlas-server", daemon=True)
    thread.start()
    return RunningServer(f"http://{host}:{server.server_port}", server, thread)
