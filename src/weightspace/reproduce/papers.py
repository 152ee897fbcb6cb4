"""Published numbers the reproductions print beside ours, in one place.

Each entry names the paper, the method, the zoo it was measured on and the metric. They are
*their* zoos' numbers: our zoos differ (sizes, datasets, architectures), so a row of ours is
never the same experiment as a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ACCURACY_PREDICTION", "PublishedNumber"]


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
