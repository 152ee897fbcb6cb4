"""Look at a pickle without loading it: is it a pickle at all, and which globals does it name?

:func:`scan_pickle` walks the opcodes with :func:`pickletools.genops`, which decodes them and never
executes anything. The torch reader uses it to tell text, HTML or random bytes saved as ``.pt``
(not a checkpoint) from a real pickle that needs code to load (refused as unsafe).
"""

from __future__ import annotations

import pickletools
from collections import deque
from typing import IO

__all__ = ["scan_pickle"]

_TEXT_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING"})


def scan_pickle(stream: IO[bytes]) -> list[str]:
    """Walk one pickle's opcodes (nothing is executed); return the globals it references.

    Parameters
    ----------
    stream : binary file
        Positioned at the start of a pickle; it is left just after the pickle's ``STOP``.

    Returns
    -------
    list of str
        ``module.name`` of every ``GLOBAL``, ``INST`` and ``STACK_GLOBAL`` in order.

    Raises
    ------
    ValueError
        The bytes are not a complete, valid pickle.

    Examples
    --------
    >>> import io, pickle, collections
    >>> scan_pickle(io.BytesIO(pickle.dumps(collections.OrderedDict(), protocol=2)))
    ['collections.OrderedDict']
    >>> scan_pickle(io.BytesIO(b"<html>"))
    Traceback (most recent call last):
    ...
    ValueError: at position 0, opcode b'<' unknown
    """
    found: list[str] = []
    last_text: deque[str] = deque(maxlen=2)
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            name = opcode.name
            if name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif name == "STACK_GLOBAL":
                found.append(".".join(last_text) if len(last_text) == 2 else "an object")
            elif name in _TEXT_OPS and isinstance(arg, str):
                last_text.append(arg)
    except Exception as exc:  # genops raises ValueError mostly, but any failure means "not valid"
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(detail) from None
    return found
