"""Training a hyper-representation encoder on a zoo: self-supervised, seeded, resumable.

Every snapshot of every model is a sample. Models (with all their snapshots) are split at random into
training and validation (``val_fraction``). Each step draws two views of a batch: a random
function-preserving permutation of the hidden units (:class:`~weightspace.learn.augment.Permuter`),
then random erasing and Gaussian noise on the (per-layer standardized) tokens. The loss is
``gamma * NT-Xent(head(z1), head(z2)) + (1 - gamma) * MSE``, the MSE between each view's
reconstruction and its permuted, uncorrupted tokens on real entries (a denoising autoencoder);
``loss="c"`` is ``gamma = 1``, ``loss="d"`` is ``gamma = 0``.

After every epoch: the validation loss (the same loss on views drawn with a fixed seed, so epochs
compare) and the reconstruction R^2 of the unaugmented validation tokens; the best model (lowest
validation loss) is written to ``encoder.safetensors`` and the epoch's state to
``checkpoint.safetensors``; training stops after ``patience`` epochs without improvement.
Rerunning with the same settings and folder resumes after the last finished epoch and gives the
same model as an uninterrupted run: every epoch's randomness is drawn from generators seeded by
``(seed, epoch)`` (the global torch generator, used by dropout, is seeded inside
``torch.random.fork_rng`` and so left as it was).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from weightspace._version import __version__
from weightspace.learn import checkpoint as ckpt
from weightspace.learn.augment import Permuter, add_noise, random_erase
from weightspace.learn.data import ZooData, load_zoo, split_models
from weightspace.learn.layout import LearnError
from weightspace.learn.losses import masked_mse, nt_xent, reconstruction_r2
from weightspace.learn.model import AutoencoderConfig, HyperAutoencoder, token_positions
from weightspace.learn.standardize import LayerStandardizer
from weightspace.learn.tokens import TokenMap, make_tokens
from weightspace.library import Library
from weightspace.symmetry import SymmetryError

__all__ = ["EpochRecord", "TrainResult", "TrainSettings", "train_encoder"]

_LOSSES = {"cd": None, "c": 1.0, "d": 0.0}
#: Settings that may change when a training is resumed (budgets and where it runs).
_BUDGET = ("epochs", "patience")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that defines a training (see the module notes for the procedure).

    Parameters
    ----------
    tokens : {"neuron", "chunk"}, default="neuron"
    chunk : int, default=64
        Entries per chunk token.
    loss : {"cd", "c", "d"}, default="cd"
        Contrastive + reconstruction (E_cD), contrastive only (E_c), reconstruction only (E_D).
    gamma : float, default=0.1
        Weight of the contrastive loss for ``loss="cd"``.
    temperature : float, default=0.1
    epochs : int, default=30
    batch_size : int, default=64
    lr : float, default=1e-3
        AdamW learning rate.
    weight_decay : float, default=1e-4
    patience : int, default=8
        Epochs without a lower validation loss before stopping.
    val_fraction : float, default=0.15
        Share of the models held out for validation.
    permute, erase_p, erase_scale, noise
        The augmentations (``noise`` is the standard deviation on standardized weights).
    d_model, n_heads, encoder_layers, decoder_layers, d_ff, latent, dropout, projection
        Sizes of the autoencoder (:class:`~weightspace.learn.model.AutoencoderConfig`).
    seed : int, default=0
    """

    tokens: str = "neuron"
    chunk: int = 64
    loss: str = "cd"
    gamma: float = 0.1
    temperature: float = 0.1
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8
    val_fraction: float = 0.15
    permute: bool = True
    erase_p: float = 0.5
    erase_scale: tuple[float, float] = (0.02, 0.33)
    noise: float = 0.05
    d_model: int = 64
    n_heads: int = 4
    encoder_layers: int = 2
    decoder_layers: int = 2
    d_ff: int = 256
    latent: int = 32
    dropout: float = 0.1
    projection: int = 32
    seed: int = 0

    def validate(self) -> None:
        """Raise :class:`LearnError` for a setting out of range."""
        if self.tokens not in ("neuron", "chunk"):
            raise LearnError(f"tokens must be 'neuron' or 'chunk'; got {self.tokens!r}")
        if self.loss not in _LOSSES:
            raise LearnError(f"loss must be one of cd, c, d; got {self.loss!r}")
        for name in ("epochs", "batch_size", "patience", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LearnError(f"{name} must be a positive integer; got {value!r}")
        if self.batch_size < 2:
            raise LearnError("batch_size must be at least 2 (the contrastive loss needs pairs)")
        if not 0.0 <= self.gamma <= 1.0:
            raise LearnError(f"gamma must be in [0, 1]; got {self.gamma!r}")
        for name in ("lr", "temperature"):
            if not getattr(self, name) > 0:
                raise LearnError(f"{name} must be positive; got {getattr(self, name)!r}")

    @property
    def contrastive_weight(self) -> float:
        """The weight of the contrastive loss (gamma, or 1 / 0 for ``c`` / ``d``)."""
        fixed = _LOSSES[self.loss]
        return self.gamma if fixed is None else fixed

    def model_sizes(self) -> dict[str, Any]:
        """The keyword arguments of :class:`AutoencoderConfig`."""
        names = ("d_model", "n_heads", "encoder_layers", "decoder_layers", "d_ff", "latent",
                 "dropout", "projection")  # fmt: skip
        return {n: getattr(self, n) for n in names}

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["erase_scale"] = list(self.erase_scale)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainSettings:
        """The inverse of :meth:`to_json` (unknown keys ignored)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "erase_scale" in values:
            values["erase_scale"] = tuple(values["erase_scale"])
        return cls(**values)


@dataclass(frozen=True)
class EpochRecord:
    """The scores of one epoch."""

    epoch: int
    train_loss: float
    val_loss: float
    val_r2: float
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What a training left in its folder."""

    folder: Path
    history: tuple[EpochRecord, ...]
    best_epoch: int
    best_val_loss: float
    best_val_r2: float
    stop_reason: str
    seconds: float
    n_models: int
    n_samples: int
    resumed_from: int | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _views(
    x: np.ndarray,
    tm: TokenMap,
    permuter: Permuter | None,
    settings: TrainSettings,
    rng: np.random.Generator,
    gen: torch.Generator,
    mask: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two augmented views of the standardized vectors ``x``: ``(inputs, targets)`` stacked."""
    targets = []
    for _ in range(2):
        v = x if permuter is None else np.take_along_axis(x, permuter.random(len(x), rng), axis=1)
        targets.append(torch.from_numpy(tm.tokenize(v)))
    target = torch.cat(targets)
    inputs = target
    if settings.erase_p > 0:
        inputs = random_erase(inputs, gen, p=settings.erase_p, scale=settings.erase_scale)
    inputs = add_noise(inputs, mask, settings.noise, gen)
    return inputs, target


def _loss(
    model: HyperAutoencoder,
    inputs: torch.Tensor,
    target: torch.Tensor,
    positions: torch.Tensor,
    mask: torch.Tensor,
    settings: TrainSettings,
) -> torch.Tensor:
    gamma = settings.contrastive_weight
    z = model.encode(inputs, positions)
    loss = torch.zeros((), device=inputs.device)
    if gamma > 0:
        p = model.project(z)
        n = p.shape[0] // 2
        loss = loss + gamma * nt_xent(p[:n], p[n:], settings.temperature)
    if gamma < 1:
        loss = loss + (1 - gamma) * masked_mse(model.decode(z, positions), target, mask)
    return loss


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([abs(int(p)) for p in parts]).generate_state(1)[0])


def _batches(n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    cuts = list(range(size, n, size))
    parts = np.split(order, cuts)
    if len(parts) > 1 and len(parts[-1]) < 2:  # a pair at least, for the contrastive loss
        parts[-2] = np.concatenate([parts[-2], parts.pop()])
    return parts


def train_encoder(
    zoo: Library | str | Path,
    out: str | Path,
    settings: TrainSettings | None = None,
    *,
    where: str | None = None,
    device: str = "cpu",
    restart: bool = False,
    progress: bool | None = None,
    callback: Callable[[EpochRecord], None] | None = None,
) -> TrainResult:
    """Train (or resume, or reuse) an encoder on a zoo and keep it in folder ``out``.

    Parameters
    ----------
    zoo : Library or path
        The models to learn from (all snapshots; one architecture).
    out : path
        The encoder folder (:mod:`weightspace.learn.checkpoint`). When it holds a training with the
        same settings and models, that training is resumed (or, finished, returned as it is).
    settings : TrainSettings, optional
    where : str, optional
        SQL condition selecting the models.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"`` or any torch device.
    restart : bool, default=False
        Discard a training of other settings in ``out`` instead of refusing.
    progress : bool, optional
        A progress bar over epochs (default: when stderr is a terminal).
    callback : callable, optional
        Called with every finished epoch's :class:`EpochRecord` (after its checkpoint is written).

    Returns
    -------
    TrainResult
    """
    settings = settings or TrainSettings()
    settings.validate()
    lib = zoo if isinstance(zoo, Library) else Library(zoo)
    folder = Path(out)
    dev = _device(device)
    data = load_zoo(lib, where=where)
    train_ids, val_ids = split_models(data.ids, settings.val_fraction, settings.seed)
    tm = make_tokens(data.layout, settings.tokens, chunk=settings.chunk)
    is_train = np.isin(data.model, train_ids)
    standardizer = LayerStandardizer.fit(data.vectors[is_train], data.layout.param_group)
    model_cfg = AutoencoderConfig.for_tokens(tm, **settings.model_sizes())
    config = {
        "weightspace": __version__,
        "tokens": {"kind": settings.tokens, "chunk": settings.chunk},
        "layout": data.layout.to_json(),
        "n_params": data.layout.n_params,
        "architecture": data.layout.describe(),
        "model": model_cfg.to_json(),
        "standardizer": standardizer.to_json(),
        "settings": settings.to_json(),
        "zoo": {
            "path": data.source,
            "where": where,
            "n_models": len(data.ids),
            "n_samples": int(data.vectors.shape[0]),
            "fingerprint": data.fingerprint(),
            "val_models": val_ids.tolist(),
        },
    }
    resume = _prepare_folder(folder, config, restart)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        model = HyperAutoencoder(model_cfg)
    model.to(dev)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    resumed = None
    if resume:
        weights, opt_state, state = ckpt.read_state(folder)
        model.load_state_dict(weights)
        optimizer.load_state_dict(opt_state)
        resumed = int(state["epoch"])
        done = state.get("stop_reason") == "early_stopping" or state["epoch"] + 1 >= settings.epochs
        if state.get("finished") and done:
            return _result(folder, state, data, resumed)
    else:
        state = {"epoch": -1, "history": [], "best_epoch": -1, "best_val_loss": math.inf,
                 "best_val_r2": math.nan, "bad_epochs": 0, "seconds": 0.0}  # fmt: skip
    notes = []
    permuter = None
    if settings.permute:
        try:
            permuter = Permuter(data.example)
        except SymmetryError as exc:
            notes.append(f"no permutation augmentation: {exc}")
    V = standardizer.transform(data.vectors, data.layout.param_group)
    trainer = _Trainer(model, optimizer, tm, permuter, settings, dev)
    X_train, X_val = V[is_train], V[~is_train]
    show = sys.stderr.isatty() if progress is None else progress
    bar = _bar(show, settings.epochs, state["epoch"] + 1)
    stop = "max_epochs"
    try:
        for epoch in range(state["epoch"] + 1, settings.epochs):
            if state["bad_epochs"] >= settings.patience:
                stop = "early_stopping"
                break
            start = time.perf_counter()
            train_loss = trainer.epoch(X_train, epoch)
            val_loss, val_r2 = trainer.validate(X_val)
            seconds = time.perf_counter() - start
            record = EpochRecord(epoch, train_loss, val_loss, val_r2, seconds)
            state = _advance(state, record, settings)
            if state["best_epoch"] == epoch:
                meta = {"epoch": epoch, "val_loss": val_loss, "val_r2": val_r2}
                ckpt.write_weights(folder, model, meta)
            ckpt.write_state(folder, model, optimizer, state)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    train=f"{train_loss:.4f}", val=f"{val_loss:.4f}", r2=f"{val_r2:.3f}"
                )
            if callback is not None:
                callback(record)
        else:
            if state["bad_epochs"] >= settings.patience:
                stop = "early_stopping"
    finally:
        if bar is not None:
            bar.close()
    state = {**state, "finished": True, "stop_reason": stop, "epochs_budget": settings.epochs,
             "notes": notes}  # fmt: skip
    ckpt.write_state(folder, model, optimizer, state)
    return _result(folder, state, data, resumed)


def _device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise LearnError(f"--device {device!r}: expected cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LearnError("--device cuda: no CUDA device is available here; use --device cpu")
    return dev


def _prepare_folder(folder: Path, config: dict[str, Any], restart: bool) -> bool:
    """Write the config of a new training, or return True when ``folder`` holds one to resume."""
    if (folder / ckpt.CONFIG).is_file():
        same = _identity(ckpt.read_config(folder)) == _identity(config)
        if same and not restart and (folder / ckpt.CHECKPOINT).is_file():
            return True
        if not same and not restart:
            raise LearnError(
                f"{folder}: holds an encoder trained with other settings or models; choose "
                "another -o folder, or pass --restart to discard it"
            )
        for name in (ckpt.CHECKPOINT, ckpt.ENCODER):
            (folder / name).unlink(missing_ok=True)
    elif folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise LearnError(
            f"{folder}: exists and is not an encoder folder; choose an empty -o folder"
        )
    ckpt.write_config(folder, config)
    return False


def _identity(config: dict[str, Any]) -> Any:
    settings = {k: v for k, v in config.get("settings", {}).items() if k not in _BUDGET}
    zoo = {k: v for k, v in config.get("zoo", {}).items() if k != "path"}
    return [settings, zoo, config.get("layout"), config.get("tokens")]


def _advance(state: dict[str, Any], record: EpochRecord, settings: TrainSettings) -> dict[str, Any]:
    history = [*state["history"], dataclasses.asdict(record)]
    improved = record.val_loss < state["best_val_loss"] - 1e-6 * abs(state["best_val_loss"])
    if not math.isfinite(state["best_val_loss"]):
        improved = math.isfinite(record.val_loss)
    out = {**state, "epoch": record.epoch, "history": history,
           "seconds": state["seconds"] + record.seconds}  # fmt: skip
    if improved:
        out.update(best_epoch=record.epoch, best_val_loss=record.val_loss,
                   best_val_r2=record.val_r2, bad_epochs=0)  # fmt: skip
    else:
        out["bad_epochs"] = state["bad_epochs"] + 1
    return out


def _result(folder: Path, state: dict[str, Any], data: ZooData, resumed: int | None) -> TrainResult:
    return TrainResult(
        folder=folder,
        history=tuple(EpochRecord(**h) for h in state["history"]),
        best_epoch=int(state["best_epoch"]),
        best_val_loss=float(state["best_val_loss"]),
        best_val_r2=float(state["best_val_r2"]),
        stop_reason=str(state.get("stop_reason", "")),
        seconds=float(state["seconds"]),
        n_models=len(data.ids),
        n_samples=int(data.vectors.shape[0]),
        resumed_from=resumed,
        notes=tuple(state.get("notes", ())),
    )


def _bar(show: bool, total: int, initial: int) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="epoch", desc="learn", file=sys.stderr)


class _Trainer:
    """One epoch of training and the validation scores (the loop's state lives in the caller)."""

    def __init__(
        self,
        model: HyperAutoencoder,
        optimizer: torch.optim.Optimizer,
        tm: TokenMap,
        permuter: Permuter | None,
        settings: TrainSettings,
        device: torch.device,
    ) -> None:
        self.model, self.optimizer, self.tm = model, optimizer, tm
        self.permuter, self.settings, self.device = permuter, settings, device
        self.positions = token_positions(tm).to(device)
        self.mask = torch.from_numpy(tm.mask)
        self.mask_dev = self.mask.to(device)

    def epoch(self, X: np.ndarray, epoch: int) -> float:
        s = self.settings
        rng = np.random.default_rng(_seed(s.seed, epoch, 1))
        gen = torch.Generator().manual_seed(_seed(s.seed, epoch, 2))
        self.model.train()
        total, count = 0.0, 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_seed(s.seed, epoch, 3))
            for idx in _batches(len(X), s.batch_size, rng):
                inputs, target = _views(X[idx], self.tm, self.permuter, s, rng, gen, self.mask)
                loss = _loss(
                    self.model, inputs.to(self.device), target.to(self.device),
                    self.positions, self.mask_dev, s,
                )  # fmt: skip
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                self.optimizer.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
        return total / max(count, 1)

    @torch.no_grad()
    def validate(self, X: np.ndarray) -> tuple[float, float]:
        s = self.settings
        self.model.eval()
        rng = np.random.default_rng(_seed(s.seed, 2**31, 1))
        gen = torch.Generator().manual_seed(_seed(s.seed, 2**31, 2))
        total, count, preds, clean = 0.0, 0, [], []
        for idx in _batches(len(X), 256, np.random.default_rng(0)):
            inputs, target = _views(X[np.sort(idx)], self.tm, self.permuter, s, rng, gen, self.mask)
            loss = _loss(
                self.model, inputs.to(self.device), target.to(self.device),
                self.positions, self.mask_dev, s,
            )  # fmt: skip
            total += float(loss) * len(idx)
            count += len(idx)
            tokens = torch.from_numpy(self.tm.tokenize(X[np.sort(idx)])).to(self.device)
            _, rec = self.model(tokens, self.positions)
            preds.append(rec.cpu().numpy())
            clean.append(tokens.cpu().numpy())
        r2 = reconstruction_r2(np.concatenate(preds), np.concatenate(clean), self.tm.mask)
        return total / max(count, 1), r2
