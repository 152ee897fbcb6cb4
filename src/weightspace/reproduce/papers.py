"""Published numbers and claims the reproductions print beside ours, in one place.

One section per paper; every entry names the paper, the table or figure and what it measures. They
are *their* zoos' numbers: our zoos differ (sizes, datasets, architectures), so a row of ours is
never the same experiment as a row here. Where a paper's figure lost its values in the text, its
words stand instead.

The probes (:mod:`weightspace.probe`) know no paper: :func:`with_paper` attaches the matching
:class:`~weightspace.probe.report.Reference` to a probe's result (the ``probe`` commands and the
reproductions call it), so that the result shows the paper's numbers beside its own.

- Accuracy prediction from weights (Unterthiner et al. 2020; Zhou et al. 2023; Kofinas et al. 2024):
  :data:`ACCURACY_PREDICTION`.
- NWS, Eilertsen et al. 2020, *Classifying the classifier: dissecting the weight space of neural
  networks*: :data:`NWS_IMPORTANCE`, :data:`NWS_SIGNS`, :data:`NWS_RANKING`, :data:`NWS_DMC`,
  :data:`NWS_MAPS`, :data:`NWS_FIG18` (the DMC architecture of its Table 3 is the method's
  default, in :mod:`weightspace.probe.dmc_models`).
- Chain normalization, *Understanding Weight Similarity of Neural Networks via Chain Normalization
  Rule and Hypothesis-Training-Testing*: :data:`HTT_TINY_IMAGENET`, :data:`HTT_OTHER`.
- MI-WD (mutual-information weight descriptors) and its supplement: :data:`MIWD_INVARIANCE`,
  :data:`MIWD_FIG3`, :data:`MIWD_FIGURES`.
- Hyper-representations, Schürholt et al. 2021, *Self-Supervised Representation Learning on Neural
  Network Weights for Model Characteristic Prediction* (NeurIPS 2021): :data:`HYP_ZOO`,
  :data:`HYP_TARGETS`, :data:`HYP_RESULTS`, :data:`HYP_OOD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from weightspace.probe.dmc_result import DMCResult
from weightspace.probe.htt import HTTResult
from weightspace.probe.performance_map import PerformanceMapResult
from weightspace.probe.regression import RegressionResult
from weightspace.probe.report import ProbeResult, Reference, with_reference
from weightspace.probe.svm import SVMResult

__all__ = [
    "ACCURACY_PREDICTION",
    "HTT_OTHER",
    "HTT_TINY_IMAGENET",
    "HYP_OOD",
    "HYP_RESULTS",
    "HYP_TARGETS",
    "HYP_ZOO",
    "MIWD_FIG3",
    "MIWD_FIGURES",
    "MIWD_INVARIANCE",
    "NWS_DMC",
    "NWS_FIG18",
    "NWS_IMPORTANCE",
    "NWS_MAPS",
    "NWS_RANKING",
    "NWS_SIGNS",
    "PublishedNumber",
    "htt_reference",
    "nws_dmc_reference",
    "nws_maps_reference",
    "nws_regression_reference",
    "nws_svm_reference",
    "with_paper",
]

R = TypeVar("R", bound=ProbeResult)


# ================================================================== accuracy prediction
@dataclass(frozen=True)
class PublishedNumber:
    """One number of a paper.

    Attributes
    ----------
    paper : str
        Short citation.
    method : str
    zoo : str
        The zoo (and dataset) it was measured on.
    metric : str
        ``"kendall_tau"`` or ``"r2"`` (test split).
    value : float
    note : str
    """

    paper: str
    method: str
    zoo: str
    metric: str
    value: float
    note: str = ""


_UNTERTHINER = "Unterthiner et al. 2020"
_ZHOU = "Zhou et al. 2023 (NFN)"
_KOFINAS = "Kofinas et al. 2024"

#: Test Kendall tau (and R^2) of accuracy prediction from weights on the Small CNN Zoo
#: (Unterthiner et al. 2020), NFN protocol: final checkpoints, 50% test, the rest 80/20
#: train/validation. As quoted by Zhou et al. 2023 and Kofinas et al. 2024.
ACCURACY_PREDICTION: tuple[PublishedNumber, ...] = (
    PublishedNumber(_ZHOU, "StatNN", "Small CNN Zoo CIFAR10-GS", "kendall_tau", 0.915,
                    "statistics + MLP (Unterthiner et al.), run by Zhou et al."),
    PublishedNumber(_ZHOU, "StatNN", "Small CNN Zoo SVHN-GS", "kendall_tau", 0.843),
    PublishedNumber(_ZHOU, "NFN-NP", "Small CNN Zoo CIFAR10-GS", "kendall_tau", 0.922),
    PublishedNumber(_ZHOU, "NFN-NP", "Small CNN Zoo SVHN-GS", "kendall_tau", 0.856),
    PublishedNumber(_ZHOU, "NFN-HNP", "Small CNN Zoo CIFAR10-GS", "kendall_tau", 0.934),
    PublishedNumber(_ZHOU, "NFN-HNP", "Small CNN Zoo SVHN-GS", "kendall_tau", 0.931),
    PublishedNumber(_KOFINAS, "NG-GNN", "Small CNN Zoo CIFAR10-GS", "kendall_tau", 0.930),
    PublishedNumber(_KOFINAS, "NG-T", "Small CNN Zoo CIFAR10-GS", "kendall_tau", 0.935),
    PublishedNumber(_UNTERTHINER, "statistics + gradient-boosted trees", "Small CNN Zoo",
                    "r2", 0.98, "the dataset of the zoo is not stated in our source"),
)  # fmt: skip


# ================================================================== NWS (Eilertsen et al. 2020)
#: Sec. 5.2, appendix E.2: what it found most important for the linear SVMs on layer-wise
#: statistics, by hyper-parameter. The figures' values are lost in the text; these are its words.
NWS_IMPORTANCE: dict[str, str] = {
    "dataset": "1 and 99 percentiles of the differences of the first conv layer's filters",
    "optimizer": "bias weights of the conv layers (percentiles)",
    "activation": "batch-norm running mean of the FC layers",
    "init": "no single layer or weight type (global statistics work better)",
}
#: Sec. 4.2, appendix D (Figs. 1, 14): signs of the accuracy-regression coefficients it reports,
#: better (+1) or worse (-1) than the other values of the hyper-parameter, on every dataset.
NWS_SIGNS: dict[tuple[str, str], int] = {
    ("init", "glorot_uniform"): 1,
    ("init", "glorot_normal"): 1,
    ("init", "constant"): -1,
    ("init", "normal"): -1,
    ("optimizer", "adam"): 1,
    ("optimizer", "rmsprop"): 1,
    ("optimizer", "sgd"): -1,
    ("activation", "relu"): 1,
    ("activation", "elu"): 1,
    ("activation", "sigmoid"): -1,
    ("activation", "tanh"): -1,
}
#: Sec. 4.2: influence of the hyper-parameters on the test accuracy, "the single most influential
#: parameter is the initialization, followed by activation function and optimizer".
NWS_RANKING: tuple[str, ...] = ("init", "activation", "optimizer")
#: Figs. 2 and 4: what it says of the global and local deep meta-classifiers per hyper-parameter
#: (the bars' values are lost in the text; these are its words).
NWS_DMC: dict[str, str] = {
    "dataset": "predicted with fairly high accuracy (global); footprint more pronounced in the "
    "conv layers (local, Fig. 4)",
    "optimizer": "after initialization and activation the most distinct locally (conclusion)",
    "activation": "after initialization the most distinct locally (conclusion)",
    "init": "the most profound local property: the easiest to tell from 5,000 weights (Fig. 4)",
    "batch_size": "the one hyper-parameter the global DMC does not predict well (Fig. 2)",
    "augmentation": "like all but batch size, predicted fairly well by the global DMC (Fig. 2)",
    "filter_size": "predicted to some extent even from FC weights only (Fig. 4)",
    "learning_rate": "regressed (appendix F); no number survives in the text",
}
#: Fig. 5, appendix F.4 (Figs. 20-21): what it reads from its performance maps of local DMCs
#: (accuracy by depth and training time); the maps' values are lost.
NWS_MAPS: dict[str, str] = {
    "optimizer": "about uniform over depth, with a high peak close to the first layers (Fig. 5b)",
    "init": "falls during training, fastest in the first (conv) and the last layers; its minimum "
    "is still high (Fig. 5c)",
    "dataset": "footprint more pronounced in the conv layers (Figs. 4, 20a)",
    "activation": "rises at the beginning and the end of the network (Fig. 20e)",
    "augmentation": "a map in Fig. 5d; the text does not describe it",
    "batch_size": "close to chance (Figs. 4, 20b)",
    "filter_size": "conv weights best; a large part of the FC layers above chance too (Fig. 21a)",
}
#: Fig. 18, appendix F.2: local DMC accuracy against the window (subset) size; values lost.
NWS_FIG18 = (
    "accuracy grows about linearly with log(subset size); the activation DMC has a steeper slope "
    "than the dataset DMC (activation is a more global property)"
)


def nws_svm_reference(result: SVMResult) -> Reference:
    """NWS beside an SVM probe: Fig. 2's accuracies are lost; the feature importance it found
    (:data:`NWS_IMPORTANCE`) is for layer-wise statistics only, so shown for ``layer-stats``."""
    words = NWS_IMPORTANCE if result.representation == "layer-stats" else {}
    return Reference(
        words=words,
        texts={
            "row": "n/a (NWS Fig. 2: values lost in the text)",
            "note": "The paper's accuracies (NWS Fig. 2) are bars whose values the text lost, "
            "so none stands beside ours.",
        },
    )


def nws_regression_reference() -> Reference:
    """NWS beside an accuracy regression: :data:`NWS_SIGNS` and :data:`NWS_RANKING`."""
    return Reference(
        values={key: float(sign) for key, sign in NWS_SIGNS.items()},
        texts={
            "ranking": " > ".join(NWS_RANKING) + " (NWS 4.2; values lost)",
            "correlation": "all strongly correlated (values lost)",
            "note": "The paper's coefficients (NWS Figs. 1, 14, 15) are figures whose values the "
            "text lost; its stated findings (ranking, signs) stand beside ours.",
        },
    )


def nws_dmc_reference() -> Reference:
    """NWS beside a DMC probe: its words per target (:data:`NWS_DMC`)."""
    return Reference(
        words=NWS_DMC,
        texts={
            "row": "n/a (values lost)",
            "note": "NWS Figs. 2 and 4 (global and local DMC accuracies) are bars whose values "
            "the text lost: the paper column gives its words instead of a number.",
        },
    )


def nws_maps_reference() -> Reference:
    """NWS beside performance maps: its readings of its maps (:data:`NWS_MAPS`)."""
    return Reference(
        words=NWS_MAPS,
        texts={"summary": "the maps' values are lost in the text; its readings are quoted"},
    )


# ================================================================== chain normalization (HTT)
#: Sec. 4.1, Fig. 2 (values quoted in the text): tiny ImageNet, 50 tasks of 4 classes, 100
#: trainings each, MLP-4 and PlainNet-5. Weight-classification top-1 (``classification``) and
#: weight-retrieval rank-1 (``retrieval``) accuracy, with chain-normalized features (``chain``) or
#: the raw layer weights (``layer``): (network, protocol, features) -> chains 1, 2, 3.
HTT_TINY_IMAGENET: dict[tuple[str, str, str], tuple[float, float, float]] = {
    ("MLP", "classification", "chain"): (0.994, 0.997, 0.991),
    ("CNN", "classification", "chain"): (0.996, 0.993, 0.995),
    ("MLP", "classification", "layer"): (0.629, 0.024, 0.028),
    ("CNN", "classification", "layer"): (0.097, 0.044, 0.040),
    ("MLP", "retrieval", "chain"): (0.993, 0.988, 0.980),
    ("CNN", "retrieval", "chain"): (0.985, 0.963, 0.970),
    ("MLP", "retrieval", "layer"): (0.853, 0.095, 0.053),
    ("CNN", "retrieval", "layer"): (0.153, 0.088, 0.110),
}
#: Its other HTT numbers (normalized / unnormalized, classification top-1 / retrieval rank-1):
#: (where, what).
HTT_OTHER: tuple[tuple[str, str], ...] = (
    ("CIFAR-100, MLP-4 and PlainNet-5 (sec. 4.2, Fig. 3)", "normalized: about 98.0% top-1 and "
     "98.0% rank-1 (per-chain values lost)"),
    ("CIFAR-100 (appendix E table)", "unnormalized 17.2% top-1 / 21.3% rank-1; normalized 100.0% "
     "/ 95.7% (identical to the NameData table)"),
    ("NameData, GRU-2 (sec. 4.3)", "unnormalized 17.2% top-1 / 21.3% rank-1; normalized 100.0% / "
     "95.7%"),
    ("CIFAR-100, ResNet-MLP-12 (appendix D, Table 2)", "normalized top-1 100.0, 100.0, 100.0, "
     "99.7, 100.0% for chains 3, 5, 7, 9, 11"),
)  # fmt: skip


def htt_reference() -> Reference:
    """The chain-normalization paper beside an HTT probe: :data:`HTT_TINY_IMAGENET`."""
    return Reference(
        values={
            (network, protocol, features, chain + 1): value
            for (network, protocol, features), values in HTT_TINY_IMAGENET.items()
            for chain, value in enumerate(values)
        },
        texts={
            "header": "tiny ImageNet (sec. 4.1, chains 1-3)",
            "marker": "tiny ImageNet",
            "note": "Paper values beside ours: tiny ImageNet (50 tasks x 4 classes, 100 trainings, "
            "chains 1-3 as the text lists them); for CIFAR-100 (binary tasks as here) the text "
            "gives only 'about 98.0% top-1 and 98.0% rank-1' (normalized).",
        },
    )


# ================================================================== MI-WD
#: Supplement, Table 1: permutation invariance, the ratio of the mean distance between a model's
#: representation and its permuted copies' to the mean distance between models (0: invariant):
#: (representation, K) -> ratio.
MIWD_INVARIANCE: dict[tuple[str, int], float] = {
    ("global stats", 16): 0.024,
    ("raw", 16): 0.315,
    ("raw", 64): 0.320,
    ("raw", 256): 0.287,
    ("raw", 1024): 0.247,
    ("pca", 16): 0.049,
    ("pca", 64): 0.076,
    ("pca", 256): 0.145,
    ("pca", 1024): 0.317,
    ("random projection", 16): 0.347,
    ("random projection", 64): 0.320,
    ("random projection", 256): 0.329,
    ("random projection", 1024): 0.326,
    ("mi-wd", 16): 0.125,
    ("mi-wd", 64): 0.084,
    ("mi-wd", 256): 0.082,
    ("mi-wd", 1024): 0.113,
}
#: Fig. 3: linear-SVM accuracy of hyper-parameters (untangling) per representation; the bars'
#: values are lost, its claim stands.
MIWD_FIG3 = (
    "Fig. 3's bars are lost in the text; it reports MI-WD overall significantly better than the "
    "baselines, most of which cannot separate the variations"
)
#: Figs. 4 and 13: UMAP embeddings of the representations and of the training trajectories
#: (pictures, no numbers): what the text says of them, by figure.
MIWD_FIGURES: dict[str, str] = {
    "4": 'Fig. 4 is a picture (no numbers): MI-WD "shows distinct clusters"; raw, PCA and random '
    'projection "generate embeddings with little structure"; global statistics "have problems '
    'forming meaningful clusters"',
    "13": 'Fig. 13 is a picture (no numbers): "some of the hyper-parameter options show clear '
    'patterns, such as optimizer, activation function and initialization"; most initialization '
    "points cluster together; failed trainings (constant initialization, sigmoid) lie apart",
}


# ================================================================== hyper-representations
# All numbers in percent: test R^2 of a linear (ridge) probe for continuous targets, accuracy of a
# linear classifier for categorical ones, on the test models of a split by model. The paper's zoo
# names map to our targets: EPH = ``epoch``, ACC = ``test_acc``, GGAP = ``ggap`` (train - test
# accuracy), LR = ``learning_rate``, l2-REG = ``weight_decay``, DROP = ``dropout``, TF = the
# training fraction (no column in our zoos), ACT = ``activation``, INIT = ``init``, OPT =
# ``optimizer``.

#: The zoo the main comparison comes from (Unterthiner et al.'s CNN zoo on MNIST, 4,970 weights).
HYP_ZOO = "MNIST-HYP"
#: Targets in the paper's row order: (our column, the paper's label).
HYP_TARGETS: tuple[tuple[str, str], ...] = (
    ("epoch", "EPH"),
    ("test_acc", "ACC"),
    ("ggap", "GGAP"),
    ("learning_rate", "LR"),
    ("weight_decay", "l2-REG"),
    ("dropout", "DROP"),
    ("train_fraction", "TF"),
    ("activation", "ACT"),
    ("init", "INIT"),
    ("optimizer", "OPT"),
)
#: Its results table, MNIST-HYP, per target: linear-probe score (percent) of the weights W, their
#: statistics s(W) and the encoder E_cD.
HYP_RESULTS: dict[str, tuple[float, float, float]] = {
    "epoch": (25.8, 33.2, 50.0),
    "test_acc": (74.7, 81.5, 94.9),
    "ggap": (23.4, 24.4, 27.4),
    "learning_rate": (29.3, 34.3, 37.1),
    "weight_decay": (12.5, 16.5, 20.1),
    "dropout": (28.5, 19.2, 35.8),
    "train_fraction": (3.8, 7.8, 15.9),
    "activation": (88.6, 81.1, 88.7),
    "init": (94.6, 72.0, 80.6),
    "optimizer": (76.7, 65.4, 66.4),
}
#: Its out-of-distribution table, row MNIST-HYP: Kendall's tau of test accuracy, representation
#: and linear probe fitted on MNIST-HYP, applied to each zoo: (W, s(W), E_c+D).
HYP_OOD: dict[str, tuple[float, float, float]] = {
    "MNIST-HYP": (0.36, 0.29, 0.36),
    "FASHION-HYP": (0.21, 0.14, 0.27),
    "SVHN-HYP": (0.26, 0.12, 0.23),
    "CIFAR10-HYP": (-0.01, -0.04, 0.02),
}


# ================================================================== attaching
def with_paper(result: R) -> R:
    """``result`` with its paper's numbers and words beside its own (unchanged when no paper
    measured that probe).

    SVM, regression, DMC and performance-map results get NWS (:func:`nws_svm_reference`, ...),
    HTT results the chain-normalization paper (:func:`htt_reference`).
    """
    reference: Reference
    if isinstance(result, SVMResult):
        reference = nws_svm_reference(result)
    elif isinstance(result, RegressionResult):
        reference = nws_regression_reference()
    elif isinstance(result, DMCResult):
        reference = nws_dmc_reference()
    elif isinstance(result, PerformanceMapResult):
        reference = nws_maps_reference()
    elif isinstance(result, HTTResult):
        reference = htt_reference()
    else:
        return result
    return with_reference(result, reference)
