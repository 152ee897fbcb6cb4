"""The published numbers of Schürholt et al., *Self-Supervised Representation Learning on Neural
Network Weights for Model Characteristic Prediction* (NeurIPS 2021), in one place.

All numbers are in percent: test R^2 of a linear (ridge) probe for continuous targets, accuracy of a
linear classifier for categorical ones, on the test models of a split by model. The paper's zoo
names map to our targets: EPH = ``epoch``, ACC = ``test_acc``, GGAP = ``ggap`` (train - test
accuracy), LR = ``learning_rate``, l2-REG = ``weight_decay``, DROP = ``dropout``, TF = the training
fraction (no column in our zoos), ACT = ``activation``, INIT = ``init``, OPT = ``optimizer``.
"""

from __future__ import annotations

__all__ = ["PAPER_HYP", "PAPER_OOD", "PAPER_TARGETS", "PAPER_ZOO"]

#: The zoo the main comparison comes from (Unterthiner et al.'s CNN zoo on MNIST, 4,970 weights).
PAPER_ZOO = "MNIST-HYP"

#: Targets in the paper's row order: (our column, the paper's label).
PAPER_TARGETS: tuple[tuple[str, str], ...] = (
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

#: MNIST-HYP, per target: (W, s(W), E_cD) in percent (the paper's results table).
PAPER_HYP: dict[str, tuple[float, float, float]] = {
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

#: Out of distribution, Kendall's tau of test accuracy: representation and linear probe fitted on
#: MNIST-HYP, applied to each zoo: (W, s(W), E_c+D) (the paper's OOD table, row MNIST-HYP).
PAPER_OOD: dict[str, tuple[float, float, float]] = {
    "MNIST-HYP": (0.36, 0.29, 0.36),
    "FASHION-HYP": (0.21, 0.14, 0.27),
    "SVHN-HYP": (0.26, 0.12, 0.23),
    "CIFAR10-HYP": (-0.01, -0.04, 0.02),
}
