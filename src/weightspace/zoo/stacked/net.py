"""The stacked network: ``N`` models of one sequential structure as one network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from weightspace.zoo.stacked.layers import (
    ForwardRun,
    Slot,
    StackedActivation,
    StackedBatchNorm,
    StackedConv,
    StackedDropout,
    StackedFlatten,
    StackedLayer,
    StackedLinear,
    StackedMaxPool,
    expand_shared,
)
from weightspace.zoo.stacked.signature import (
    Activation,
    StackError,
    activation_of,
    check_stackable,
    layer_signature,
    leaf_modules,
)

__all__ = ["StackedNet"]


# ------------------------------------------------------------------------------------ the net
class StackedNet:
    """``N`` models of one sequential structure as one network.

    Build with :meth:`from_models` (or :meth:`with_rows` for evaluation of exported weights); the
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
        self.slots: list[Slot] = []
        self.layers: list[StackedLayer] = []
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
            self.slots.append(Slot(key, tuple(param.shape), col, col + size))
            col += size
            return len(self.slots) - 1

        for name, m in leaf_modules(template):
            layer_signature(name, m)
            prefix = f"{name}." if name else ""
            w = slot(prefix + "weight", getattr(m, "weight", None))
            b = slot(prefix + "bias", getattr(m, "bias", None))
            if isinstance(m, nn.Conv2d):
                assert w is not None
                self.layers.append(StackedConv(m, w, b))
            elif isinstance(m, nn.Linear):
                assert w is not None
                self.layers.append(StackedLinear(w, b))
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                self.layers.append(StackedBatchNorm(m, w, b, n_bn))
                n_bn += 1
            elif isinstance(m, nn.MaxPool2d):
                self.layers.append(StackedMaxPool(m))
            elif isinstance(m, nn.Flatten):
                self.layers.append(StackedFlatten())
            elif isinstance(m, nn.Dropout):
                self.layers.append(StackedDropout(n_drop))
                n_drop += 1
            else:
                self.layers.append(StackedActivation(n_act))
                n_act += 1
        if col != self.theta.shape[1]:  # pragma: no cover - guarded by from_models/with_rows
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
            leaves = [m for _, m in leaf_modules(model)]
            activations.append([a for a in map(activation_of, leaves) if a is not None])
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
        run = ForwardRun(params, training, masks or {})
        z = x
        for layer in self.layers:
            z, shared = layer(self, z, shared, run)
        return expand_shared(self, z, shared)

    def infer_shapes(self, sample_shape: tuple[int, ...]) -> None:
        """Find the per-model input shape of every dropout layer and the widest layer output
        (one evaluation-mode pass on a zero sample); raises :class:`StackError` when
        ``sample_shape`` does not fit the network."""
        shapes: list[tuple[int, ...]] = []
        widest = 1
        x = torch.zeros((1, *sample_shape))
        run = ForwardRun(self.param_views(), False)
        z, shared = x, True
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                if isinstance(layer, StackedDropout):
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
