"""Many same-architecture networks as one stacked network, and a stacked optimizer.

``N`` models of one ``nn.Sequential`` structure are run as a single network on stacked inputs of shape
``(B, N, *sample_shape)`` (model ``i`` sees ``z[:, i]``):

- ``Conv2d`` becomes a grouped convolution (``groups=N``, weight ``(N*out, in, k, k)``) on the
  ``(B, N*C, H, W)`` view, in ``channels_last`` memory format (measured fastest here, see
  ``bench/RESULTS_train.md``);
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

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightspace.errors import WeightspaceError

__all__ = [
    "StackError",
    "StackedNet",
    "StackedOptimizer",
    "activation_key",
    "check_stackable",
    "model_signature",
]

Activation = Callable[[Tensor], Tensor]


class StackError(WeightspaceError):
    """Models cannot be stacked: unsupported modules or structures that differ."""


# ------------------------------------------------------------------------------------ structure
def _activation(module: nn.Module) -> tuple[tuple[Any, ...], Activation] | None:
    """``(signature, function)`` of a supported activation module, or None."""
    kind = type(module)
    if kind is nn.ReLU:
        return ("relu",), torch.relu
    if kind is nn.Sigmoid:
        return ("sigmoid",), torch.sigmoid
    if kind is nn.Tanh:
        return ("tanh",), torch.tanh
    if kind is nn.SiLU:
        return ("silu",), F.silu
    if kind is nn.Identity:
        return ("identity",), _identity
    if isinstance(module, nn.ELU) and kind is nn.ELU:
        alpha = float(module.alpha)
        return ("elu", alpha), lambda x: F.elu(x, alpha)
    if isinstance(module, nn.GELU) and kind is nn.GELU:
        approximate = str(module.approximate)
        return ("gelu", approximate), lambda x: F.gelu(x, approximate=approximate)
    if isinstance(module, nn.LeakyReLU) and kind is nn.LeakyReLU:
        slope = float(module.negative_slope)
        return ("leakyrelu", slope), lambda x: F.leaky_relu(x, slope)
    return None


def _identity(x: Tensor) -> Tensor:
    return x


_SUPPORTED = (
    "Conv2d (groups=1, zero padding), Linear, BatchNorm1d/2d (with running statistics), "
    "MaxPool2d, Flatten(1, -1), Dropout, ReLU, ELU, Sigmoid, Tanh, GELU, LeakyReLU, SiLU, "
    "Identity, inside (nested) nn.Sequential"
)


def _leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The non-container modules of a (nested) ``nn.Sequential`` in forward order, with names."""
    out: list[tuple[str, nn.Module]] = []

    def walk(prefix: str, module: nn.Module) -> None:
        if isinstance(module, nn.Sequential):
            if type(module).forward is not nn.Sequential.forward:
                raise StackError(
                    f"module {prefix or '<root>'!r} ({type(module).__name__}) overrides "
                    "nn.Sequential.forward; batched training needs plain sequential networks"
                )
            for name, child in module.named_children():
                walk(f"{prefix}.{name}" if prefix else name, child)
        else:
            out.append((prefix, module))

    if not isinstance(model, nn.Sequential):
        raise StackError(
            f"batched training needs nn.Sequential networks (as every registered architecture); "
            f"got {type(model).__name__}"
        )
    walk("", model)
    return out


def _layer_signature(name: str, m: nn.Module) -> tuple[Any, ...]:
    """What must agree between stacked models at one position (activations and dropout rates may
    differ); raises :class:`StackError` for an unsupported module."""
    if type(m) is nn.Conv2d:
        if m.groups != 1 or m.padding_mode != "zeros":
            raise StackError(
                f"layer {name!r}: only Conv2d with groups=1 and zero padding can be stacked; "
                f"got groups={m.groups}, padding_mode={m.padding_mode!r}"
            )
        return (
            "conv",
            m.in_channels,
            m.out_channels,
            m.kernel_size,
            m.stride,
            m.padding,
            m.dilation,
            m.bias is not None,
        )
    if type(m) is nn.Linear:
        return ("linear", m.in_features, m.out_features, m.bias is not None)
    if type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
        assert isinstance(m, nn.modules.batchnorm._BatchNorm)
        if not m.track_running_stats or m.momentum is None:
            raise StackError(
                f"layer {name!r}: batch norm needs track_running_stats=True and a float momentum"
            )
        return ("bn", type(m).__name__, m.num_features, m.eps, m.momentum, m.affine)
    if type(m) is nn.MaxPool2d:
        if m.return_indices:
            raise StackError(f"layer {name!r}: MaxPool2d(return_indices=True) is not supported")
        return ("pool", m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if type(m) is nn.Flatten:
        if (m.start_dim, m.end_dim) != (1, -1):
            raise StackError(f"layer {name!r}: only Flatten(start_dim=1, end_dim=-1) is supported")
        return ("flatten",)
    if type(m) is nn.Dropout:
        return ("dropout",)
    if _activation(m) is not None:
        return ("activation",)
    raise StackError(
        f"layer {name!r}: {type(m).__name__} cannot be stacked; supported: {_SUPPORTED}"
    )


def activation_key(model: nn.Module) -> tuple[tuple[Any, ...], ...]:
    """The activations of ``model`` in forward order (a sort key that groups equal ones)."""
    found = (_activation(m) for _, m in _leaves(model))
    return tuple(a[0] for a in found if a is not None)


def model_signature(model: nn.Module) -> tuple[Any, ...]:
    """A hashable description of everything two models must share to be stacked.

    Layer names, module types and their shapes and options; activations and dropout rates may differ.
    Raises :class:`StackError` for a network that cannot be stacked.
    """
    sig: list[Any] = []
    for name, module in _leaves(model):
        sig.append((name, *_layer_signature(name, module)))
    for key, value in model.state_dict().items():
        sig.append((key, tuple(value.shape), str(value.dtype)))
    return tuple(sig)


# ------------------------------------------------------------------------------------ layers
@dataclass(frozen=True)
class _Slot:
    """Where one parameter lives in ``theta``: columns ``start:stop``, per-model ``shape``."""

    key: str
    shape: tuple[int, ...]
    start: int
    stop: int


@dataclass
class _Run:
    """Context of one stacked forward pass."""

    params: list[Tensor]
    training: bool
    masks: dict[int, Tensor] = field(default_factory=dict)


class _Layer:
    """A stacked layer: ``(z, shared) -> (z, shared)``; ``shared`` means one input for all models,
    ``(B, *s)`` instead of ``(B, N, *s)`` (evaluation on a common data set)."""

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        raise NotImplementedError


def _stacked(net: StackedNet, z: Tensor, shared: bool) -> Tensor:
    """Expand a shared input to the stacked layout ``(B, N, *s)``."""
    return z.unsqueeze(1).expand(z.shape[0], net.n_models, *z.shape[1:]) if shared else z


def _split(y: Tensor, n: int) -> Tensor:
    """View ``(B, N*C, ...)`` as ``(B, N, C, ...)`` (also for channels-last memory)."""
    return y.view(y.shape[0], n, y.shape[1] // n, *y.shape[2:])


def _to_channels_last(x: Tensor) -> Tensor:
    """``x`` in channels-last memory, so that the convolution's output (and the pooling after it)
    is channels-last too. One-channel inputs need explicit strides: for them PyTorch's
    ``contiguous(memory_format=channels_last)`` keeps the NCHW strides, and the convolution then
    writes NCHW, which made the evaluation of shared grey inputs 2.3x slower (conv + max-pool)."""
    if x.shape[1] == 1 and x.dim() == 4:
        x = x.contiguous()
        return x.as_strided(x.shape, (x.shape[2] * x.shape[3], 1, x.shape[3], 1))
    return x.contiguous(memory_format=torch.channels_last)


class _Conv(_Layer):
    def __init__(self, m: nn.Conv2d, weight: int, bias: int | None) -> None:
        self.weight, self.bias = weight, bias
        self.stride, self.dilation = m.stride, m.dilation
        self.padding: str | tuple[int, ...] = m.padding
        self.out = m.out_channels

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        n = net.n_models
        w = run.params[self.weight]
        w = w.reshape(n * w.shape[1], *w.shape[2:])
        b = None if self.bias is None else run.params[self.bias].reshape(-1)
        if shared:  # one input for all: an ordinary convolution with all N*out filters
            x, groups = z, 1
        else:
            x, groups = z.flatten(1, 2), n
        if net.channels_last:
            x = _to_channels_last(x)
        y = F.conv2d(x, w, b, self.stride, self.padding, self.dilation, groups)
        return _split(y, n), False


class _Linear(_Layer):
    def __init__(self, weight: int, bias: int | None) -> None:
        self.weight, self.bias = weight, bias

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        n = net.n_models
        w = run.params[self.weight]  # (N, out, in)
        if shared:  # (B, in) @ (in, N*out)
            y = z @ w.reshape(-1, w.shape[2]).T
            if self.bias is not None:
                y = y + run.params[self.bias].reshape(-1)
            return _split(y, n), False
        x = z.transpose(0, 1)  # (N, B, in)
        if self.bias is None:
            y = torch.bmm(x, w.transpose(1, 2))
        else:
            y = torch.baddbmm(run.params[self.bias].unsqueeze(1), x, w.transpose(1, 2))
        return y.transpose(0, 1), False


class _BatchNorm(_Layer):
    def __init__(
        self, m: nn.modules.batchnorm._BatchNorm, weight: int | None, bias: int | None, index: int
    ) -> None:
        self.weight, self.bias, self.index = weight, bias, index
        self.eps = float(m.eps)
        self.momentum = float(m.momentum)  # type: ignore[arg-type]

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        z = _stacked(net, z, shared)
        w = None if self.weight is None else run.params[self.weight].reshape(-1)
        b = None if self.bias is None else run.params[self.bias].reshape(-1)
        x = z.flatten(1, 2) if z.dim() > 3 else z.reshape(z.shape[0], -1)
        y = F.batch_norm(
            x,
            net.running_mean[self.index].view(-1),
            net.running_var[self.index].view(-1),
            w,
            b,
            run.training,
            self.momentum,
            self.eps,
        )
        if run.training:
            net.batches_tracked[self.index] += 1
        return y.view(z.shape), False


class _MaxPool(_Layer):
    def __init__(self, m: nn.MaxPool2d) -> None:
        self.m = m

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        m = self.m
        x = z if shared else z.flatten(1, 2)
        y = F.max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
        return (y, True) if shared else (_split(y, net.n_models), False)


class _Flatten(_Layer):
    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        if shared:
            return z.flatten(1), True
        return z.reshape(z.shape[0], z.shape[1], -1), False


class _Activation(_Layer):
    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        runs = net.activation_runs[self.index]
        if len(runs) == 1:
            return runs[0][2](z), shared
        z = _stacked(net, z, shared)
        return torch.cat([fn(z[:, lo:hi]) for lo, hi, fn in runs], dim=1), False


class _Dropout(_Layer):
    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, net: StackedNet, z: Tensor, shared: bool, run: _Run) -> tuple[Tensor, bool]:
        mask = run.masks.get(self.index)
        if not run.training or mask is None:
            return z, shared
        return _stacked(net, z, shared) * mask, False


# ------------------------------------------------------------------------------------ the net
class StackedNet:
    """``N`` models of one sequential structure as one network.

    Build with :meth:`from_models` (or :meth:`from_rows` for evaluation of exported weights); the
    models themselves are never modified.

    Attributes
    ----------
    theta : Tensor of shape (N, P)
        The parameters, row ``i`` model ``i``'s in ``state_dict`` order.
    running_mean, running_var : list of Tensor of shape (N, C)
        Batch-norm running statistics, one pair per batch-norm layer.
    batches_tracked : list of Tensor of shape (N,)
        Batch-norm ``num_batches_tracked`` counters (int64).
    keys : list of str
        The plain model's ``state_dict`` keys, in order.
    """

    def __init__(
        self,
        template: nn.Module,
        theta: Tensor,
        running_mean: list[Tensor],
        running_var: list[Tensor],
        batches_tracked: list[Tensor],
        activations: Sequence[Sequence[tuple[tuple[Any, ...], Activation]]],
        dropout: Sequence[Sequence[float]],
        *,
        channels_last: bool = True,
    ) -> None:
        self.theta = theta
        self.running_mean = running_mean
        self.running_var = running_var
        self.batches_tracked = batches_tracked
        self.channels_last = channels_last
        self.activations = [list(a) for a in activations]  # per model, per activation position
        self.dropout = [list(d) for d in dropout]  # per model, per dropout position
        self.slots: list[_Slot] = []
        self.layers: list[_Layer] = []
        self._template = template
        self._build(template)
        self.activation_runs = self._runs()
        self.keys = list(template.state_dict())
        self.mask_shapes: list[tuple[int, ...]] = []
        self.widest = 1  # largest per-sample, per-model layer output (infer_shapes)
        if [s.key for s in self.slots] != [k for k, _ in template.named_parameters()]:
            raise StackError(
                "the parameters of the network are not those of its layers in forward order; "
                "batched training needs a plain sequential network"
            )

    # -- construction
    def _build(self, template: nn.Module) -> None:
        n_act = n_drop = n_bn = 0
        col = 0

        def slot(key: str, param: Tensor | None) -> int | None:
            nonlocal col
            if param is None:
                return None
            size = param.numel()
            self.slots.append(_Slot(key, tuple(param.shape), col, col + size))
            col += size
            return len(self.slots) - 1

        for name, m in _leaves(template):
            _layer_signature(name, m)
            prefix = f"{name}." if name else ""
            w = slot(prefix + "weight", getattr(m, "weight", None))
            b = slot(prefix + "bias", getattr(m, "bias", None))
            if isinstance(m, nn.Conv2d):
                assert w is not None
                self.layers.append(_Conv(m, w, b))
            elif isinstance(m, nn.Linear):
                assert w is not None
                self.layers.append(_Linear(w, b))
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                self.layers.append(_BatchNorm(m, w, b, n_bn))
                n_bn += 1
            elif isinstance(m, nn.MaxPool2d):
                self.layers.append(_MaxPool(m))
            elif isinstance(m, nn.Flatten):
                self.layers.append(_Flatten())
            elif isinstance(m, nn.Dropout):
                self.layers.append(_Dropout(n_drop))
                n_drop += 1
            else:
                self.layers.append(_Activation(n_act))
                n_act += 1
        if col != self.theta.shape[1]:  # pragma: no cover - guarded by from_models/from_rows
            raise StackError(f"theta has {self.theta.shape[1]} columns; the layers need {col}")

    def _runs(self) -> list[list[tuple[int, int, Activation]]]:
        """Per activation position, the contiguous runs ``(lo, hi, fn)`` of models."""
        n_pos = len(self.activations[0]) if self.activations else 0
        runs: list[list[tuple[int, int, Activation]]] = []
        for pos in range(n_pos):
            these: list[tuple[int, int, Activation]] = []
            last: tuple[Any, ...] | None = None
            for i, acts in enumerate(self.activations):
                sig, fn = acts[pos]
                if sig == last:
                    lo, _, f = these[-1]
                    these[-1] = (lo, i + 1, f)
                else:
                    these.append((i, i + 1, fn))
                    last = sig
            runs.append(these)
        return runs

    @classmethod
    def from_models(cls, models: Sequence[nn.Module], *, channels_last: bool = True) -> StackedNet:
        """Stack ``models`` (same :func:`model_signature`); their weights are copied."""
        check_stackable(models)
        states = [m.state_dict() for m in models]
        template = models[0]
        for key, value in states[0].items():
            if value.is_floating_point() and value.dtype != torch.float32:
                raise StackError(
                    f"tensor {key!r} is {value.dtype}; batched training is float32 only"
                )
        params = [k for k, _ in template.named_parameters()]
        theta = torch.stack(
            [torch.cat([s[k].detach().reshape(-1) for k in params]) for s in states]
        ).float()
        bn = [key[: -len(".running_mean")] for key in states[0] if key.endswith("running_mean")]
        running_mean = [torch.stack([s[f"{p}.running_mean"] for s in states]).float() for p in bn]
        running_var = [torch.stack([s[f"{p}.running_var"] for s in states]).float() for p in bn]
        tracked = [
            torch.stack([s[f"{p}.num_batches_tracked"].reshape(()) for s in states]).long()
            for p in bn
        ]
        activations, dropout = [], []
        for model in models:
            leaves = [m for _, m in _leaves(model)]
            activations.append([a for a in map(_activation, leaves) if a is not None])
            dropout.append([float(m.p) for m in leaves if isinstance(m, nn.Dropout)])
        return cls(
            template,
            theta,
            running_mean,
            running_var,
            tracked,
            activations,
            dropout,
            channels_last=channels_last,
        )

    # -- use
    @property
    def n_models(self) -> int:
        """Number of stacked models ``N``."""
        return int(self.theta.shape[0])

    def param_views(self, *, requires_grad: bool = False) -> list[Tensor]:
        """The stacked parameters ``(N, *shape)``, views of :attr:`theta` (leaves with
        ``requires_grad``)."""
        n = self.n_models
        out = []
        for s in self.slots:
            view = self.theta[:, s.start : s.stop].view(n, *s.shape)
            out.append(view.requires_grad_() if requires_grad else view)
        return out

    def forward(
        self,
        x: Tensor,
        params: list[Tensor],
        *,
        training: bool,
        masks: dict[int, Tensor] | None = None,
        shared: bool = False,
    ) -> Tensor:
        """Logits ``(B, N, n_classes)`` of every model.

        Parameters
        ----------
        x : Tensor of shape (B, N, *sample_shape), or (B, *sample_shape) with ``shared=True``
            Model ``i``'s inputs are ``x[:, i]`` (or all models get ``x``).
        params : list of Tensor
            :meth:`param_views` (or tensors of the same shapes).
        training : bool
            Batch statistics (and updates of the running ones) and dropout.
        masks : dict, optional
            Dropout multipliers from :meth:`draw_masks`.
        """
        run = _Run(params, training, masks or {})
        z = x
        for layer in self.layers:
            z, shared = layer(self, z, shared, run)
        return _stacked(self, z, shared)

    def infer_shapes(self, sample_shape: tuple[int, ...]) -> None:
        """Find the per-model input shape of every dropout layer and the widest layer output
        (one evaluation-mode pass on a zero sample); raises :class:`StackError` when
        ``sample_shape`` does not fit the network."""
        shapes: list[tuple[int, ...]] = []
        widest = 1
        x = torch.zeros((1, *sample_shape))
        run = _Run(self.param_views(), False)
        z, shared = x, True
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                if isinstance(layer, _Dropout):
                    shapes.append(tuple(z.shape[1:] if shared else z.shape[2:]))
                try:
                    z, shared = layer(self, z, shared, run)
                except RuntimeError as err:
                    raise StackError(
                        f"inputs of shape {sample_shape} do not fit the network at layer {i} "
                        f"({type(layer).__name__.strip('_')}): {err}"
                    ) from None
                widest = max(widest, z[0].numel() if shared else z[0, 0].numel())
        self.mask_shapes = shapes
        self.widest = widest

    def needs_masks(self) -> bool:
        """Whether any model has a dropout rate above 0."""
        return any(p > 0 for ps in self.dropout for p in ps)

    def draw_masks(self, batch: int, generators: Sequence[torch.Generator]) -> dict[int, Tensor]:
        """Dropout multipliers ``keep / (1 - p)`` of one mini-batch, ``(B, N, *shape)`` per layer.

        Each model's masks are drawn from its own generator in layer order, with the calls
        :class:`weightspace.zoo.train.GeneratorDropout` makes (none where ``p == 0``).
        """
        n_pos = len(self.mask_shapes)
        active = [pos for pos in range(n_pos) if any(d[pos] > 0 for d in self.dropout)]
        per_layer: dict[int, list[Tensor]] = {pos: [] for pos in active}
        for i, gen in enumerate(generators):
            for pos in active:
                p = self.dropout[i][pos]
                shape = (batch, *self.mask_shapes[pos])
                if p == 0.0:
                    per_layer[pos].append(torch.ones(shape))
                else:
                    keep = torch.rand(shape, generator=gen) >= p
                    per_layer[pos].append(keep / (1.0 - p))
        return {pos: torch.stack(masks, dim=1) for pos, masks in per_layer.items()}

    def select(self, index: Sequence[int]) -> StackedNet:
        """A new stack of the models at ``index`` (copies)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        net = StackedNet(
            self._template,
            self.theta.index_select(0, idx),
            [t.index_select(0, idx) for t in self.running_mean],
            [t.index_select(0, idx) for t in self.running_var],
            [t.index_select(0, idx) for t in self.batches_tracked],
            [self.activations[i] for i in index],
            [self.dropout[i] for i in index],
            channels_last=self.channels_last,
        )
        net.mask_shapes, net.widest = list(self.mask_shapes), self.widest
        return net

    # -- export
    def export(self) -> tuple[Tensor, Tensor]:
        """Copies of all weights: ``(N, P + Q)`` floats (theta, then running mean and variance of
        each batch norm) and ``(N, n_bn)`` int64 batch counters."""
        floats = torch.cat(
            [
                self.theta,
                *(
                    t
                    for pair in zip(self.running_mean, self.running_var, strict=True)
                    for t in pair
                ),
            ],
            dim=1,
        )
        counts = (
            torch.stack(self.batches_tracked, dim=1)
            if self.batches_tracked
            else torch.zeros((self.n_models, 0), dtype=torch.long)
        )
        return floats.clone(), counts.clone()

    def state_dict(self, floats: Tensor, counts: Tensor) -> dict[str, torch.Tensor]:
        """One model's plain ``state_dict`` from a row of :meth:`export` (``floats`` of shape
        ``(P + Q,)``, ``counts`` of shape ``(n_bn,)``); tensors are fresh copies."""
        out: dict[str, Tensor] = {}
        for s in self.slots:
            out[s.key] = floats[s.start : s.stop].reshape(s.shape).clone()
        col = self.theta.shape[1]
        bn = [k[: -len(".running_mean")] for k in self.keys if k.endswith(".running_mean")]
        for j, prefix in enumerate(bn):
            c = self.running_mean[j].shape[1]
            out[f"{prefix}.running_mean"] = floats[col : col + c].clone()
            out[f"{prefix}.running_var"] = floats[col + c : col + 2 * c].clone()
            out[f"{prefix}.num_batches_tracked"] = counts[j].clone()
            col += 2 * c
        return {k: out[k] for k in self.keys}

    def with_rows(self, floats: Tensor, counts: Tensor, models: Sequence[int]) -> StackedNet:
        """A stack of exported rows (:meth:`export`); row ``r`` has the activations and dropout
        rates of model ``models[r]`` of this stack."""
        p = self.theta.shape[1]
        running_mean, running_var = [], []
        col = p
        for t in self.running_mean:
            c = t.shape[1]
            running_mean.append(floats[:, col : col + c].contiguous())
            running_var.append(floats[:, col + c : col + 2 * c].contiguous())
            col += 2 * c
        net = StackedNet(
            self._template,
            floats[:, :p].contiguous(),
            running_mean,
            running_var,
            [counts[:, j].contiguous() for j in range(counts.shape[1])],
            [self.activations[i] for i in models],
            [self.dropout[i] for i in models],
            channels_last=self.channels_last,
        )
        net.mask_shapes, net.widest = list(self.mask_shapes), self.widest
        return net


def check_stackable(models: Sequence[nn.Module]) -> None:
    """Raise :class:`StackError`, naming the first difference, unless ``models`` (at least one)
    share one :func:`model_signature`."""
    if not models:
        raise StackError("no models to stack")
    sig = model_signature(models[0])
    for i, model in enumerate(models[1:], start=1):
        other = model_signature(model)
        if other != sig:
            raise StackError(_difference(sig, other, i))


def _difference(sig: tuple[Any, ...], other: tuple[Any, ...], index: int) -> str:
    for a, b in zip(sig, other, strict=False):
        if a != b:
            return (
                f"models[{index}] differs from models[0] and cannot be stacked with it: "
                f"expected {a}, got {b}; train models of different structures separately"
            )
    return (
        f"models[{index}] has {len(other)} layers and tensors, models[0] {len(sig)}; "
        "train models of different structures separately"
    )


# ------------------------------------------------------------------------------------ optimizer
_ADAM_BETAS = (0.9, 0.999)
_RMSPROP_ALPHA = 0.99
_EPS = 1e-8


def _where(mask: Tensor, a: float, b: float) -> Tensor:
    """``a`` where ``mask`` else ``b``, in float64."""
    f64 = torch.float64
    return torch.where(mask, torch.tensor(a, dtype=f64), torch.tensor(b, dtype=f64))


class StackedOptimizer:
    """``torch.optim`` Adam, RMSprop (no momentum) and SGD with momentum, for stacked parameters.

    One rule for all three, with per-model coefficients (so models with different optimizers share
    one stack and one set of element-wise operations)::

        g = grad + weight_decay * theta
        m = beta1 * m + c1 * g          # Adam: 0.9, 0.1; SGD: momentum, 1; RMSprop: 0, 1
        v = beta2 * v + c2 * g * g      # Adam: 0.999, 0.001; RMSprop: 0.99, 0.01; SGD: 1, 0
        theta -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)

    with Adam's bias corrections ``bc = 1 - beta ** step`` (1 for the others) and ``eps`` 1e-8
    (1 for SGD, whose ``v`` stays 0, so the denominator is exactly 1). This is ``torch.optim``'s
    arithmetic up to rounding (Adam's ``lerp`` is written as a weighted sum).

    Parameters
    ----------
    kinds : sequence of {"adam", "rmsprop", "sgd"}
    lrs, momentums, weight_decays : sequence of float
        Per model; ``momentum`` is used by SGD only.
    n_params : int
        Columns of ``theta``.
    """

    def __init__(
        self,
        kinds: Sequence[str],
        lrs: Sequence[float],
        momentums: Sequence[float],
        weight_decays: Sequence[float],
        n_params: int,
    ) -> None:
        n = len(kinds)
        self.kinds = list(kinds)
        self.lr = torch.tensor(list(lrs), dtype=torch.float64)
        adam = torch.tensor([k == "adam" for k in kinds])
        rms = torch.tensor([k == "rmsprop" for k in kinds])
        sgd = torch.tensor([k == "sgd" for k in kinds])
        mom = torch.tensor(list(momentums), dtype=torch.float64)
        b1, b2 = _ADAM_BETAS
        self._adam = adam
        self._beta1 = torch.where(adam, b1, torch.where(sgd, mom, 0.0)).float().unsqueeze(1)
        self._c1 = torch.where(adam, 1.0 - b1, 1.0).float().unsqueeze(1)
        beta2 = torch.where(adam, b2, torch.where(rms, _RMSPROP_ALPHA, 1.0))
        self._beta2 = beta2.float().unsqueeze(1)
        self._c2 = (1.0 - beta2).float().unsqueeze(1)
        self._eps = torch.where(sgd, 1.0, _EPS).float().unsqueeze(1)
        wd = torch.tensor(list(weight_decays), dtype=torch.float32).unsqueeze(1)
        self._wd = wd if bool((wd != 0).any()) else None
        self._adaptive = bool((adam | rms).any())
        self._momentum = bool((self._beta1 != 0).any())
        self.m = torch.zeros((n, n_params))
        self.v = torch.zeros((n, n_params)) if self._adaptive else None
        self.steps = 0

    def set_lr(self, lrs: Sequence[float]) -> None:
        """Per-model learning rates of the coming steps."""
        self.lr = torch.tensor(list(lrs), dtype=torch.float64)

    @torch.no_grad()
    def step(self, theta: Tensor, grad: Tensor) -> None:
        """Update ``theta`` ``(N, P)`` in place from ``grad`` ``(N, P)``."""
        self.steps += 1
        t = self.steps
        b1, b2 = _ADAM_BETAS
        bc1 = _where(self._adam, 1.0 - b1**t, 1.0)
        step = (self.lr / bc1).float().unsqueeze(1)
        g = grad if self._wd is None else grad.add(theta * self._wd)
        if self._momentum:
            self.m.mul_(self._beta1).add_(g * self._c1)
            update = self.m
        else:
            update = g
        if self.v is not None:
            sqrt_bc2 = _where(self._adam, (1.0 - b2**t) ** 0.5, 1.0).float().unsqueeze(1)
            self.v.mul_(self._beta2).addcmul_(g, g * self._c2)
            denom = self.v.sqrt().div_(sqrt_bc2).add_(self._eps)
            theta.sub_(update.mul(step).div_(denom))
        else:
            theta.sub_(update * step)

    def select(self, index: Sequence[int]) -> StackedOptimizer:
        """The optimizer of the models at ``index`` (state copied)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        new = object.__new__(StackedOptimizer)
        new.__dict__.update(self.__dict__)
        new.kinds = [self.kinds[i] for i in index]
        for name in ("lr", "_adam", "_beta1", "_c1", "_beta2", "_c2", "_eps", "_wd", "m", "v"):
            value = getattr(self, name)
            setattr(new, name, None if value is None else value.index_select(0, idx))
        return new
