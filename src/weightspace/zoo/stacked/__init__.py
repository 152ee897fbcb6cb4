"""Many same-architecture networks as one stacked network, and a stacked optimizer.

``N`` models of one ``nn.Sequential`` structure are run as a single network on stacked inputs of shape
``(B, N, *sample_shape)`` (model ``i`` sees ``z[:, i]``):

- ``Conv2d`` becomes a grouped convolution (``groups=N``, weight ``(N*out, in, k, k)``) on the
  ``(B, N*C, H, W)`` view, in ``channels_last`` memory format (measured fastest here, see
  ``bench/RESULTS.md``, batched training);
- ``BatchNorm1d/2d`` becomes one batch norm over ``N*C`` channels: each model's per-channel batch
  statistics and running averages are exactly those it has alone;
- ``Linear`` becomes a batched matrix product (``torch.baddbmm`` over the model axis);
- ``MaxPool2d`` runs on the ``(B, N*C, H, W)`` view; ``Flatten`` gives every model its own
  ``C*H*W`` features in the plain model's order;
- activations may differ per model: they run once per contiguous run of models sharing one
  activation (models are sorted by activation by the caller);
- ``Dropout`` multiplies by per-model masks that the caller draws from each model's own generator
  (:meth:`StackedNet.draw_masks`), with the shapes and in the order ``GeneratorDropout`` draws them.

All parameters live in one model-major matrix ``theta`` of shape ``(N, P)`` (row ``i`` is model
``i``'s parameters in ``state_dict`` order), so that :class:`StackedOptimizer` updates every model
with a dozen element-wise operations, and compacting the stack (dropping finished models) is one
``index_select``. The batch-norm running statistics are kept as ``(N, C)`` tensors.
"""

from weightspace.zoo.stacked.net import StackedNet
from weightspace.zoo.stacked.optimizer import OPTIMIZER_KINDS, StackedOptimizer
from weightspace.zoo.stacked.signature import (
    StackError,
    activation_key,
    check_stackable,
    model_signature,
)

__all__ = [
    "OPTIMIZER_KINDS",
    "StackError",
    "StackedNet",
    "StackedOptimizer",
    "activation_key",
    "check_stackable",
    "model_signature",
]
