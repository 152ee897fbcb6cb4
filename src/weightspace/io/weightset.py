"""The weights of one model: ordered, named tensors with a role and a layer.

A :class:`WeightSet` is what every reader produces and what everything downstream consumes. It is
immutable: the arrays inside are read-only (often zero-copy views of a memory-mapped file), and every
selection returns a new WeightSet that shares them.

Conventions
-----------
- Floating-point tensors are float32 (fp16, bf16 and float64 are converted when read). Integer and
  boolean tensors (``num_batches_tracked``, quantization indices) keep their dtype, get the role
  ``other`` and never enter :meth:`WeightSet.vector`.
- Kernels use the PyTorch layout: ``(out, in, *spatial)`` for convolutions and ``(out, in)`` for dense
  layers. Readers of other conventions (Keras ``(..., in, out)``, ONNX ``MatMul``) transpose.
- The canonical vector is the NWS order: layer by layer in file order, and within a layer the roles in
  the order of :data:`ROLES` (kernel, bias, BN gamma, beta, running mean, running variance, then other
  floating-point tensors), each tensor flattened in C order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt

from weightspace.errors import WeightspaceError

__all__ = ["ROLES", "Role", "WeightSet", "WeightTensor"]

Role = Literal["kernel", "bias", "bn_gamma", "bn_beta", "bn_mean", "bn_var", "other"]

#: The roles in their canonical order inside a layer.
ROLES: tuple[Role, ...] = ("kernel", "bias", "bn_gamma", "bn_beta", "bn_mean", "bn_var", "other")
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def _readonly(array: npt.ArrayLike) -> np.ndarray:
    out = np.asarray(array)
    if out.flags.writeable:
        out = out.view()
        out.flags.writeable = False
    return out


@dataclass(frozen=True)
class WeightTensor:
    """One named tensor of a model.

    Parameters
    ----------
    name : str
        The tensor's name as in its source (``"features.0.weight"``, ``"dense/kernel"``).
    layer : str
        The layer it belongs to (``"features.0"``); tensors of one layer are contiguous in the vector.
    role : {"kernel", "bias", "bn_gamma", "bn_beta", "bn_mean", "bn_var", "other"}
        What the tensor is for.
    array : numpy.ndarray
        The values; made read-only. Floating-point tensors are float32.
    """

    name: str
    layer: str
    role: Role
    array: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if self.role not in _ROLE_RANK:
            raise WeightspaceError(
                f"tensor {self.name!r}: role must be one of {', '.join(ROLES)}; got {self.role!r}"
            )
        object.__setattr__(self, "array", _readonly(self.array))

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the tensor."""
        return tuple(int(n) for n in self.array.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(self.array.size)

    @property
    def is_float(self) -> bool:
        """Whether the tensor is floating-point (and so part of the canonical vector)."""
        return self.array.dtype.kind == "f"

    def __repr__(self) -> str:
        return (
            f"WeightTensor({self.name!r}, layer={self.layer!r}, role={self.role!r}, "
            f"shape={self.shape}, dtype={self.array.dtype})"
        )


@dataclass(frozen=True)
class WeightSet:
    """The weights of one model (one snapshot), in canonical NWS order.

    Build one with :func:`weightspace.load_weights` or :meth:`WeightSet.from_tensors`; the
    constructor takes tensors already in canonical order and checks it.

    Parameters
    ----------
    tensors : tuple of WeightTensor
        The tensors, grouped by layer, roles in canonical order within a layer.
    source : str, default=""
        Where the weights came from (a path, ``"nn.Module"``...), for messages and provenance.

    Examples
    --------
    >>> import numpy as np
    >>> from weightspace import WeightSet
    >>> ws = WeightSet.from_arrays({"fc.weight": np.ones((2, 3)), "fc.bias": np.zeros(2)})
    >>> ws.vector().shape
    (8,)
    >>> ws.layers
    ('fc',)
    """

    tensors: tuple[WeightTensor, ...]
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tensors", tuple(self.tensors))
        names = [t.name for t in self.tensors]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise WeightspaceError(f"{self.source or 'WeightSet'}: duplicate tensor names {dup}")
        seen: set[str] = set()
        previous: WeightTensor | None = None
        for t in self.tensors:
            if previous is not None and t.layer == previous.layer:
                if _ROLE_RANK[t.role] < _ROLE_RANK[previous.role]:
                    raise WeightspaceError(
                        f"{self.source or 'WeightSet'}: tensor {t.name!r} ({t.role}) comes after "
                        f"{previous.name!r} ({previous.role}); use WeightSet.from_tensors to order them"
                    )
            elif t.layer in seen:
                raise WeightspaceError(
                    f"{self.source or 'WeightSet'}: layer {t.layer!r} is not contiguous; "
                    "use WeightSet.from_tensors to group tensors by layer"
                )
            seen.add(t.layer)
            previous = t

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_tensors(cls, tensors: Iterable[WeightTensor], *, source: str = "") -> WeightSet:
        """Order tensors canonically: layers by first appearance, roles by :data:`ROLES`.

        The sort is stable, so tensors of the same role keep their order.
        """
        items = list(tensors)
        first: dict[str, int] = {}
        for i, t in enumerate(items):
            first.setdefault(t.layer, i)
        order = sorted(
            range(len(items)),
            key=lambda i: (first[items[i].layer], _ROLE_RANK[items[i].role], i),
        )
        return cls(tuple(items[i] for i in order), source=source)

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, npt.ArrayLike], *, source: str = "<arrays>"
    ) -> WeightSet:
        """Build a WeightSet from a name -> array mapping, inferring layers and roles from names."""
        from weightspace.io.naming import assign_roles

        return assign_roles({k: np.asarray(v) for k, v in arrays.items()}, source=source)

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return len(self.tensors)

    def __iter__(self) -> Iterator[WeightTensor]:
        return iter(self.tensors)

    def __getitem__(self, name: str) -> WeightTensor:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no tensor named {name!r} in {self.source or 'WeightSet'}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    @cached_property
    def _by_name(self) -> dict[str, WeightTensor]:
        return {t.name: t for t in self.tensors}

    @property
    def names(self) -> tuple[str, ...]:
        """Tensor names in canonical order."""
        return tuple(t.name for t in self.tensors)

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer names in canonical order."""
        return tuple(dict.fromkeys(t.layer for t in self.tensors))

    @cached_property
    def float_tensors(self) -> tuple[WeightTensor, ...]:
        """The tensors that make up the canonical vector."""
        return tuple(t for t in self.tensors if t.is_float)

    @cached_property
    def n_params(self) -> int:
        """Length of the canonical vector (number of floating-point weights)."""
        return sum(t.size for t in self.float_tensors)

    @cached_property
    def offsets(self) -> dict[str, tuple[int, int]]:
        """``name -> (offset, length)`` of each floating-point tensor in the canonical vector."""
        out: dict[str, tuple[int, int]] = {}
        position = 0
        for t in self.float_tensors:
            out[t.name] = (position, t.size)
            position += t.size
        return out

    def structure(self) -> tuple[tuple[str, str, str, tuple[int, ...], str], ...]:
        """``(name, layer, role, shape, dtype)`` of each tensor: equal for same-architecture models."""
        return tuple((t.name, t.layer, t.role, t.shape, str(t.array.dtype)) for t in self.tensors)

    # ------------------------------------------------------------------ slicing
    def select(
        self,
        *,
        layers: str | Sequence[str] | None = None,
        roles: Role | Sequence[Role] | None = None,
    ) -> WeightSet:
        """The tensors of the given layers and/or roles, as a new WeightSet sharing the arrays.

        Examples
        --------
        >>> import numpy as np
        >>> from weightspace import WeightSet
        >>> ws = WeightSet.from_arrays({"a.weight": np.ones((2, 2)), "a.bias": np.ones(2)})
        >>> ws.select(roles="kernel").names
        ('a.weight',)
        """
        layer_set = _as_set(layers, self.layers, "layer")
        role_set = _as_set(roles, ROLES, "role")
        kept = tuple(
            t
            for t in self.tensors
            if (layer_set is None or t.layer in layer_set)
            and (role_set is None or t.role in role_set)
        )
        return WeightSet(kept, source=self.source)

    def layer(self, name: str) -> WeightSet:
        """The tensors of one layer."""
        return self.select(layers=name)

    # ------------------------------------------------------------------ vectors
    def vector(self) -> np.ndarray:
        """The canonical float32 vector (NWS order), shape ``(n_params,)``.

        A WeightSet of exactly one floating-point tensor returns a read-only flat view of it
        (no copy); otherwise the tensors are concatenated into a new array.
        """
        floats = self.float_tensors
        if len(floats) == 1 and floats[0].array.dtype == np.float32:
            return floats[0].array.reshape(-1)
        out = np.empty(self.n_params, dtype=np.float32)
        for t in floats:
            start, length = self.offsets[t.name]
            out[start : start + length] = t.array.reshape(-1)
        out.flags.writeable = False
        return out

    def to_numpy(self) -> dict[str, np.ndarray]:
        """``name -> array`` of every tensor, in canonical order (read-only arrays)."""
        return {t.name: t.array for t in self.tensors}

    def with_vector(self, vector: npt.ArrayLike, *, source: str | None = None) -> WeightSet:
        """The same structure with floating-point values taken from a canonical vector."""
        flat = np.asarray(vector, dtype=np.float32).reshape(-1)
        if flat.shape[0] != self.n_params:
            raise WeightspaceError(
                f"vector has {flat.shape[0]} values; {self.source or 'this WeightSet'} "
                f"needs {self.n_params}"
            )
        tensors = []
        for t in self.tensors:
            if t.is_float:
                start, length = self.offsets[t.name]
                array = flat[start : start + length].reshape(t.shape)
                tensors.append(WeightTensor(t.name, t.layer, t.role, array))
            else:
                tensors.append(t)
        return WeightSet(tuple(tensors), source=self.source if source is None else source)

    def summary(self) -> str:
        """A short text of the architecture: one ``layer:shape`` item per kernel."""
        parts = []
        for t in self.tensors:
            if t.role == "kernel":
                parts.append(f"{t.layer or t.name}:{'x'.join(str(n) for n in t.shape)}")
        if not parts:
            parts = [f"{len(self.tensors)} tensors"]
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"WeightSet({len(self.tensors)} tensors, {len(self.layers)} layers, "
            f"n_params={self.n_params}, source={self.source!r})"
        )


def _as_set(value: str | Sequence[str] | None, known: Sequence[str], what: str) -> set[str] | None:
    if value is None:
        return None
    wanted = {value} if isinstance(value, str) else set(value)
    unknown = sorted(wanted - set(known))
    if unknown:
        raise WeightspaceError(
            f"unknown {what}{'s' if len(unknown) > 1 else ''} {unknown}; known: {list(known)}"
        )
    return wanted
