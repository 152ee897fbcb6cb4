"""The peer: neural functionals (Zhou et al., 2023), from the optional package ``nfn``.

An invariant NFN predicts a network's accuracy from its weight and bias tensors, equivariant to
the permutations of hidden units. We build the model of the authors' generalization-prediction
experiment from ``nfn``'s layers and train it with their published settings
(``experiments/predict_gen_configs``): three NFN layers of 16, 16 and 5 channels with ReLU, the
HNP pooling head, an MLP of two hidden layers of 1,000 units, a sigmoid output trained with binary
cross-entropy, Adam at 1e-3, batch 8, 50 epochs, the epoch of best validation Kendall tau kept.
``NP`` uses ``NPLinear`` with input/output position embeddings and per-weight normalization by the
training zoo's mean and standard deviation (their ``np_inv`` config); ``HNP`` uses ``HNPLinear``
without normalization (``hnp_inv``).

NFNs read plain chains of convolution and linear layers. Two conversions keep the network's
function and make more zoos readable:

- a linear layer after a flatten of ``C`` channels is read as a convolution whose kernel covers
  the ``in / C`` positions (its rows grouped by channel), so the flatten's channels are the
  previous layer's outputs, as for a global pooling;
- batch norm is folded into the weights (evaluation mode, ``eps = 1e-5``) when its place in the
  network is known. ``bn_order="nws"``: the NWS CNN's order, convolution -> BN -> activation
  (folded into the convolution) and linear -> activation -> BN (folded into the next layer's
  inputs). ``bn_order="ignore"`` drops batch norm and reads the kernels and biases as stored (not
  the network's function: a control for what folding does to the NFN's inputs). Without either,
  networks with batch norm are not supported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from weightspace.io.weightset import WeightSet
from weightspace.predict.common import PredictorError, kendall_tau, r2

__all__ = [
    "BNOrder",
    "NFNRegressor",
    "NFNUnsupportedError",
    "Stacked",
    "nfn_available",
    "nfn_tensors",
    "stack_nfn",
    "take",
]

BNOrder = Literal["nws", "ignore"]
_BN_EPS = 1e-5
_BN_ROLES = ("bn_gamma", "bn_beta", "bn_mean", "bn_var")


class NFNUnsupportedError(PredictorError):
    """A network an NFN cannot read (batch norm of unknown order, not a plain chain, ...)."""


def nfn_available() -> str | None:
    """None when ``nfn`` can be imported; otherwise why not, with the install hint."""
    try:
        import nfn  # noqa: F401
    except ImportError as exc:
        return f"the optional package nfn is not installed ({exc}); pip install 'weightspace[nfn]'"
    return None


def _layers(ws: WeightSet) -> list[dict[str, np.ndarray]]:
    groups: dict[str, dict[str, np.ndarray]] = {}
    for t in ws.float_tensors:
        roles = groups.setdefault(t.layer, {})
        if t.role in roles or t.role == "other":
            raise NFNUnsupportedError(
                f"{ws.source or 'WeightSet'}: layer {t.layer!r} has a tensor {t.name!r} of role "
                f"{t.role!r} besides its kernel, bias and batch norm; NFNs read plain networks"
            )
        roles[t.role] = np.asarray(t.array, dtype=np.float64)
    return list(groups.values())


def nfn_tensors(
    ws: WeightSet, *, bn_order: BNOrder | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A network's weights and biases as an NFN reads them (see the module notes).

    Parameters
    ----------
    ws : WeightSet
        A chain of convolution and linear layers (kernels in the PyTorch layout, forward order).
    bn_order : {"nws", "ignore"} or None
        Where batch norm sits, to fold it (``"ignore"``: drop it; None: the network must have
        none).

    Returns
    -------
    weights : list of numpy.ndarray
        ``(out, in)`` or ``(out, in, h, w)`` float32 per layer.
    biases : list of numpy.ndarray
        ``(out,)`` float32 per layer (zeros for a layer without bias).

    Raises
    ------
    NFNUnsupportedError
        Batch norm of unknown order, tensors other than kernels, biases and batch norm, kernels
        that do not chain.
    """
    source = ws.source or "WeightSet"
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None  # BN scale/shift on the next inputs
    for layer in _layers(ws):
        bn = {role: layer.pop(role) for role in _BN_ROLES if role in layer}
        if bn and len(bn) < len(_BN_ROLES):
            raise NFNUnsupportedError(
                f"{source}: batch norm without {sorted(set(_BN_ROLES) - set(bn))}; folding it "
                "needs its scale, shift and running statistics"
            )
        if set(layer) - {"kernel", "bias"} or "kernel" not in layer:
            raise NFNUnsupportedError(
                f"{source}: a layer with {sorted(layer)}; NFNs read chains of convolution and "
                "linear layers (each with its bias and, folded, its batch norm)"
            )
        kernel = layer["kernel"]
        bias = layer.get("bias", np.zeros(kernel.shape[0]))
        if kernel.ndim not in (2, 4) or bias.shape != (kernel.shape[0],):
            raise NFNUnsupportedError(
                f"{source}: a kernel of shape {kernel.shape} (bias {bias.shape}); NFNs read 2-D "
                "convolutions and linear layers"
            )
        if weights:
            kernel = _chain(kernel, weights[-1], source)
        if pending is not None:
            kernel, bias = _fold_inputs(kernel, bias, pending, source)
            pending = None
        if bn:
            if bn_order is None:
                raise NFNUnsupportedError(
                    f"{source}: batch norm, whose place (before or after the activation) the "
                    "weights do not tell; NFNs read plain networks (fold it first, or name the "
                    "order: bn_order='nws')"
                )
            if bn_order == "ignore":
                weights.append(kernel)
                biases.append(bias)
                continue
            scale = bn["bn_gamma"] / np.sqrt(bn["bn_var"] + _BN_EPS)
            shift = bn["bn_beta"] - bn["bn_mean"] * scale
            if kernel.ndim > 2 and layer["kernel"].ndim > 2:
                # convolution -> BN -> activation: fold into the convolution
                kernel = kernel * scale.reshape(-1, *([1] * (kernel.ndim - 1)))
                bias = bias * scale + shift
            else:  # linear -> activation -> BN: fold into the next layer's inputs
                pending = (scale, shift)
        weights.append(kernel)
        biases.append(bias)
    if pending is not None:
        raise NFNUnsupportedError(f"{source}: batch norm after the last layer")
    if len(weights) < 2:
        raise NFNUnsupportedError(f"{source}: {len(weights)} layer(s); NFNs need at least 2")
    return [w.astype(np.float32) for w in weights], [b.astype(np.float32) for b in biases]


def _fold_inputs(
    kernel: np.ndarray, bias: np.ndarray, bn: tuple[np.ndarray, np.ndarray], source: str
) -> tuple[np.ndarray, np.ndarray]:
    """``kernel @ (scale * x + shift) + bias`` as one affine layer."""
    scale, shift = bn
    if kernel.ndim != 2 or kernel.shape[1] != scale.shape[0]:
        raise NFNUnsupportedError(
            f"{source}: batch norm of {scale.shape[0]} units before a kernel of shape "
            f"{kernel.shape}; cannot fold it"
        )
    return kernel * scale[None, :], bias + kernel @ shift


def _chain(kernel: np.ndarray, previous: np.ndarray, source: str) -> np.ndarray:
    """The kernel with its input side matching the previous layer's outputs."""
    n_in, channels = kernel.shape[1], previous.shape[0]
    if kernel.ndim == 4 or n_in == channels or previous.ndim == 2:
        if n_in != channels:
            raise NFNUnsupportedError(
                f"{source}: a layer takes {n_in} inputs after a layer of {channels} outputs; "
                "NFNs read plain chains (no skip connections or concatenations)"
            )
        return kernel
    if n_in % channels:
        raise NFNUnsupportedError(
            f"{source}: a linear layer of {n_in} inputs after {channels} channels; not a flatten"
        )
    positions = n_in // channels
    side = math.isqrt(positions)
    h, w = (side, side) if side * side == positions else (positions, 1)
    return kernel.reshape(kernel.shape[0], channels, h, w)  # a flatten is channel-major


def stack_nfn(
    models: Sequence[tuple[list[np.ndarray], list[np.ndarray]]],
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Stack converted networks into per-layer arrays ``(n, 1, *shape)`` (one architecture)."""
    if not models:
        raise PredictorError("no networks to stack")
    shapes = [[w.shape for w in m[0]] for m in models]
    if any(s != shapes[0] for s in shapes):
        raise NFNUnsupportedError(
            "the networks have different layer shapes; an NFN batch needs one architecture"
        )
    n_layers = len(models[0][0])
    weights = [np.stack([m[0][i] for m in models])[:, None] for i in range(n_layers)]
    biases = [np.stack([m[1][i] for m in models])[:, None] for i in range(n_layers)]
    return weights, biases


Stacked = tuple[list[np.ndarray], list[np.ndarray]]


def take(data: Stacked, idx: npt.ArrayLike) -> Stacked:
    """The rows ``idx`` of stacked networks."""
    rows = np.asarray(idx)
    return [w[rows] for w in data[0]], [b[rows] for b in data[1]]


class NFNRegressor:
    """An invariant NFN regressor trained with the authors' settings (see the module notes).

    Parameters
    ----------
    mode : {"HNP", "NP"}, default="HNP"
    hchannels : sequence of int, default=(16, 16, 5)
    head_hidden : int, default=1000
    epochs : int, default=50
    batch_size : int, default=8
    lr : float, default=1e-3
    random_state : int, default=0
        Seeds the initialization (inside a forked RNG: the global one is left as it was) and the
        batch order.

    Attributes
    ----------
    net_ : torch.nn.Module
    best_epoch_ : int
    """

    def __init__(
        self,
        *,
        mode: Literal["HNP", "NP"] = "HNP",
        hchannels: Sequence[int] = (16, 16, 5),
        head_hidden: int = 1000,
        epochs: int = 50,
        batch_size: int = 8,
        lr: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.mode = mode
        self.hchannels = hchannels
        self.head_hidden = head_hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state

    def _build(self, data: Stacked) -> Any:
        import torch
        from nfn.common import WeightSpaceFeatures, network_spec_from_wsfeat
        from nfn.layers import HNPLinear, HNPPool, NPLinear, TupleOp

        features = WeightSpaceFeatures(
            [torch.from_numpy(w[:1]) for w in data[0]], [torch.from_numpy(b[:1]) for b in data[1]]
        )
        spec = network_spec_from_wsfeat(features)
        layers: list[Any] = []
        previous = 1
        for channels in self.hchannels:
            if self.mode == "HNP":
                layers.append(HNPLinear(spec, in_channels=previous, out_channels=channels))
            else:
                layers.append(NPLinear(spec, previous, channels, io_embed=True))
            layers.append(TupleOp(torch.nn.ReLU()))
            previous = channels
        n_pooled = previous * HNPPool.get_num_outs(spec)
        head = [
            HNPPool(spec),
            torch.nn.Flatten(start_dim=-2),
            torch.nn.Linear(n_pooled, self.head_hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.head_hidden, self.head_hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.head_hidden, 1),
        ]
        return torch.nn.Sequential(*layers, *head)

    def _inputs(self, data: Stacked) -> Any:
        import torch
        from nfn.common import WeightSpaceFeatures

        weights, biases = data
        if self.mode == "NP":
            weights = [(w - m) / s for w, (m, s) in zip(weights, self.norm_[0], strict=True)]
            biases = [(b - m) / s for b, (m, s) in zip(biases, self.norm_[1], strict=True)]
        return WeightSpaceFeatures(
            [torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32)) for w in weights],
            [torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)) for b in biases],
        )

    def fit(
        self,
        data: Stacked,
        y: npt.ArrayLike,
        *,
        val: Stacked | None = None,
        y_val: npt.ArrayLike | None = None,
    ) -> NFNRegressor:
        """Train on stacked networks (:func:`stack_nfn`) and accuracies in [0, 1]."""
        import torch

        if self.mode not in ("HNP", "NP"):
            raise PredictorError(f"mode must be 'HNP' or 'NP'; got {self.mode!r}")
        target = np.asarray(y, dtype=np.float64)
        if target.min() < 0 or target.max() > 1:
            raise PredictorError("the NFN's sigmoid output predicts targets in [0, 1]")

        def stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            std = a.std(axis=0)
            return a.mean(axis=0), np.where(std < 1e-5, 1.0, std)

        self.norm_ = ([stats(w) for w in data[0]], [stats(b) for b in data[1]])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.random_state))
            net = self._build(data)
        rng = np.random.default_rng(self.random_state)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        targets = torch.tensor(target, dtype=torch.float32)
        best: tuple[tuple[float, float], int, dict[str, Any]] | None = None
        for epoch in range(1, int(self.epochs) + 1):
            net.train()
            order = rng.permutation(target.shape[0])
            for start in range(0, len(order), int(self.batch_size)):
                idx = order[start : start + int(self.batch_size)]
                opt.zero_grad()
                out = net(self._inputs(take(data, idx))).squeeze(-1)
                loss_fn(out, targets[torch.as_tensor(idx)]).backward()
                opt.step()
            if val is not None and y_val is not None:
                self.net_ = net
                pred = self.predict(val)
                tau, rsq = kendall_tau(y_val, pred), r2(y_val, pred)
                score = (-np.inf if np.isnan(tau) else tau, -np.inf if np.isnan(rsq) else rsq)
                if best is None or score > best[0]:
                    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                    best = (score, epoch, state)
        self.best_epoch_ = int(self.epochs)
        if best is not None:
            net.load_state_dict(best[2])
            self.best_epoch_ = best[1]
        self.net_ = net
        return self

    def predict(self, data: Stacked) -> np.ndarray:
        """Predicted accuracies of stacked networks, shape ``(n,)``."""
        import torch

        self.net_.eval()
        out = []
        n = data[0][0].shape[0]
        with torch.no_grad():
            for start in range(0, n, 256):
                part = take(data, np.arange(start, min(n, start + 256)))
                out.append(torch.sigmoid(self.net_(self._inputs(part)).squeeze(-1)).numpy())
        return np.concatenate(out).astype(np.float64)
