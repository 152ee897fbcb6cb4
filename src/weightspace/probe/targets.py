"""Names of probe targets: one table of aliases, used by every probe's target resolution.

Zoos name the same hyper-parameter differently (``init``, ``initialization``, ``initializer``;
``learning_rate``, ``lr``). A target is looked up as given first; when the models have no such
column, as its canonical name (:data:`TARGET_ALIASES`), then as any column with the same canonical
name. So ``--target initializer`` finds the column ``init`` and ``--target init`` the column
``initialization``, in the SVM, DMC, linear and regression probes alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["TARGET_ALIASES", "canonical_target", "resolve_target"]

#: Other names of a target -> its canonical name.
TARGET_ALIASES: Mapping[str, str] = {
    "initialization": "init",
    "initializer": "init",
    "activation_function": "activation",
    "lr": "learning_rate",
}


def canonical_target(name: str) -> str:
    """The canonical name of a target (itself when it has no alias).

    Examples
    --------
    >>> canonical_target("initializer"), canonical_target("lr"), canonical_target("optimizer")
    ('init', 'learning_rate', 'optimizer')
    """
    return TARGET_ALIASES.get(name, name)


def resolve_target(columns: Iterable[object], target: str) -> str | None:
    """The column of ``columns`` that holds ``target``, or None when none does.

    ``target`` itself when it is a column; else its canonical name; else the first column with the
    same canonical name.

    Examples
    --------
    >>> resolve_target(["init", "optimizer"], "initializer")
    'init'
    >>> resolve_target(["initialization"], "init")
    'initialization'
    >>> resolve_target(["optimizer"], "init") is None
    True
    """
    names = [str(c) for c in columns]
    if target in names:
        return target
    canonical = canonical_target(target)
    if canonical in names:
        return canonical
    for name in names:
        if canonical_target(name) == canonical:
            return name
    return None
