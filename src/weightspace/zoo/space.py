"""Hyper-parameter spaces: typed parameters, deterministic sampling, grids and a registry.

A :class:`HyperSpace` is an immutable, ordered set of named parameters of five kinds
(:class:`Choice`, :class:`Uniform`, :class:`LogUniform`, :class:`IntRange`, :class:`Fixed`).
``sample(n, rng)`` draws :class:`Config` records (every parameter in every record, the same records
for the same seed); ``grid()`` enumerates finite spaces. Spaces are registered by name (``nws``,
``nws-fixed``, ``schurholt-cnn``, ``tetris-mlp``, and the task zoos' ``htt-mlp``, ``htt-cnn``) or
read from a TOML or YAML file with :func:`load_space`.

This module is the registry and the built-in spaces; it re-exports the space values
(:mod:`weightspace.zoo.hyperspace`) and the file functions (:mod:`weightspace.zoo.space_files`),
which depend on the values only. The built-in spaces are registered by :func:`_register_builtins`,
which the registry functions call first.

File format (TOML; YAML has the same structure)::

    name = "small-mlp"
    architecture = "mlp"                 # optional: a registered architecture
    model_keys = ["activation"]          # optional: parameters passed to the architecture
    [params]
    seed = {kind = "int", low = 0, high = 1000}
    learning_rate = {kind = "log-uniform", low = 1e-4, high = 1e-2}
    activation = ["relu", "tanh"]        # a list is shorthand for a choice
    epochs = 20                          # a scalar is shorthand for a fixed value

Kinds: ``choice`` (``values``), ``uniform`` and ``log-uniform`` (``low``, ``high``), ``int``
(``low``, ``high``, optional ``step``; both ends included), ``fixed`` (``value``).

Examples
--------
>>> from weightspace.zoo.space import get_space
>>> space = get_space("schurholt-cnn")
>>> len(space.grid())
256
>>> space.sample(2, 0) == space.sample(2, 0)
True
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Sequence
from typing import Any

from weightspace.zoo.hyperspace import (
    Choice,
    Config,
    Fixed,
    HyperSpace,
    IntRange,
    LogUniform,
    Param,
    SpaceError,
    Uniform,
    as_param,
    space_error,
)
from weightspace.zoo.space_files import dump_space, load_space, space_from_dict

__all__ = [
    "NWS_DATASETS",
    "Choice",
    "Config",
    "Fixed",
    "HyperSpace",
    "IntRange",
    "LogUniform",
    "Param",
    "SpaceError",
    "Uniform",
    "as_param",
    "dump_space",
    "get_space",
    "list_spaces",
    "load_space",
    "register_space",
    "space_from_dict",
]

#: The five datasets of the NWS zoo (names as passed to the dataset registry).
NWS_DATASETS: tuple[str, ...] = ("mnist", "cifar10", "svhn", "stl10", "fashion-mnist")


SpaceFactory = Callable[..., HyperSpace]
_SPACES: dict[str, SpaceFactory] = {}
_BUILTINS_LOCK = threading.Lock()
_BUILTINS_DONE = threading.Event()


def register_space(
    name: str, factory: SpaceFactory | HyperSpace, *, overwrite: bool = False
) -> None:
    """Register a space, or a factory ``factory(**kw) -> HyperSpace``, under ``name``."""
    _register_builtins()
    _add(name, factory, overwrite=overwrite)


def _add(name: str, factory: SpaceFactory | HyperSpace, *, overwrite: bool) -> None:
    if not isinstance(name, str) or not name:
        raise SpaceError(f"space name must be a non-empty string; got {name!r}")
    if name in _SPACES and not overwrite:
        raise SpaceError(f"space {name!r} is already registered; pass overwrite=True to replace it")
    if isinstance(factory, HyperSpace):
        space = factory
        _SPACES[name] = lambda: space
    elif callable(factory):
        _SPACES[name] = factory
    else:
        raise SpaceError(f"space {name!r}: expected a HyperSpace or a factory; got {factory!r}")


def list_spaces() -> tuple[str, ...]:
    """Names of the registered spaces, sorted."""
    _register_builtins()
    return tuple(sorted(_SPACES))


def get_space(name: str, **kw: Any) -> HyperSpace:
    """The registered space ``name``; ``kw`` go to its factory (e.g. ``datasets=[...]``)."""
    _register_builtins()
    factory = _SPACES.get(name)
    if factory is None:
        close = difflib.get_close_matches(str(name), list(_SPACES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpaceError(f"unknown space {name!r}{hint} Known: {', '.join(list_spaces())}")
    return factory(**kw)


def _datasets(datasets: Sequence[str] | str) -> Param:
    names = (datasets,) if isinstance(datasets, str) else tuple(datasets)
    if not names or not all(isinstance(d, str) and d for d in names):
        raise space_error("space", "datasets", "a non-empty list of dataset names", datasets)
    return Choice(names)


def nws_space(*, datasets: Sequence[str] | str = NWS_DATASETS, fixed: bool = False) -> HyperSpace:
    """The NWS zoo space (Eilertsen et al., Table 1); ``fixed=True`` gives the fixed architecture.

    ``learning_rate`` is uniform in [0.0002, 0.005] with the intended x0.96 per-epoch decay recorded
    as ``lr_decay``; ``momentum`` (0.95) applies to ``sgd`` only; training length comes from early
    stopping. The architecture keys are those of the ``nws-cnn`` builder (``fc_layers`` counts the
    hidden FC layers).
    """
    arch: dict[str, Any] = {
        "filter_size": [3, 5, 7],
        "conv_layers": [3, 4, 5],
        "fc_layers": [2, 3, 4],
    }
    arch |= {"conv_width": [4, 8, 12], "fc_width": [64, 128, 192]}
    if fixed:
        arch = {
            "filter_size": 5,
            "conv_layers": 3,
            "fc_layers": 2,
            "conv_width": 8,
            "fc_width": 128,
        }
    params: dict[str, Any] = {
        "dataset": _datasets(datasets),
        "learning_rate": Uniform(0.0002, 0.005),
        "lr_decay": 0.96,
        "batch_size": [32, 64, 128, 256],
        "augmentation": [False, True],
        "optimizer": ["adam", "rmsprop", "sgd"],
        "momentum": 0.95,
        "activation": ["relu", "elu", "sigmoid", "tanh"],
        "init": ["constant", "normal", "glorot_uniform", "glorot_normal"],
        **arch,
        "dropout": 0.5,
        "batch_norm": True,
        "seed": IntRange(0, 2**31 - 1),
    }
    keys = ("activation", "init", *arch, "dropout")
    name = "nws-fixed" if fixed else "nws"
    return HyperSpace.create(name, params, architecture="nws-cnn", model_keys=keys)


def _schurholt_params(datasets: Sequence[str] | str) -> dict[str, Any]:
    return {
        "dataset": _datasets(datasets),
        "activation": ["tanh", "relu", "sigmoid", "gelu"],
        "dropout": [0.0, 0.5],
        "init": ["uniform", "normal", "kaiming_uniform", "kaiming_normal"],
        "optimizer": ["adam", "sgd"],
        "momentum": 0.9,
        "learning_rate": [1e-3, 1e-4],
        "weight_decay": [1e-3, 1e-4],
        "batch_size": 10,
        "epochs": 50,
        "seed": 1,
    }


def schurholt_space(*, datasets: Sequence[str] | str = ("mnist",)) -> HyperSpace:
    """The grid of Schürholt et al.'s CNN hyper-parameter zoos: 256 configs with one fixed seed.

    ``momentum`` (0.9) applies to ``sgd`` only. Several seeds: ``grid(seed=[1, 2, 3])``; random
    seeds: ``replace(seed=IntRange(1, 1000))``.
    """
    params = _schurholt_params(datasets)
    keys = ("activation", "dropout", "init")
    return HyperSpace.create("schurholt-cnn", params, architecture="schurholt-cnn", model_keys=keys)


def tetris_space(*, datasets: Sequence[str] | str = ("tetris",)) -> HyperSpace:
    """A grid for the Tetris MLP over the keys the Tetris-Hyp zoo varied (activation, init, dropout,
    learning rate, weight decay), with Adam; the values mirror the CNN grid (not given in the paper).
    """
    params = _schurholt_params(datasets) | {"optimizer": "adam"}
    del params["momentum"]
    keys = ("activation", "dropout", "init")
    return HyperSpace.create("tetris-mlp", params, architecture="tetris-mlp", model_keys=keys)


def _register_builtins() -> None:
    """Register the built-in spaces once: the paper zoos' here, the task zoos' of
    :mod:`weightspace.zoo.tasks` (imported here, on first use: it builds on torch)."""
    if _BUILTINS_DONE.is_set():
        return
    with _BUILTINS_LOCK:
        if _BUILTINS_DONE.is_set():
            return
        from weightspace.zoo.tasks import htt_space

        builtins: tuple[tuple[str, SpaceFactory], ...] = (
            ("nws", nws_space),
            ("nws-fixed", lambda **kw: nws_space(fixed=True, **kw)),
            ("schurholt-cnn", schurholt_space),
            ("tetris-mlp", tetris_space),
            ("htt-mlp", lambda **kw: htt_space(kind="mlp", **kw)),
            ("htt-cnn", lambda **kw: htt_space(kind="cnn", **kw)),
        )
        for name, factory in builtins:
            _add(name, factory, overwrite=False)
        _BUILTINS_DONE.set()
