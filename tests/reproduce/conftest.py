"""The probes' planted libraries, shared with the reproductions that run those probes."""

from ..probe.conftest import one_thread, planted, planted_map, task_zoo

__all__ = ["one_thread", "planted", "planted_map", "task_zoo"]
