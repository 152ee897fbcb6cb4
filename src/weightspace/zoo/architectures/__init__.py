"""A registry of small network factories for model zoos (timm style).

Every entry builds a plain :class:`SequentialNet` (an ``nn.Sequential`` that records how it was built),
so that its state-dict order is its forward order, :func:`weightspace.load_weights` gives the NWS
vector (per layer: kernel, bias, then batch-norm gamma, beta, running mean, running variance), and
:func:`weightspace.symmetry.permute` can permute its hidden units.

Initialization never touches PyTorch's global random state: modules are created on the ``meta``
device and every parameter and buffer is then written from a local ``torch.Generator``, so
``create_architecture(name, seed=s)`` is bit-identical for the same ``s``.

The package: :mod:`~.registry` (names to factories; the built-in families are registered there on
first use), :mod:`~.base` (:class:`SequentialNet`, :class:`ArchitectureError`, the builders' parameter checks),
:mod:`~.initialization` (activations, weight initialization from a generator) and one module per
family: :mod:`~.nws`, :mod:`~.schurholt`, :mod:`~.mlp`, :mod:`~.plain`.

Entries
-------
``nws-cnn``
    The CNN builder of Eilertsen et al. (ECAI 2020), from the authors' ``model.py``: three conv blocks
    (``conv_layers`` 3/4/5 spread as [1,1,1]/[1,1,2]/[1,2,2]; block ``c`` has ``conv_width * 2**c``
    channels; conv -> BN -> activation, SAME padding, stride 1; each block ends with a 2x2 max-pool),
    then ``fc_layers`` hidden FC layers (layer ``c`` has ``fc_width * 2**-c`` units; linear ->
    activation -> BN -> dropout) and a final linear layer without BN. ``fc_layers`` counts the hidden
    FC layers only: the default (fixed) architecture with ``n_classes=20`` (the authors' code has 20
    output units) has exactly the paper's 92,868 weights (16,880 conv + 75,988 FC), and its five
    batch-normalized layers give the 30 (layer, weight type) groups x 16 statistics = 480 features.
``schurholt-cnn``
    The 2,464-parameter MNIST CNN of Schürholt et al. (NeurIPS 2021). Module indices equal those of
    the authors' ``module_list``, so their checkpoints load after stripping ``"module_list."``.
``tetris-mlp``
    Their 100-parameter Tetris MLP: 16 -> 5 -> 4 without biases (the zoo's index file lists two
    layers of 80 and 20 weights, no bias).
``mlp``
    A generic MLP for tests and 1-D data.
``plain-mlp``, ``plain-cnn``
    The task zoos' nets (hypothesis-training-testing: MLP-4 and PlainNet, scaled); they mix the task
    name into the initialization seed (see :mod:`weightspace.zoo.tasks`).

Examples
--------
>>> from weightspace.zoo.architectures import create_architecture
>>> net = create_architecture("schurholt-cnn", seed=0)
>>> sum(p.numel() for p in net.parameters())
2464
"""

from weightspace.zoo.architectures.base import (
    ArchitectureError,
    ArchitectureFactory,
    SequentialNet,
)
from weightspace.zoo.architectures.mlp import mlp
from weightspace.zoo.architectures.nws import nws_cnn
from weightspace.zoo.architectures.plain import plain_cnn, plain_mlp
from weightspace.zoo.architectures.registry import (
    architecture_parameters,
    create_architecture,
    list_architectures,
    register_architecture,
)
from weightspace.zoo.architectures.schurholt import schurholt_cnn, tetris_mlp

__all__ = [
    "ArchitectureError",
    "ArchitectureFactory",
    "SequentialNet",
    "architecture_parameters",
    "create_architecture",
    "list_architectures",
    "mlp",
    "nws_cnn",
    "plain_cnn",
    "plain_mlp",
    "register_architecture",
    "schurholt_cnn",
    "tetris_mlp",
]
