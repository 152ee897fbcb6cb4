"""Model zoos: datasets, architectures, hyper-parameter spaces, training, generation.

The names a user needs, from the modules that hold them:

- datasets (:mod:`~weightspace.zoo.datasets`): :func:`load_dataset`, :func:`list_datasets`,
  :func:`describe_datasets`, :func:`register_dataset`, :func:`prepare_embedded`;
- architectures (:mod:`~weightspace.zoo.architectures`): :func:`create_architecture`,
  :func:`list_architectures`, :func:`register_architecture`;
- hyper-parameter spaces (:mod:`~weightspace.zoo.space`): :class:`HyperSpace` and its parameter
  kinds, :func:`get_space`, :func:`list_spaces`, :func:`register_space`, :func:`load_space`;
- task zoos (:mod:`~weightspace.zoo.tasks`): :class:`Task`, :func:`load_task_dataset`;
- training (:mod:`~weightspace.zoo.train`, :mod:`~weightspace.zoo.batched`): :class:`TrainConfig`,
  :func:`train_model`, :func:`train_models`, :class:`EarlyStopping`, :func:`augment`;
- zoos (:mod:`~weightspace.zoo.presets`, :mod:`~weightspace.zoo.generate`): :class:`ZooPlan`,
  :func:`get_preset`, :func:`list_presets`, :func:`generate_zoo`, :func:`plan_models`, and where
  groups train, :func:`create_engine` (the Ray engine: :mod:`weightspace.zoo.ray_engine`).

The built-in architectures and spaces are registered by their registries on first use; importing
this package registers nothing and loads no dataset.

Examples
--------
>>> from weightspace.zoo import create_architecture, get_space
>>> space = get_space("tetris-mlp")
>>> net = space.create_model(space.grid()[0])
>>> sum(p.numel() for p in net.parameters())
100
"""

from weightspace.zoo.architectures import (
    ArchitectureError,
    SequentialNet,
    architecture_parameters,
    create_architecture,
    list_architectures,
    register_architecture,
)
from weightspace.zoo.augment import augment
from weightspace.zoo.batched import train_models
from weightspace.zoo.datasets import (
    Dataset,
    DatasetError,
    DatasetInfo,
    describe_datasets,
    list_datasets,
    load_dataset,
    prepare_embedded,
    register_dataset,
)
from weightspace.zoo.early_stopping import EarlyStopping
from weightspace.zoo.engines import LocalEngine, create_engine
from weightspace.zoo.generate import GenerateReport, generate_zoo, plan_models
from weightspace.zoo.presets import ZooPlan, get_preset, list_presets, register_preset
from weightspace.zoo.space import (
    Choice,
    Config,
    Fixed,
    HyperSpace,
    IntRange,
    LogUniform,
    SpaceError,
    Uniform,
    dump_space,
    get_space,
    list_spaces,
    load_space,
    register_space,
)
from weightspace.zoo.tasks import Task, TaskError, load_task_dataset
from weightspace.zoo.train import (
    GeneratorDropout,
    TrainConfig,
    TrainResult,
    evaluate,
    train_model,
)

__all__ = [
    "ArchitectureError",
    "Choice",
    "Config",
    "Dataset",
    "DatasetError",
    "DatasetInfo",
    "EarlyStopping",
    "Fixed",
    "GenerateReport",
    "GeneratorDropout",
    "HyperSpace",
    "IntRange",
    "LocalEngine",
    "LogUniform",
    "SequentialNet",
    "SpaceError",
    "Task",
    "TaskError",
    "TrainConfig",
    "TrainResult",
    "Uniform",
    "ZooPlan",
    "architecture_parameters",
    "augment",
    "create_architecture",
    "create_engine",
    "describe_datasets",
    "dump_space",
    "evaluate",
    "generate_zoo",
    "get_preset",
    "get_space",
    "list_architectures",
    "list_datasets",
    "list_presets",
    "list_spaces",
    "load_dataset",
    "load_space",
    "load_task_dataset",
    "plan_models",
    "prepare_embedded",
    "register_architecture",
    "register_dataset",
    "register_preset",
    "register_space",
    "train_model",
    "train_models",
]
