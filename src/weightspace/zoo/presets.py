"""Named zoo plans for this project's machines (``weightspace zoo generate --preset NAME``).

A preset fixes everything a zoo needs: the hyper-parameter space, the number of models, the datasets,
the common input shape, scaled-down widths for CPUs, the training budget. The faithful NWS settings
stay the defaults of :class:`ZooPlan`; presets are the documented reductions that make a zoo finish
here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from weightspace.errors import WeightspaceError
from weightspace.zoo.space import HyperSpace, IntRange, get_space, load_space
from weightspace.zoo.tasks import htt_plan_fields

__all__ = ["ZooPlan", "get_preset", "list_presets", "register_preset"]


@dataclass(frozen=True)
class ZooPlan:
    """Everything that defines a zoo; the same plan always yields the same models.

    Parameters
    ----------
    space : str
        A registered hyper-parameter space (:func:`weightspace.zoo.space.list_spaces`), or the
        path of a user space file (``.toml``/``.yaml``, see :func:`weightspace.zoo.space.load_space`).
    n : int
        Number of models (sampled), or, for ``grid=True``, repeats of the full grid.
    datasets : tuple of str
        Datasets the space's ``dataset`` parameter chooses from.
    seed : int, default=0
        Seed of the sampling (and of the validation splits).
    grid : bool, default=False
        Enumerate the space's grid instead of sampling (finite spaces such as ``schurholt-cnn``);
        ``n`` full passes over the grid.
    grid_subset : bool, default=False
        With ``grid``: ``n`` counts models, the first ``n`` configs of the grid in a fixed random
        order (a permutation seeded with ``seed``); ``n`` equal to the grid's size trains all of it
        once. So ``--n`` scales a large grid down to an unbiased subset.
    input_shape : tuple of int, optional
        Common input shape ``(C, H, W)`` every dataset is converted to (NWS: ``(3, 32, 32)``);
        None keeps each dataset's own shape.
    model_overrides : dict
        Extra keywords for the architecture (e.g. ``width_scale`` for CPU presets).
    space_overrides : dict
        Parameters of the space replaced before sampling (e.g. a fixed architecture).
    min_epochs, max_epochs : int
        The early-stopping window (NWS: at least 20 epochs).
    n_snapshots : int, default=20
    train_samples : int, optional
        Use at most this many (class-balanced) training samples per dataset.
    input_norm : (mean, std), optional
        Inputs are fed to the networks as ``(x - mean) / std`` (:class:`~weightspace.zoo.train.TrainConfig`);
        None feeds the ``[0, 1]`` images (NWS).
    cover : tuple of str, default=()
        Categorical parameters whose every value must occur in the sample (the sampling seed is
        advanced deterministically until they do).
    description : str
    """

    space: str
    n: int
    datasets: tuple[str, ...]
    seed: int = 0
    grid: bool = False
    grid_subset: bool = False
    input_shape: tuple[int, int, int] | None = (3, 32, 32)
    model_overrides: dict[str, Any] = field(default_factory=dict)
    space_overrides: dict[str, Any] = field(default_factory=dict)
    min_epochs: int = 20
    max_epochs: int = 300
    n_snapshots: int = 20
    train_samples: int | None = None
    input_norm: tuple[float, float] | None = None
    cover: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise WeightspaceError(f"zoo plan: n must be a positive integer; got {self.n!r}")
        if not self.datasets:
            raise WeightspaceError("zoo plan: give at least one dataset (--datasets a,b,...)")
        if self.grid_subset and not self.grid:
            raise WeightspaceError("zoo plan: grid_subset=True needs grid=True")
        if self.min_epochs > self.max_epochs:
            raise WeightspaceError(
                f"zoo plan: min_epochs ({self.min_epochs}) is above max_epochs ({self.max_epochs}); "
                "lower --min-epochs or raise --max-epochs"
            )

    def hyperspace(self) -> HyperSpace:
        """The space with the plan's datasets and overrides.

        ``space`` is a registered name, or the path of a ``.toml``/``.yaml`` space file.
        """
        if self.space.lower().endswith((".toml", ".yaml", ".yml")):
            space = load_space(self.space).replace(dataset=list(self.datasets))
        else:
            space = get_space(self.space, datasets=self.datasets)
        return space.replace(**self.space_overrides) if self.space_overrides else space

    def with_(self, **changes: Any) -> ZooPlan:
        """A copy with fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_PRESETS: dict[str, Callable[[], ZooPlan]] = {}


def register_preset(name: str, factory: Callable[[], ZooPlan]) -> None:
    """Register a preset under ``name`` (a factory returning a :class:`ZooPlan`)."""
    _PRESETS[name] = factory


def list_presets() -> list[str]:
    """Names of the registered presets."""
    return sorted(_PRESETS)


def get_preset(name: str) -> ZooPlan:
    """The plan of a preset."""
    if name not in _PRESETS:
        raise WeightspaceError(f"unknown preset {name!r}; choose one of {list_presets()}")
    return _PRESETS[name]()


# A small NWS CNN for CPUs: the fixed NWS architecture (filter 5 -> 3, 3 conv + 2 FC layers) with
# widths scaled down, on 16 x 16 inputs. Optimizer, activation, initialization, learning rate,
# batch size and augmentation are sampled from the NWS space as they are.
_SMALL_NWS = {
    "filter_size": 3,
    "conv_layers": 3,
    "fc_layers": 2,
    "conv_width": 4,
    "fc_width": 64,
}

register_preset(
    "demo",
    lambda: ZooPlan(
        space="nws",
        n=160,
        datasets=("digits", "mnist10k", "shapes", "textures"),
        input_shape=(3, 16, 16),
        space_overrides=_SMALL_NWS | {"batch_size": [32, 64]},
        min_epochs=20,
        max_epochs=20,
        train_samples=1600,
        cover=("dataset", "optimizer", "activation", "init", "augmentation"),
        description=(
            "160 small NWS CNNs (filter 3, 3 conv + 2 FC layers, widths 4/64, 16x16 inputs, "
            "1,600 training images) on digits, mnist10k, shapes and textures; every NWS optimizer, "
            "activation and initialization; exactly 20 epochs (the NWS minimum); about 5 minutes "
            "on 2 cores"
        ),
    ),
)

register_preset(
    "nws-mini",
    lambda: ZooPlan(
        space="nws",
        n=1200,
        datasets=("digits", "mnist10k", "shapes", "textures"),
        input_shape=(3, 16, 16),
        space_overrides={
            "filter_size": [3, 5],
            "conv_layers": [3, 4],
            "fc_layers": [2, 3],
            "conv_width": [4, 8],
            "fc_width": [64, 128],
        },
        min_epochs=20,
        max_epochs=60,
        cover=("dataset", "optimizer", "activation", "init", "augmentation"),
        train_samples=2000,
        description=(
            "1,200 NWS CNNs with sampled architectures (filter 3/5, 3-4 conv, 2-3 FC layers, widths "
            "4-8/64-128), 16x16 inputs, 2,000 training images per dataset, NWS early stopping within 20-60 "
            "epochs: the base of the paper reproductions; a few hours on 2 cores"
        ),
    ),
)

register_preset(
    "schurholt-mnist",
    lambda: ZooPlan(
        space="schurholt-cnn",
        n=1,
        grid=True,
        datasets=("mnist10k",),
        input_shape=None,
        min_epochs=50,
        max_epochs=50,
        description="Schürholt et al.'s CNN grid (256 configs, 50 epochs, batch 10) on mnist10k",
    ),
)


# The NWS space as it is (sampled architectures, Table 1) on real data at the paper's 3x32x32:
# grey MNIST and Fashion-MNIST tiled to three channels, and colour_shapes for colour inputs.
NWS_REAL_N = 200
NWS_REAL_TRAIN = 5000
NWS_REAL_MAX_EPOCHS = 40
register_preset(
    "nws-real",
    lambda: ZooPlan(
        space="nws",
        n=NWS_REAL_N,
        datasets=("mnist", "fashion_mnist", "colour_shapes"),
        input_shape=(3, 32, 32),
        min_epochs=20,
        max_epochs=NWS_REAL_MAX_EPOCHS,
        train_samples=NWS_REAL_TRAIN,
        cover=("dataset", "optimizer", "activation", "init", "augmentation"),
        description=(
            f"{NWS_REAL_N} NWS CNNs, the full NWS space (sampled architectures, filters 3-7, 3-5 conv "
            "and 2-4 FC layers, widths 4-12/64-192) at 3x32x32 on mnist, fashion_mnist (grey, tiled) "
            f"and colour_shapes (RGB); {NWS_REAL_TRAIN:,} class-balanced training images per dataset "
            f"(NWS: all), NWS early stopping within 20-{NWS_REAL_MAX_EPOCHS} epochs; about one night on "
            "2 cores"
        ),
    ),
)

# nws-mini's reductions (16x16, 2,000 training images, the smaller architecture grid) on the real
# datasets of nws-real: a real-data zoo that a 2-core session can finish, and the controlled
# comparison with nws-mini (the same space and budget; only the data differ).
register_preset(
    "nws-real-mini",
    lambda: replace(
        get_preset("nws-mini"),
        n=600,
        datasets=("mnist", "fashion_mnist", "colour_shapes"),
        description=(
            "600 NWS CNNs with nws-mini's reductions (filter 3/5, 3-4 conv, 2-3 FC layers, widths "
            "4-8/64-128, 3x16x16 inputs, 2,000 training images per dataset, NWS early stopping within "
            "20-60 epochs) on the real data of nws-real: mnist, fashion_mnist (grey, tiled) and "
            "colour_shapes (RGB)"
        ),
    ),
)

# Schürholt et al.'s model zoos of their 2,464-parameter CNN on 28x28 grey inputs: batch 10, 50
# epochs, a checkpoint every epoch. The seed zoos fix one configuration and vary only the seed.
_SEED_ZOO = {
    "activation": "tanh",
    "dropout": 0.0,
    "init": "uniform",
    "optimizer": "adam",
    "learning_rate": 3e-4,
    "weight_decay": 0.0,
    "seed": IntRange(1, 1000),
}
_SCHURHOLT_SNAPSHOTS = 51  # the initialization and the end of each of the 50 epochs


# Their data loaders normalize the inputs (torchvision ``Normalize``); with the U(0, 1) init of the
# seed zoos, unnormalized [0, 1] inputs saturate tanh and every model stays at chance.
SCHURHOLT_INPUT_NORM = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.5, 0.5)}


def _schurholt_seed(dataset: str, label: str) -> ZooPlan:
    mean, std = SCHURHOLT_INPUT_NORM[dataset]
    return ZooPlan(
        space="schurholt-cnn",
        n=1000,
        grid=True,
        grid_subset=True,
        datasets=(dataset,),
        input_shape=None,
        space_overrides=_SEED_ZOO,
        min_epochs=50,
        max_epochs=50,
        n_snapshots=_SCHURHOLT_SNAPSHOTS,
        input_norm=(mean, std),
        description=(
            f"{label}-SEED (Schürholt et al. 2021): their 2,464-parameter CNN on {dataset} (28x28, "
            f"inputs normalized as theirs: (x - {mean}) / {std}), one configuration (tanh, no dropout, "
            "uniform init, Adam 3e-4, no weight decay), seeds 1-1000 (--n N: N of them), batch 10, 50 "
            "epochs, 51 snapshots (the initialization and every epoch)"
        ),
    )


register_preset("schurholt-mnist-seed", lambda: _schurholt_seed("mnist", "MNIST"))
register_preset("schurholt-fmnist-seed", lambda: _schurholt_seed("fashion_mnist", "FMNIST"))

_HYP_GRID = (
    "activation {tanh, relu, sigmoid, gelu} x dropout {0, 0.5} x init {uniform, normal, "
    "kaiming_uniform, kaiming_normal} x optimizer {adam, sgd momentum 0.9} x lr {1e-3, 1e-4} x weight "
    "decay {1e-3, 1e-4} (256 configs) x seeds 1-5 = 1,280 models (--n N: N of them in a fixed random "
    "order)"
)

# The reduced HYP zoos: the same grid, 5 epochs on 600 training images per class (1/10 of the data),
# 6 snapshots (the initialization and every epoch). 1/100 of the full budget: about 5 s per model on
# 2 cores, so a session trains a 1,000-model zoo, the size hyper-representations need.
HYP_MINI_EPOCHS = 5
HYP_MINI_TRAIN = 6000


def _schurholt_hyp(dataset: str, label: str, *, mini: bool) -> ZooPlan:
    mean, std = SCHURHOLT_INPUT_NORM[dataset]
    epochs = HYP_MINI_EPOCHS if mini else 50
    budget = (
        f"batch 10, {epochs} epochs on {HYP_MINI_TRAIN:,} class-balanced training images (theirs: 50 "
        f"epochs on all 60,000), {epochs + 1} snapshots"
        if mini
        else "batch 10, 50 epochs, 51 snapshots"
    )
    return ZooPlan(
        space="schurholt-cnn",
        n=1280,
        grid=True,
        grid_subset=True,
        datasets=(dataset,),
        input_shape=None,
        space_overrides={"seed": IntRange(1, 5)} | ({"epochs": epochs} if mini else {}),
        min_epochs=epochs,
        max_epochs=epochs,
        n_snapshots=epochs + 1,
        train_samples=HYP_MINI_TRAIN if mini else None,
        input_norm=(mean, std),
        description=(
            f"{label}-HYP-5-FIX-SEED (Schürholt et al. 2021){', reduced' if mini else ''}: their CNN on "
            f"{dataset} (inputs normalized as theirs: (x - {mean}) / {std}) over the grid {_HYP_GRID}, "
            f"{budget}"
        ),
    )


register_preset("schurholt-mnist-hyp", lambda: _schurholt_hyp("mnist", "MNIST", mini=False))
register_preset("schurholt-mnist-hyp-mini", lambda: _schurholt_hyp("mnist", "MNIST", mini=True))
register_preset(
    "schurholt-fmnist-hyp-mini", lambda: _schurholt_hyp("fashion_mnist", "FMNIST", mini=True)
)

register_preset("htt-mnist10k-mlp", lambda: ZooPlan(**htt_plan_fields("mlp", n_tasks=20, runs=40)))
register_preset("htt-mnist10k-cnn", lambda: ZooPlan(**htt_plan_fields("cnn", n_tasks=20, runs=40)))

# The CNN task zoo at MNIST's own 28x28 (the chain normalization paper trains at the data's size);
# sized for a 2-core session: 10 class pairs x 10 seeds, 1,000 training images per pair. Chain 3's
# Gram matrix is 3,969 x 3,969 at this size (81 columns x 49 positions), so reproduce it with
# `--chains 1,2`.
register_preset(
    "htt-mnist-cnn",
    lambda: ZooPlan(
        **htt_plan_fields("cnn", dataset="mnist", n_tasks=10, runs=10, input_size=28)
        | {
            "train_samples": 1000,
            "description": (
                "hypothesis-training-testing task zoo at full size: 10 random class pairs of mnist x "
                "10 seeds = 100 plain-cnn nets, 28x28 grey inputs, 1,000 training images per pair, "
                "SGD, 12 epochs"
            ),
        }
    ),
)
