"""Progress bars (tqdm) that show only where someone can see them: a terminal or a notebook.

A bar written to a log file or a pipe is noise (and, with an error, hides the one error line), so
:func:`progress_bar` disables tqdm's text bar when stderr is not a terminal (tqdm's
``disable=None``), while keeping the widget bar of a notebook.
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(iterable: Any = None, *, enabled: bool = True, **kwargs: Any) -> Any:
    """A ``tqdm.auto`` bar, disabled unless ``enabled`` and shown on a terminal or in a notebook.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over (as ``tqdm(iterable)``).
    enabled : bool, default=True
        ``False`` disables the bar everywhere.
    **kwargs
        Passed to tqdm (``total``, ``desc``, ``unit``...).
    """
    from tqdm.auto import tqdm

    in_notebook = any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__)
    disable = True if not enabled else (False if in_notebook else None)
    return tqdm(iterable, disable=disable, **kwargs)
