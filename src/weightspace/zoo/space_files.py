"""Hyper-parameter spaces as files: TOML, YAML or JSON to :class:`HyperSpace` and back.

Builds on the space values of :mod:`weightspace.zoo.hyperspace` only (the registry,
:mod:`weightspace.zoo.space`, re-exports these functions); every error names the file, the key and
the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from weightspace.zoo.hyperspace import (
    PARAM_KINDS,
    HyperSpace,
    Param,
    SpaceError,
    as_param,
    is_finite_number,
    space_error,
)

__all__ = ["dump_space", "load_space", "space_from_dict"]


_TOP_KEYS = ("name", "description", "architecture", "model_keys", "params")


def space_from_dict(data: Any, *, source: str = "<dict>") -> HyperSpace:
    """Validate a parsed space file (see the module docstring) and build the space.

    Every error names ``source``, the key, what was expected, what was found and the fix.
    """
    if not isinstance(data, Mapping):
        raise space_error(source, "<top level>", "a table of keys", type(data).__name__)
    for key in data:
        if key not in _TOP_KEYS:
            raise space_error(
                source, str(key), f"one of {list(_TOP_KEYS)}", key, "remove or rename it"
            )
    for key in ("name", "params"):
        if key not in data:
            raise space_error(source, key, "a value", "<missing>", f"add a '{key}' key")
    name, params, description = data["name"], data["params"], data.get("description", "")
    if not isinstance(name, str) or not name:
        raise space_error(source, "name", "a non-empty string", name)
    if not isinstance(description, str):
        raise space_error(source, "description", "a string", description)
    if not isinstance(params, Mapping) or not params:
        raise space_error(source, "params", "a non-empty table of parameters", params)
    architecture = data.get("architecture")
    if architecture is not None:
        from weightspace.zoo.architectures import list_architectures

        known = list_architectures()
        if architecture not in known:
            close = difflib.get_close_matches(str(architecture), known, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"register it first; known: {known}"
            raise space_error(
                source, "architecture", "a registered architecture", architecture, fix
            )
    keys = data.get("model_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) and k in params for k in keys):
        raise space_error(source, "model_keys", f"a list of names among {list(params)}", keys)
    built = tuple((str(k), _param_from(v, source, f"params.{k}")) for k, v in params.items())
    return HyperSpace(name, built, architecture, tuple(keys), description)


def _param_from(spec: Any, source: str, key: str) -> Param:
    if not isinstance(spec, Mapping):
        return as_param(spec)
    kinds = sorted(PARAM_KINDS)
    if "kind" not in spec:
        raise space_error(source, f"{key}.kind", f"one of {kinds}", "<missing>", "add kind = ...")
    kind = spec["kind"]
    cls = PARAM_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = difflib.get_close_matches(str(kind), kinds, n=1)
        fix = (
            f"did you mean {close[0]!r}?"
            if close
            else "use choice, uniform, log-uniform, int or fixed"
        )
        raise space_error(source, f"{key}.kind", f"one of {kinds}", kind, fix)
    fields = dataclasses.fields(cls)
    allowed = ["kind", *(f.name for f in fields)]
    for extra in sorted(set(spec) - set(allowed)):
        raise space_error(
            source, f"{key}.{extra}", f"only {allowed} for kind {kind!r}", extra, "remove it"
        )
    for f in fields:
        if f.default is dataclasses.MISSING and f.name not in spec:
            raise space_error(
                source,
                f"{key}.{f.name}",
                f"a value for kind {kind!r}",
                "<missing>",
                f"add {f.name} = ...",
            )
    try:
        return cls(**{k: v for k, v in spec.items() if k != "kind"})
    except SpaceError as exc:  # "<kind>: <field>: expected ..." -> "<source>: <key>.<field>: ..."
        raise SpaceError(f"{source}: {key}.{str(exc).split(': ', 1)[-1]}") from None


def load_space(path: str | Path) -> HyperSpace:
    """Read a user-defined space from a ``.toml``, ``.yaml`` or ``.yml`` file.

    TOML is read with the standard library; YAML needs PyYAML (``pip install pyyaml``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from weightspace.zoo.space import load_space
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = path.write_text('name = "s"\\n[params]\\nlr = {kind = "uniform", low = 0.1, high = 0.2}\\n')
    >>> load_space(path).names
    ('lr',)
    """
    path = Path(path)
    suffix = _suffix(path)
    if not path.is_file():
        raise SpaceError(f"{path}: no such file; check the path")
    text = path.read_text(encoding="utf-8")
    if suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SpaceError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    else:
        yaml = _yaml(path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpaceError(f"{path}: not valid YAML ({exc}); fix the syntax") from None
    return space_from_dict(data, source=str(path))


def dump_space(space: HyperSpace, path: str | Path) -> Path:
    """Write ``space`` as TOML or YAML (by suffix); :func:`load_space` reads it back equal."""
    path = Path(path)
    data = space.to_dict()
    if _suffix(path) == ".toml":
        params = data.pop("params")
        text = "".join(f"{k} = {_toml(v)}\n" for k, v in data.items())
        text += "\n[params]\n" + "".join(
            f"{json.dumps(k)} = {_toml(v)}\n" for k, v in params.items()
        )
    else:
        text = _yaml(path).safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise space_error(
            str(path), "<file name>", "a .toml, .yaml or .yml file", path.suffix, "rename it"
        )
    return suffix


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_finite_number(value) or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
    raise SpaceError(
        f"cannot write {value!r} to TOML; use strings, finite numbers, booleans or lists"
    )


def _yaml(path: Path) -> Any:
    try:
        return importlib.import_module("yaml")
    except ImportError:
        raise SpaceError(
            f"{path}: YAML needs PyYAML, which is not installed; "
            "run `pip install pyyaml`, or write the space as TOML"
        ) from None
