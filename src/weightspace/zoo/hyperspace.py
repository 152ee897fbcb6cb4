"""Hyper-parameter spaces as values: typed parameters, configs and the immutable :class:`HyperSpace`.

The five parameter kinds (:class:`Choice`, :class:`Uniform`, :class:`LogUniform`,
:class:`IntRange`, :class:`Fixed`), the :class:`Config` records a space draws, and the space itself
(sampling, grids, validation, building its architecture). The registry of named spaces is
:mod:`weightspace.zoo.space` (which re-exports everything here); files are read and written by
:mod:`weightspace.zoo.space_files`.

Examples
--------
>>> from weightspace.zoo.hyperspace import HyperSpace
>>> space = HyperSpace.create("tiny", {"act": ["relu", "tanh"], "epochs": 3})
>>> [dict(c) for c in space.grid()]
[{'act': 'relu', 'epochs': 3}, {'act': 'tanh', 'epochs': 3}]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from weightspace.errors import WeightspaceError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "PARAM_KINDS",
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
    "is_finite_number",
    "space_error",
]


class SpaceError(WeightspaceError):
    """A hyper-parameter space, its file or a config does not validate."""


def space_error(where: str, key: str, expected: str, got: Any, fix: str = "") -> SpaceError:
    """The error ``"<where>: <key>: expected <expected>, got <got!r>[; <fix>]"``."""
    tail = f"; {fix}" if fix else ""
    return SpaceError(f"{where}: {key}: expected {expected}, got {got!r}{tail}")


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _frozen(value: Any) -> Any:
    """Lists to tuples, recursively (so that values are hashable and compare equal after a load)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (for TOML and YAML)."""
    return [_plain(v) for v in value] if isinstance(value, list | tuple) else value


# ------------------------------------------------------------------------------ parameters
@dataclass(frozen=True)
class Param:
    """Base of the parameter kinds: ``sample``, ``grid``, ``contains`` and ``to_dict``."""

    kind: ClassVar[str] = ""

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        """``n`` values drawn from ``rng`` (a list of length ``n``)."""
        raise NotImplementedError

    def grid(self) -> tuple[Any, ...] | None:
        """All values of a finite parameter; None for a continuous one."""
        return None

    def contains(self, value: Any) -> bool:
        """Whether ``value`` can be drawn."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """The file representation, e.g. ``{"kind": "uniform", "low": 0.0, "high": 1.0}``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is dataclasses.MISSING or value != f.default:
                out[f.name] = _plain(value)
        return out


@dataclass(frozen=True)
class Choice(Param):
    """One of a finite list of values, drawn uniformly: ``Choice(("relu", "tanh"))``."""

    values: tuple[Any, ...]
    kind: ClassVar[str] = "choice"

    def __post_init__(self) -> None:
        if not isinstance(self.values, list | tuple) or not self.values:
            raise space_error("choice", "values", "a non-empty list", self.values)
        object.__setattr__(self, "values", _frozen(self.values))

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        return [self.values[int(i)] for i in rng.integers(len(self.values), size=n)]

    def grid(self) -> tuple[Any, ...] | None:
        return self.values

    def contains(self, value: Any) -> bool:
        is_bool = isinstance(value, bool)  # True == 1, but a bool is not an int choice
        return any(value == v and is_bool == isinstance(v, bool) for v in self.values)


@dataclass(frozen=True)
class Uniform(Param):
    """A float drawn uniformly from ``[low, high]``."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        positive = self.kind == "log-uniform"
        for key, value in (("low", self.low), ("high", self.high)):
            if not is_finite_number(value):
                raise space_error(self.kind, key, "a finite number", value)
            if positive and value <= 0:
                raise space_error(self.kind, key, "a number > 0", value, "use 'uniform' to reach 0")
        if self.low > self.high:
            raise space_error(self.kind, "low", f"low <= high ({self.high})", self.low, "swap them")

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        return [float(v) for v in rng.uniform(self.low, self.high, size=n)]

    def contains(self, value: Any) -> bool:
        return is_finite_number(value) and self.low <= value <= self.high


@dataclass(frozen=True)
class LogUniform(Uniform):
    """A float whose logarithm is uniform in ``[log low, log high]`` (``0 < low <= high``)."""

    kind: ClassVar[str] = "log-uniform"

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        logs = rng.uniform(math.log(self.low), math.log(self.high), size=n)
        return [min(max(math.exp(float(v)), self.low), self.high) for v in logs]


@dataclass(frozen=True)
class IntRange(Param):
    """An int drawn uniformly from ``low, low + step, ...`` up to ``high`` (both ends included)."""

    low: int
    high: int
    step: int = 1
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        for key, value in (("low", self.low), ("high", self.high), ("step", self.step)):
            if not _is_int(value):
                raise space_error(self.kind, key, "an integer", value)
        if self.step < 1:
            raise space_error(self.kind, "step", "an integer >= 1", self.step)
        if self.low > self.high:
            raise space_error(self.kind, "low", f"low <= high ({self.high})", self.low, "swap them")

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        count = (self.high - self.low) // self.step + 1
        return [self.low + self.step * int(i) for i in rng.integers(count, size=n)]

    def grid(self) -> tuple[Any, ...] | None:
        return tuple(range(self.low, self.high + 1, self.step))

    def contains(self, value: Any) -> bool:
        in_range = _is_int(value) and self.low <= value <= self.high
        return in_range and (value - self.low) % self.step == 0


@dataclass(frozen=True)
class Fixed(Param):
    """A constant recorded in every config (a decay factor, a batch size)."""

    value: Any
    kind: ClassVar[str] = "fixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _frozen(self.value))

    def sample(self, rng: np.random.Generator, n: int) -> list[Any]:
        return [self.value] * n

    def grid(self) -> tuple[Any, ...] | None:
        return (self.value,)

    def contains(self, value: Any) -> bool:
        return bool(_frozen(value) == self.value)


#: The parameter kinds by the names a space file gives them (``kind = "..."``), aliases included.
PARAM_KINDS: Mapping[str, type[Param]] = MappingProxyType(
    {
        "choice": Choice,
        "uniform": Uniform,
        "log-uniform": LogUniform,
        "loguniform": LogUniform,
        "int": IntRange,
        "int-range": IntRange,
        "fixed": Fixed,
    }
)


def as_param(value: Any) -> Param:
    """Shorthand to a parameter: a Param stays, a list or tuple is a Choice, a range an IntRange,
    anything else a Fixed value.

    Examples
    --------
    >>> from weightspace.zoo.space import as_param
    >>> as_param([1, 2]), as_param(range(0, 10, 2)), as_param(0.5)
    (Choice(values=(1, 2)), IntRange(low=0, high=8, step=2), Fixed(value=0.5))
    """
    if isinstance(value, Param):
        return value
    if isinstance(value, range) and value and value.step > 0:
        return IntRange(value.start, value[-1], value.step)
    if isinstance(value, list | tuple | range):
        return Choice(tuple(value))
    return Fixed(value)


# ------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class Config(Mapping[str, Any]):
    """One hyper-parameter configuration: a read-only mapping ``name -> value``.

    Parameters
    ----------
    space : str
        Name of the space it was drawn from.
    architecture : str or None
        The registered architecture it builds, if the space names one.
    pairs : tuple of (str, value)
        Every parameter of the space, in the space's order.

    Examples
    --------
    >>> from weightspace.zoo.space import get_space
    >>> cfg = get_space("nws-fixed").sample(1, 0)[0]
    >>> cfg["filter_size"], cfg.architecture
    (5, 'nws-cnn')
    """

    space: str
    architecture: str | None
    pairs: tuple[tuple[str, Any], ...]

    def __getitem__(self, key: str) -> Any:
        for name, value in self.pairs:
            if name == key:
                return value
        raise KeyError(f"{key!r} is not a parameter of space {self.space!r}")

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def to_dict(self) -> dict[str, Any]:
        """``name -> value`` as a plain dict (JSON-serializable for the built-in spaces)."""
        return dict(self.pairs)


# ------------------------------------------------------------------------------ spaces
@dataclass(frozen=True)
class HyperSpace:
    """An immutable, ordered hyper-parameter space.

    Parameters
    ----------
    name : str
    params : tuple of (str, Param)
        :meth:`create` builds them from a mapping with shorthand values.
    architecture : str, optional
        A registered architecture that the configs build (:meth:`create_model`).
    model_keys : tuple of str, default=()
        The parameters passed to the architecture as keywords.
    description : str, default=""

    Examples
    --------
    >>> from weightspace.zoo.space import HyperSpace, LogUniform
    >>> space = HyperSpace.create("tiny", {"lr": LogUniform(1e-4, 1e-2), "act": ["relu", "tanh"]})
    >>> [sorted(c) for c in space.sample(2, rng=0)]
    [['act', 'lr'], ['act', 'lr']]
    """

    name: str
    params: tuple[tuple[str, Param], ...]
    architecture: str | None = None
    model_keys: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        where = f"space {self.name!r}"
        names = [n for n, _ in self.params]
        if len(set(names)) != len(names):
            raise space_error(where, "params", "unique names", names)
        for n, p in self.params:
            if not isinstance(n, str) or not n or not isinstance(p, Param):
                raise space_error(where, str(n), "a non-empty name and a Param", p, "see as_param")
        if not set(self.model_keys) <= set(names):
            raise space_error(where, "model_keys", f"names among {names}", self.model_keys)

    @classmethod
    def create(
        cls,
        name: str,
        params: Mapping[str, Any],
        *,
        architecture: str | None = None,
        model_keys: Sequence[str] = (),
        description: str = "",
    ) -> HyperSpace:
        """Build a space from ``name -> Param`` (lists, ranges and scalars are shorthand)."""
        pairs = tuple((k, as_param(v)) for k, v in params.items())
        return cls(name, pairs, architecture, tuple(model_keys), description)

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in order."""
        return tuple(n for n, _ in self.params)

    def __getitem__(self, name: str) -> Param:
        for n, p in self.params:
            if n == name:
                return p
        raise KeyError(f"{name!r} is not a parameter of space {self.name!r}; known: {self.names}")

    def replace(self, **params: Any) -> HyperSpace:
        """A copy with parameters replaced (or appended); shorthand values allowed."""
        current = dict(self.params) | {k: as_param(v) for k, v in params.items()}
        return dataclasses.replace(self, params=tuple(current.items()))

    def sample(self, n: int, rng: np.random.Generator | int | None = None) -> list[Config]:
        """Draw ``n`` configs; the same seed gives the same configs.

        Parameters
        ----------
        n : int
            Number of configs (>= 0).
        rng : numpy.random.Generator or int, optional
            An int seeds ``np.random.default_rng``; parameters are drawn in order, ``n`` at a time.

        Returns
        -------
        list of Config
            ``n`` records, each with every parameter.
        """
        if not _is_int(n) or n < 0:
            raise space_error(f"space {self.name!r}", "n", "an integer >= 0", n)
        gen = np.random.default_rng(rng)
        columns = [p.sample(gen, n) for _, p in self.params]
        return [self._config([col[i] for col in columns]) for i in range(n)]

    def grid(self, **overrides: Any) -> list[Config]:
        """Every combination of the (finite) parameters, the first one varying slowest.

        ``overrides`` replace parameters first, e.g. ``grid(seed=[1, 2, 3])``.
        """
        space = self.replace(**overrides) if overrides else self
        axes = []
        for n, p in space.params:
            values = p.grid()
            if values is None:
                fix = f"give values, e.g. grid({n}=[...]), or use sample()"
                raise space_error(f"space {self.name!r}", n, "a finite parameter", p.kind, fix)
            axes.append(values)
        return [space._config(combo) for combo in itertools.product(*axes)]

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`SpaceError` unless ``config`` has every parameter and only those, each in range."""
        where = f"space {self.name!r}"
        for n, p in self.params:
            if n not in config:
                raise space_error(where, n, "a value", "<missing>")
            if not p.contains(config[n]):
                raise space_error(where, n, f"a value of {p.to_dict()}", config[n])
        extra = sorted(set(config) - set(self.names))
        if extra:
            raise space_error(where, "config", f"only {list(self.names)}", extra)

    def model_kwargs(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config's values of :attr:`model_keys`, as keywords for the architecture."""
        return {k: config[k] for k in self.model_keys}

    def create_model(self, config: Mapping[str, Any], **kw: Any) -> nn.Module:
        """Build :attr:`architecture` for ``config``, seeded by its ``seed`` if it has one."""
        from weightspace.zoo.architectures import create_architecture

        if self.architecture is None:
            raise SpaceError(f"space {self.name!r} names no architecture; set architecture=...")
        kwargs = self.model_kwargs(config) | kw
        return create_architecture(self.architecture, seed=config.get("seed"), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """The file representation (see :func:`dump_space` and :func:`space_from_dict`)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.architecture is not None:
            out["architecture"] = self.architecture
        if self.model_keys:
            out["model_keys"] = list(self.model_keys)
        out["params"] = {n: p.to_dict() for n, p in self.params}
        return out

    def _config(self, values: Sequence[Any]) -> Config:
        return Config(self.name, self.architecture, tuple(zip(self.names, values, strict=True)))
