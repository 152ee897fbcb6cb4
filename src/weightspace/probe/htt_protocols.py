"""The engine of hypothesis-training-testing: the weight classifier, its two protocols, the test.

Arrays in, scores out (:mod:`weightspace.probe.htt` runs them on a library). See
:mod:`weightspace.probe.htt` for the paper and the protocols.

- :class:`WeightClassifier`: one linear layer, softmax, cross-entropy (the paper's sec. 3.4);
- :func:`classification_protocol`: per task 60% of the trainings train, 40% test (top-1);
- :func:`retrieval_protocol`: train on some tasks, retrieve the unseen tasks' trainings with the
  classifier's outputs as embedding (CMC, mAP);
- :func:`retrieval_scores`: CMC curve and mAP of a similarity matrix;
- :func:`htt_decision`: accept the hypothesis when the error is below ``alpha``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from weightspace.probe.common import ProbeError

__all__ = [
    "ClassificationScores",
    "HTTDecision",
    "RetrievalScores",
    "WeightClassifier",
    "classification_protocol",
    "htt_decision",
    "retrieval_protocol",
    "retrieval_scores",
]


# ------------------------------------------------------------------------------ the classifier
class WeightClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """The paper's weight classifier: one linear layer, softmax, cross-entropy (sec. 3.4).

    Minimizes ``mean cross-entropy + weight_decay / 2 * ||W||^2`` (bias not penalized) with
    L-BFGS (SciPy, float64). With more features than samples it is solved in the span of the
    training samples (``W = X^T A``, exact for an L2-penalized linear model), which makes
    Gram features of tens of thousands of entries cheap.

    Parameters
    ----------
    weight_decay : float, default=1e-3
        L2 penalty on the weights (> 0 makes the solution unique).
    standardize : bool, default=True
        Scale every feature to zero mean and unit variance on the training data first.
    max_iter : int, default=500
        L-BFGS iterations.
    solver : {"auto", "primal", "dual"}, default="auto"
        ``primal`` optimizes ``W``, ``dual`` the sample weights ``A``; ``auto`` takes the smaller.

    Attributes
    ----------
    classes_ : numpy.ndarray
    coef_ : numpy.ndarray of shape (n_classes, n_features)
        The linear layer on the raw (unstandardized) features.
    intercept_ : numpy.ndarray of shape (n_classes,)
    n_iter_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> X = rng.normal(size=(60, 5)) + np.eye(3, 5)[y] * 3
    >>> float(WeightClassifier().fit(X, y).score(X, y)) > 0.9
    True
    """

    def __init__(
        self,
        *,
        weight_decay: float = 1e-3,
        standardize: bool = True,
        max_iter: int = 500,
        solver: str = "auto",
    ) -> None:
        self.weight_decay = weight_decay
        self.standardize = standardize
        self.max_iter = max_iter
        self.solver = solver

    def _check_params(self) -> None:
        wd = self.weight_decay
        if isinstance(wd, bool) or not isinstance(wd, int | float) or not wd > 0:
            raise ProbeError(f"WeightClassifier.weight_decay must be > 0; got {wd!r}")
        it = self.max_iter
        if isinstance(it, bool) or not isinstance(it, int) or it < 1:
            raise ProbeError(f"WeightClassifier.max_iter must be a positive integer; got {it!r}")
        if self.solver not in ("auto", "primal", "dual"):
            raise ProbeError(
                f"WeightClassifier.solver must be 'auto', 'primal' or 'dual'; got {self.solver!r}"
            )

    def fit(self, X: Any, y: Any) -> WeightClassifier:
        """Fit the linear layer on ``X`` (n, d) and labels ``y`` (n,)."""
        self._check_params()
        data, labels = check_X_y(X, y, dtype=np.float64)
        check_classification_targets(labels)
        classes, codes = np.unique(labels, return_inverse=True)
        if classes.size < 2:
            raise ProbeError(
                "the weight classifier needs at least two classes (tasks); got 1 class"
            )
        if self.standardize:
            mean = data.mean(axis=0)
            std = data.std(axis=0)
            scale = np.where(std > 1e-12 * max(1.0, float(np.abs(data).max())), std, 1.0)
        else:
            mean, scale = np.zeros(data.shape[1]), np.ones(data.shape[1])
        Z = (data - mean) / scale
        n, d = Z.shape
        dual = self.solver == "dual" or (self.solver == "auto" and d > n)
        W, b, n_iter = _lbfgs(Z, codes, classes.size, float(self.weight_decay), dual, self.max_iter)
        # fitted state only now: a failed fit leaves the estimator unfitted
        self.classes_, self.n_features_in_, self.n_iter_ = classes, data.shape[1], n_iter
        self.mean_, self.scale_ = mean, scale
        self.coef_ = W.T / scale
        self.intercept_ = b - self.coef_ @ mean
        return self

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        data = check_array(X, dtype=np.float64)
        if data.shape[1] != self.n_features_in_:
            raise ProbeError(
                f"X has {data.shape[1]} features, but WeightClassifier is expecting "
                f"{self.n_features_in_} features as input (as in fit)"
            )
        out: np.ndarray = data @ self.coef_.T + self.intercept_
        return out

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores as scikit-learn expects them: the logits ``(n, n_classes)``, or for two classes
        the difference of the second logit and the first, ``(n,)``."""
        z = self._logits(X)
        if z.shape[1] == 2:
            diff: np.ndarray = z[:, 1] - z[:, 0]
            return diff
        return z

    def transform(self, X: Any) -> np.ndarray:
        """The weight representation of the retrieval protocol: the linear layer's outputs
        (logits), shape ``(n, n_classes)``."""
        return self._logits(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the logits."""
        z = self._logits(X)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        out: np.ndarray = z / z.sum(axis=1, keepdims=True)
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The class of the largest logit."""
        logits = self._logits(X)
        out: np.ndarray = self.classes_[np.argmax(logits, axis=1)]
        return out


def _lbfgs(
    Z: np.ndarray, codes: np.ndarray, k: int, wd: float, dual: bool, max_iter: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Minimize mean CE + wd/2 ||W||^2 over ``W`` (d, k) and ``b``; return W, b, iterations."""
    from scipy.optimize import minimize  # type: ignore[import-untyped]

    n = Z.shape[0]
    onehot = np.eye(k)[codes]
    K = Z @ Z.T if dual else None
    rows = n if dual else Z.shape[1]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        P, b = theta[:-k].reshape(rows, k), theta[-k:]
        KA = K @ P if K is not None else None
        logits = (KA if KA is not None else Z @ P) + b
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_norm
        penalty = float((P * KA).sum()) if KA is not None else float((P * P).sum())
        loss = -float((log_p * onehot).sum()) / n + 0.5 * wd * penalty
        G = (np.exp(log_p) - onehot) / n  # d loss / d logits
        grad = K @ (G + wd * P) if K is not None else Z.T @ G + wd * P
        return loss, np.concatenate([grad.ravel(), G.sum(axis=0)])

    theta0 = np.zeros(rows * k + k)
    res = minimize(
        objective, theta0, jac=True, method="L-BFGS-B",
        options={"maxiter": max_iter, "gtol": 1e-9, "ftol": 1e-13, "maxcor": 20},
    )  # fmt: skip
    P, b = res.x[:-k].reshape(rows, k), res.x[-k:]
    W = Z.T @ P if dual else P
    return W, b.copy(), int(res.nit)


# ------------------------------------------------------------------------------ statistics
@dataclass(frozen=True)
class HTTDecision:
    """The paper's test: accept the null hypothesis when the error is below ``alpha``.

    Attributes
    ----------
    error : float
        Test error (1 - top-1, or 1 - rank-1).
    n : int
        Test samples (trainings, or queries).
    alpha : float
    accept : bool
        ``error < alpha`` (the paper's rule).
    p_value : float
        Exact one-sided binomial p-value of "the true error is below alpha": ``P(X <= errors)``
        for ``X ~ Binomial(n, alpha)``; small when the error is significantly below ``alpha``.
    """

    error: float
    n: int
    alpha: float
    accept: bool
    p_value: float


def htt_decision(errors: int, n: int, alpha: float = 0.05) -> HTTDecision:
    """Accept or reject the hypothesis from ``errors`` mistakes in ``n`` test samples.

    Examples
    --------
    >>> d = htt_decision(1, 100, alpha=0.05)
    >>> d.accept, round(d.p_value, 4)
    (True, 0.0371)
    """
    from scipy.stats import binom  # type: ignore[import-untyped]

    if not 0.0 < alpha < 1.0:
        raise ProbeError(f"alpha must lie in (0, 1); got {alpha!r}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 or not 0 <= errors <= n:
        raise ProbeError(f"need 0 <= errors <= n and n >= 1; got errors={errors}, n={n}")
    error = errors / n
    return HTTDecision(error, int(n), alpha, error < alpha, float(binom.cdf(errors, n, alpha)))


def retrieval_scores(
    similarity: np.ndarray,
    query_labels: Sequence[Any] | np.ndarray,
    gallery_labels: Sequence[Any] | np.ndarray,
    *,
    max_rank: int = 10,
) -> tuple[np.ndarray, float, np.ndarray]:
    """CMC curve and mean average precision of a query x gallery similarity matrix.

    The gallery is ranked by decreasing similarity (ties in gallery order). ``CMC[r-1]`` is the
    share of queries with a gallery item of their label within the first ``r``; the average
    precision of a query is the mean, over its relevant gallery items, of the precision at each
    one's rank.

    Returns
    -------
    cmc : numpy.ndarray of shape (max_rank,)
    mAP : float
    ap : numpy.ndarray of shape (n_queries,)

    Examples
    --------
    >>> import numpy as np
    >>> sim = np.array([[0.9, 0.8, 0.1], [0.2, 0.9, 0.3]])
    >>> cmc, m, ap = retrieval_scores(sim, ["a", "b"], ["b", "a", "b"], max_rank=3)
    >>> cmc.tolist(), ap.round(4).tolist()
    ([0.0, 1.0, 1.0], [0.5, 0.5833])
    """
    sim = np.asarray(similarity, dtype=np.float64)
    q = np.asarray(query_labels, dtype=object)
    g = np.asarray(gallery_labels, dtype=object)
    if sim.shape != (q.size, g.size):
        raise ProbeError(f"similarity must have shape ({q.size}, {g.size}); got {sim.shape}")
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
        raise ProbeError(f"max_rank must be a positive integer; got {max_rank!r}")
    order = np.argsort(-sim, axis=1, kind="stable")
    relevant = g[order] == q[:, None]
    hits = relevant.sum(axis=1)
    if (hits == 0).any():
        raise ProbeError(
            f"query {int(np.argmin(hits))} has no gallery item of its label; every query needs one"
        )
    first = relevant.argmax(axis=1)  # 0-based rank of the first match
    cmc = np.array([(first < r).mean() for r in range(1, max_rank + 1)])
    ranks = np.arange(1, g.size + 1)
    precision = np.cumsum(relevant, axis=1) / ranks
    ap = (precision * relevant).sum(axis=1) / hits
    return cmc, float(ap.mean()), ap


# ------------------------------------------------------------------------------ protocols
@dataclass(frozen=True)
class ClassificationScores:
    """Top-1 of the classification protocol over ``n_repeats`` random 60/40 splits per task."""

    top1: np.ndarray
    errors: int
    n_test: int
    n_train: int
    n_classes: int

    @property
    def mean(self) -> float:
        """Mean top-1 over the repeats."""
        return float(self.top1.mean())


@dataclass(frozen=True)
class RetrievalScores:
    """CMC and mAP of the retrieval protocol over ``n_repeats`` random splits of the tasks."""

    cmc: np.ndarray
    mAP: np.ndarray
    errors: int
    n_queries: int
    n_gallery: int
    n_train_tasks: int
    n_test_tasks: int

    def rank(self, r: int) -> float:
        """Mean CMC at rank ``r`` over the repeats."""
        return float(self.cmc[:, min(r, self.cmc.shape[1]) - 1].mean())


def _rng(random_state: Any) -> np.random.Generator:
    return np.random.default_rng(random_state)


def _check_fraction(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not 0.0 < value < 1.0:
        raise ProbeError(f"{name} must lie in (0, 1); got {value!r}")


def classification_protocol(
    X: np.ndarray,
    tasks: Sequence[Any] | np.ndarray,
    *,
    train_fraction: float = 0.6,
    n_repeats: int = 1,
    classifier: WeightClassifier | None = None,
    random_state: Any = 0,
) -> ClassificationScores:
    """Per task, ``train_fraction`` of the trainings train the classifier, the rest test it.

    Parameters
    ----------
    X : array of shape (n, d)
        One feature row per training.
    tasks : sequence of shape (n,)
        The task of each training (the weight label).
    train_fraction : float, default=0.6
        The paper: 60 of 100 trainings per task.
    n_repeats : int, default=1
        Random splits; errors are pooled over them for the test.
    classifier : WeightClassifier, optional
        Default ``WeightClassifier()``.
    random_state : int, Generator or None, default=0
    """
    _check_fraction("train_fraction", train_fraction)
    y = np.asarray(tasks, dtype=object).astype(str)
    labels, counts = np.unique(y, return_counts=True)
    if labels.size < 2 or counts.min() < 2:
        raise ProbeError(
            "the classification protocol needs at least two tasks with two trainings each; "
            f"got {dict(zip(labels.tolist(), counts.tolist(), strict=True))}"
        )
    rng = _rng(random_state)
    base = classifier if classifier is not None else WeightClassifier()
    top1, errors, n_test, n_train = [], 0, 0, 0
    for _ in range(n_repeats):
        train, test = [], []
        for label in labels:
            idx = rng.permutation(np.flatnonzero(y == label))
            k = min(max(1, round(train_fraction * idx.size)), idx.size - 1)
            train.append(idx[:k])
            test.append(idx[k:])
        tr, te = np.concatenate(train), np.concatenate(test)
        model = WeightClassifier(**base.get_params()).fit(X[tr], y[tr])
        right = model.predict(X[te]) == y[te]
        top1.append(float(right.mean()))
        errors += int((~right).sum())
        n_test += te.size
        n_train = tr.size
    return ClassificationScores(np.array(top1), errors, n_test, n_train, labels.size)


def retrieval_protocol(
    X: np.ndarray,
    tasks: Sequence[Any] | np.ndarray,
    *,
    train_tasks: float = 0.6,
    query_fraction: float = 0.2,
    max_rank: int = 10,
    n_repeats: int = 1,
    classifier: WeightClassifier | None = None,
    random_state: Any = 0,
) -> RetrievalScores:
    """Train on the trainings of some tasks, retrieve the trainings of the unseen ones.

    Parameters
    ----------
    X : array of shape (n, d)
    tasks : sequence of shape (n,)
    train_tasks : float, default=0.6
        Share of the tasks the classifier is trained on (the paper: 30 of 50).
    query_fraction : float, default=0.2
        Share of each unseen task's trainings used as queries (the paper: 20 of 100); the rest
        is the gallery.
    max_rank : int, default=10
        Length of the CMC curve.
    n_repeats : int, default=1
        Random splits of the tasks (and queries).
    classifier : WeightClassifier, optional
    random_state : int, Generator or None, default=0
    """
    _check_fraction("train_tasks", train_tasks)
    _check_fraction("query_fraction", query_fraction)
    y = np.asarray(tasks, dtype=object).astype(str)
    labels, counts = np.unique(y, return_counts=True)
    n_fit = min(max(2, round(train_tasks * labels.size)), labels.size - 2)
    if n_fit < 2 or counts.min() < 2:
        raise ProbeError(
            f"the retrieval protocol needs at least 4 tasks (2 to train on, 2 unseen) with two "
            f"trainings each; got {labels.size} tasks, the smallest with {counts.min()} trainings"
        )
    rng = _rng(random_state)
    base = classifier if classifier is not None else WeightClassifier()
    cmcs, maps, errors, n_q, n_g = [], [], 0, 0, 0
    for _ in range(n_repeats):
        order = rng.permutation(labels)
        fit_tasks, test_tasks = order[:n_fit], order[n_fit:]
        tr = np.flatnonzero(np.isin(y, fit_tasks))
        model = WeightClassifier(**base.get_params()).fit(X[tr], y[tr])
        queries, gallery = [], []
        for label in test_tasks:
            idx = rng.permutation(np.flatnonzero(y == label))
            k = min(max(1, round(query_fraction * idx.size)), idx.size - 1)
            queries.append(idx[:k])
            gallery.append(idx[k:])
        qi, gi = np.concatenate(queries), np.concatenate(gallery)
        emb = model.transform(X[np.concatenate([qi, gi])])
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        sim = emb[: qi.size] @ emb[qi.size :].T
        cmc, m, _ = retrieval_scores(sim, y[qi], y[gi], max_rank=min(max_rank, gi.size))
        if cmc.size < max_rank:
            cmc = np.concatenate([cmc, np.full(max_rank - cmc.size, cmc[-1])])
        cmcs.append(cmc)
        maps.append(m)
        errors += round((1.0 - cmc[0]) * qi.size)
        n_q += qi.size
        n_g = gi.size
    return RetrievalScores(
        np.array(cmcs), np.array(maps), errors, n_q, n_g, n_fit, labels.size - n_fit
    )
