"""``--engine local|ray`` and ``--address``, shared by the commands that can run on Ray."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from weightspace.errors import WeightspaceError

__all__ = ["add_engine_arguments", "engine_runtime"]


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine`` and ``--address`` to a sub-command."""
    parser.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: processes of this machine (default); ray: tasks on a Ray cluster "
        "(pip install 'weightspace[ray]')",
    )
    parser.add_argument(
        "--address",
        help="with --engine ray: the cluster's head (HOST:PORT, or auto; default RAY_ADDRESS); "
        "without one a local Ray runtime is started for this command",
    )


@contextmanager
def engine_runtime(args: argparse.Namespace, *, num_cpus: int | None = None) -> Iterator[Any]:
    """For ``--engine ray``: the Ray runtime of this command (joined or started, then left or
    stopped); nothing for the local engine."""
    if args.engine != "ray":
        if args.address:
            raise WeightspaceError("--address joins a Ray cluster; add --engine ray")
        yield None
        return
    from weightspace.ray_runtime import ray_runtime

    with ray_runtime(args.address, num_cpus=num_cpus) as ray:
        yield ray
