"""The architecture registry: names to factories (timm style), built-in families registered on use.

The built-in families (:mod:`~weightspace.zoo.architectures.nws`,
:mod:`~weightspace.zoo.architectures.schurholt`, :mod:`~weightspace.zoo.architectures.mlp`,
:mod:`~weightspace.zoo.architectures.plain`) are registered by :func:`_register_builtins`, which every
public function here calls first; importing a family module registers nothing.
"""

from __future__ import annotations

import difflib
import inspect
import threading
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from weightspace.zoo.architectures.base import ArchitectureError, ArchitectureFactory
from weightspace.zoo.architectures.mlp import mlp
from weightspace.zoo.architectures.nws import nws_cnn
from weightspace.zoo.architectures.plain import plain_cnn, plain_mlp
from weightspace.zoo.architectures.schurholt import schurholt_cnn, tetris_mlp

__all__ = [
    "architecture_parameters",
    "create_architecture",
    "list_architectures",
    "register_architecture",
]

_REGISTRY: dict[str, ArchitectureFactory] = {}
_BUILTINS_LOCK = threading.Lock()
_BUILTINS_DONE = threading.Event()


def _register_builtins() -> None:
    """Register the built-in families once (the first call of any registry function does it)."""
    if _BUILTINS_DONE.is_set():
        return
    with _BUILTINS_LOCK:
        if _BUILTINS_DONE.is_set():
            return
        for name, factory in (
            ("nws-cnn", nws_cnn),
            ("schurholt-cnn", schurholt_cnn),
            ("tetris-mlp", tetris_mlp),
            ("mlp", mlp),
            ("plain-mlp", plain_mlp),
            ("plain-cnn", plain_cnn),
        ):
            _add(name, factory, overwrite=False)
        _BUILTINS_DONE.set()


def register_architecture(
    name: str, factory: ArchitectureFactory, *, overwrite: bool = False
) -> ArchitectureFactory:
    """Register ``factory`` under ``name``; returns the factory.

    Parameters
    ----------
    name : str
        Registry name (lower case with hyphens by convention, e.g. ``"my-cnn"``).
    factory : callable
        ``factory(*, generator: torch.Generator, **kw) -> nn.Module``; it must draw every random
        number from ``generator``.
    overwrite : bool, default=False
        Replace an existing entry instead of raising.

    Examples
    --------
    >>> from torch import nn
    >>> from weightspace.zoo.architectures import register_architecture
    >>> def tiny(*, generator, width=2):
    ...     return nn.Linear(width, 1)
    >>> _ = register_architecture("doc-tiny", tiny, overwrite=True)
    """
    _register_builtins()
    return _add(name, factory, overwrite=overwrite)


def _add(name: str, factory: ArchitectureFactory, *, overwrite: bool) -> ArchitectureFactory:
    if not isinstance(name, str) or not name.strip():
        raise ArchitectureError(f"architecture name must be a non-empty string; got {name!r}")
    if not callable(factory):
        raise ArchitectureError(f"architecture {name!r}: factory must be callable; got {factory!r}")
    if name in _REGISTRY and not overwrite:
        raise ArchitectureError(
            f"architecture {name!r} is already registered; pass overwrite=True to replace it"
        )
    _REGISTRY[name] = factory
    return factory


def list_architectures() -> tuple[str, ...]:
    """Names of the registered architectures, sorted."""
    _register_builtins()
    return tuple(sorted(_REGISTRY))


def architecture_parameters(name: str) -> frozenset[str]:
    """The keyword parameters the factory of architecture ``name`` accepts.

    Examples
    --------
    >>> from weightspace.zoo.architectures import architecture_parameters
    >>> sorted(architecture_parameters("mlp"))[:3]
    ['activation', 'batch_norm', 'bias']
    """
    _register_builtins()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ArchitectureError(
            f"unknown architecture {name!r}; known: {', '.join(list_architectures())}"
        )
    return frozenset(inspect.signature(factory).parameters)


def create_architecture(
    name: str, *, seed: int | None = None, generator: torch.Generator | None = None, **kw: Any
) -> nn.Module:
    """Build a registered architecture with freshly initialized weights.

    Parameters
    ----------
    name : str
        A name from :func:`list_architectures`.
    seed : int, optional
        Seed of the initialization; the same seed gives bit-identical weights.
    generator : torch.Generator, optional
        A CPU generator to draw from instead of ``seed`` (it advances). With neither, a generator
        seeded from the operating system is used; the global torch RNG is never used.
    **kw
        The builder's own parameters (see the factory's docstring).

    Returns
    -------
    nn.Module
        For the built-in entries a :class:`SequentialNet` in train mode, on the CPU, float32.

    Examples
    --------
    >>> from weightspace.zoo.architectures import create_architecture
    >>> a = create_architecture("mlp", seed=3, in_features=4, hidden=(8,), n_classes=2)
    >>> b = create_architecture("mlp", seed=3, in_features=4, hidden=(8,), n_classes=2)
    >>> bool((a[1].weight == b[1].weight).all())
    True
    """
    _register_builtins()
    factory = _REGISTRY.get(name)
    if factory is None:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ArchitectureError(
            f"unknown architecture {name!r}{hint} Known: {', '.join(list_architectures())}"
        )
    if seed is not None and generator is not None:
        raise ArchitectureError(f"create_architecture({name!r}): pass seed or generator, not both")
    if generator is None:
        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ArchitectureError(
                    f"create_architecture({name!r}): seed must be a non-negative int; got {seed!r}"
                )
            generator.manual_seed(seed)
    _check_keywords(name, factory, kw)
    return factory(generator=generator, **kw)


def _check_keywords(name: str, factory: ArchitectureFactory, kw: Mapping[str, Any]) -> None:
    params = inspect.signature(factory).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if n != "generator" and p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise ArchitectureError(
            f"architecture {name!r}: unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}; accepted: {', '.join(accepted)}"
        )
