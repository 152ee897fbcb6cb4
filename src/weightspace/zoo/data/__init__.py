"""Dataset internals: the record types, embedded and generated sets, on-disk formats, the registry.

The public names are re-exported by :mod:`weightspace.zoo.datasets`; this layout may change.
"""
