"""Model zoos: datasets, architectures, hyper-parameter spaces, training.

The task zoos' architectures and spaces (``plain-mlp``, ``plain-cnn``, ``htt-mlp``, ``htt-cnn``)
live in :mod:`weightspace.zoo.tasks`; it is imported here so that the registries list them
whichever zoo module is imported first.
"""

from weightspace.zoo import tasks as _tasks  # noqa: F401  (registers the task zoos)
