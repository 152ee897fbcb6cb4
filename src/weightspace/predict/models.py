"""The regressors of the accuracy predictors: ridge, gradient-boosted trees, StatNN (an MLP).

Every regressor takes standardized features (:class:`~weightspace.predict.common.FeatureScaler`),
follows scikit-learn's contract (keyword-only parameters, ``fit`` returns ``self``, fitted state
ends in ``_``) and, given validation models, selects its hyper-parameter on their Kendall tau (the
NFN protocol selects its checkpoint on validation tau):

- :class:`RidgeRegressor`: closed-form ridge over a log grid of penalties; without validation
  models the penalty is chosen by leave-one-out error (:class:`sklearn.linear_model.RidgeCV`);
- :class:`GBTRegressor`: :class:`sklearn.ensemble.HistGradientBoostingRegressor`, the number of
  boosting iterations selected on validation (Unterthiner et al. used gradient-boosted trees on
  the statistics; their LightGBM settings are not published in full);
- :class:`StatNNRegressor`: the MLP of ``nfn``'s StatNN baseline (two hidden layers of 1,000
  ReLU units, sigmoid output, binary cross-entropy, Adam 1e-3, batch 8, 50 epochs, the epoch of
  best validation tau), on standardized features.

Predictions are clipped to the range of the training targets (``y_min_``, ``y_max_``): the
target of an accuracy predictor is bounded, and a model far outside the zoo (a diverged network,
say) would otherwise be predicted at any value (ridge predicted one at 307 for a test accuracy in
[0, 1]). Clipping never reorders models, it can only tie those beyond the training range, so the
rankings use :meth:`~_Regressor.predict_unclipped` (the model selection on validation tau does
too): Kendall tau is the same with or without clipping.

Every regressor validates its input as scikit-learn's do (:func:`sklearn.utils.check_X_y`: finite
numbers, a 2-D ``X``, a 1-D ``y``) and sets its fitted state, ``n_features_in_`` included, only
once the fit succeeded.

Files (no pickle): ridge and StatNN write their arrays to ``model.safetensors`` and their
parameters to the predictor's JSON; the trees go to ``model.skops``, read back with an explicit
list of trusted types. The training target range is written beside the parameters
(``y_range``); a file without it (written before clipping) predicts unclipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, check_X_y, validate_data

from weightspace.predict.common import PredictorError, kendall_tau, r2

__all__ = [
    "MODELS",
    "GBTRegressor",
    "RidgeRegressor",
    "StatNNRegressor",
    "create_model",
    "load_model",
]

#: Types a ``model.skops`` file may hold besides those skops trusts by default.
TRUSTED_SKOPS_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


def _xy(
    estimator: Any, X: npt.ArrayLike, y: npt.ArrayLike, what: str = "X"
) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (n, d) and ``y`` (n,) as float64, checked as scikit-learn checks them."""
    try:
        A, b = check_X_y(X, y, dtype=np.float64, y_numeric=True, estimator=estimator)
    except ValueError as exc:
        hint = "; drop the models without a target first" if "Input y contains" in str(exc) else ""
        raise PredictorError(f"{what}: {exc}{hint}") from None
    return np.asarray(A), np.asarray(b, dtype=np.float64)


def _score(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Selection score: validation tau, then R^2 (NaN counts as -inf)."""
    tau, rsq = kendall_tau(y, pred), r2(y, pred)
    return (-np.inf if np.isnan(tau) else tau, -np.inf if np.isnan(rsq) else rsq)


def _validation(
    estimator: Any, X_val: Any, y_val: Any, n_features: int
) -> tuple[np.ndarray, np.ndarray] | None:
    if X_val is None and y_val is None:
        return None
    if X_val is None or y_val is None:
        raise PredictorError("give both X_val and y_val, or neither")
    A, b = _xy(estimator, X_val, y_val, "X_val")
    if A.shape[1] != n_features:
        raise PredictorError(
            f"X_val has {A.shape[1]} features, X has {n_features}; give validation models "
            "described as the training models"
        )
    return A, b


class _Regressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    kind: ClassVar[str] = ""
    n_features_in_: int
    y_min_: float
    y_max_: float

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Predicted targets, shape ``(n,)``, clipped to the training range
        ``[y_min_, y_max_]`` (the target is bounded; see the module notes)."""
        return np.asarray(np.clip(self.predict_unclipped(X), self.y_min_, self.y_max_))

    def predict_unclipped(self, X: npt.ArrayLike) -> np.ndarray:
        """The regressor's own output, shape ``(n,)``: the order of the models (rankings and
        Kendall tau use it), equal to :meth:`predict` inside the training range."""
        check_is_fitted(self)
        A = validate_data(self, X, dtype=np.float64, reset=False)
        return self._predict(np.asarray(A))

    def _predict(self, A: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _fitted(self, A: np.ndarray, b: np.ndarray) -> None:
        """The state every regressor sets last: input width and training target range."""
        self.n_features_in_ = int(A.shape[1])
        self.y_min_, self.y_max_ = float(b.min()), float(b.max())

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the fitted state into ``directory``; return the JSON-able parameters."""
        check_is_fitted(self)
        return {**self._save(directory), "y_range": [self.y_min_, self.y_max_]}

    def _save(self, directory: Path) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def load(cls, directory: Path, info: dict[str, Any]) -> _Regressor:
        """Read what :meth:`save` wrote (no ``y_range``: an older file, predicting unclipped)."""
        rest = {k: v for k, v in info.items() if k != "y_range"}
        model = cls._load(directory, rest)
        low, high = info.get("y_range") or (-np.inf, np.inf)
        model.y_min_, model.y_max_ = float(low), float(high)
        return model

    @classmethod
    def _load(cls, directory: Path, info: dict[str, Any]) -> _Regressor:
        raise NotImplementedError


def _write_arrays(directory: Path, arrays: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    save_file(
        {k: np.ascontiguousarray(v) for k, v in arrays.items()}, directory / "model.safetensors"
    )


def _read_arrays(directory: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    path = directory / "model.safetensors"
    if not path.is_file():
        raise PredictorError(f"{path}: missing; the predictor directory is incomplete")
    return dict(load_file(path))


# ---------------------------------------------------------------------------------- ridge
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-6, 5, 23))


class RidgeRegressor(_Regressor):
    """Ridge regression on standardized features, the penalty chosen from a log grid.

    Parameters
    ----------
    alphas : sequence of float, default=1e-6 ... 1e5 (23 values)

    Attributes
    ----------
    coef_ : numpy.ndarray of shape (d,)
    intercept_ : float
    alpha_ : float
        The chosen penalty.
    n_features_in_ : int
    y_min_, y_max_ : float
        The range of the training targets, to which :meth:`predict` clips.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> ridge = RidgeRegressor(alphas=(1e-6,)).fit(X, 2 * X[:, 0] + 1)
    >>> ridge.predict([[4.5], [20.0]]).round(3)  # clipped to the training targets, 1 ... 19
    array([10., 19.])
    >>> ridge.predict_unclipped([[20.0]]).round(3)
    array([41.])
    """

    kind = "ridge"

    def __init__(self, *, alphas: tuple[float, ...] = DEFAULT_ALPHAS) -> None:
        self.alphas = alphas

    def fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, *, X_val: Any = None, y_val: Any = None
    ) -> RidgeRegressor:
        """Fit; with validation models the penalty of best validation tau."""
        try:
            alphas = [float(a) for a in self.alphas]
        except (TypeError, ValueError):
            alphas = []
        if not alphas or not min(alphas) > 0:
            raise PredictorError(f"alphas must be positive numbers; got {self.alphas!r}")
        A, b = _xy(self, X, y)
        val = _validation(self, X_val, y_val, A.shape[1])
        mean_x, mean_y = A.mean(axis=0), float(b.mean())
        U, s, Vt = np.linalg.svd(A - mean_x, full_matrices=False)
        uy = U.T @ (b - mean_y)
        best: tuple[tuple[float, float], float, np.ndarray] | None = None
        if val is None:
            from sklearn.linear_model import RidgeCV

            chosen = float(RidgeCV(alphas=alphas).fit(A, b).alpha_)
            alphas = [chosen]
        for alpha in alphas:
            coef = Vt.T @ (s / (s**2 + alpha) * uy)
            score = (0.0, 0.0) if val is None else _score(val[1], (val[0] - mean_x) @ coef + mean_y)
            if best is None or score > best[0]:
                best = (score, alpha, coef)
        assert best is not None
        self.alpha_ = best[1]
        self.coef_ = best[2]
        self.intercept_ = mean_y - float(mean_x @ self.coef_)
        self._fitted(A, b)
        return self

    def _predict(self, A: np.ndarray) -> np.ndarray:
        return np.asarray(A @ self.coef_ + self.intercept_, dtype=np.float64)

    def _save(self, directory: Path) -> dict[str, Any]:
        """``coef`` and ``intercept`` to ``model.safetensors``."""
        _write_arrays(directory, {"coef": self.coef_, "intercept": np.array([self.intercept_])})
        return {"alpha": self.alpha_, "alphas": list(self.alphas)}

    @classmethod
    def _load(cls, directory: Path, info: dict[str, Any]) -> RidgeRegressor:
        """Read ``model.safetensors``."""
        arrays = _read_arrays(directory)
        model = cls(alphas=tuple(float(a) for a in info["alphas"]))
        model.alpha_ = float(info["alpha"])
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        model.intercept_ = float(arrays["intercept"][0])
        model.n_features_in_ = int(model.coef_.shape[0])
        return model


# ---------------------------------------------------------------------------------- trees
class GBTRegressor(_Regressor):
    """Gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor).

    Parameters
    ----------
    max_iter : int, default=200
        Boosting iterations (with validation models: the most tried; the best is kept).
    learning_rate : float, default=0.1
    max_leaf_nodes : int, default=15
    min_samples_leaf : int, optional
        Default: ``max(2, min(20, n_train // 10))`` (the library default of 20 would leave a few
        dozen models a single leaf).
    random_state : int, default=0

    Attributes
    ----------
    model_ : sklearn.ensemble.HistGradientBoostingRegressor
    n_iter_ : int
        Iterations kept.
    n_features_in_ : int
    y_min_, y_max_ : float
        The range of the training targets, to which :meth:`predict` clips.
    """

    kind = "gbt"

    def __init__(
        self,
        *,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _trees(self, n_train: int, max_iter: int) -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        leaf = self.min_samples_leaf
        if leaf is None:
            leaf = max(2, min(20, n_train // 10))
        return HistGradientBoostingRegressor(
            max_iter=max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=leaf,
            early_stopping=False,
            random_state=self.random_state,
        )

    def fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, *, X_val: Any = None, y_val: Any = None
    ) -> GBTRegressor:
        """Fit; with validation models keep the number of iterations of best validation tau."""
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, int)
            or self.max_iter < 1
        ):
            raise PredictorError(f"max_iter must be a positive integer; got {self.max_iter!r}")
        A, b = _xy(self, X, y)
        val = _validation(self, X_val, y_val, A.shape[1])
        model = self._trees(A.shape[0], self.max_iter).fit(A, b)
        n_iter = self.max_iter
        if val is not None:
            scores = [_score(val[1], p) for p in model.staged_predict(val[0])]
            n_iter = int(max(range(len(scores)), key=lambda i: scores[i])) + 1
            if n_iter < self.max_iter:  # trees are deterministic: refit to that length
                model = self._trees(A.shape[0], n_iter).fit(A, b)
        self.model_, self.n_iter_ = model, n_iter
        self._fitted(A, b)
        return self

    def _predict(self, A: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(A), dtype=np.float64)

    def _save(self, directory: Path) -> dict[str, Any]:
        """The fitted trees to ``model.skops``."""
        import skops.io as sio

        sio.dump(self.model_, directory / "model.skops")
        return {**self.get_params(), "n_iter": self.n_iter_}

    @classmethod
    def _load(cls, directory: Path, info: dict[str, Any]) -> GBTRegressor:
        """Read ``model.skops``, refusing any type outside the trusted list."""
        params = {k: v for k, v in info.items() if k != "n_iter"}
        model = cls(**params)
        model.model_ = load_skops(directory / "model.skops", TRUSTED_SKOPS_TYPES)
        model.n_iter_ = int(info["n_iter"])
        model.n_features_in_ = int(model.model_.n_features_in_)
        return model


def load_skops(path: Path, trusted: tuple[str, ...]) -> Any:
    """Read a skops file whose every non-default type is in ``trusted``."""
    import skops.io as sio

    if not path.is_file():
        raise PredictorError(f"{path}: missing; the predictor directory is incomplete")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise PredictorError(f"{path}: not a readable skops file ({exc})") from None
    unknown = sorted(set(untrusted) - set(trusted))
    if unknown:
        raise PredictorError(
            f"{path}: holds types outside the trusted list ({', '.join(unknown[:5])}); "
            "weightspace does not load it. Refit the predictor with this version of weightspace"
        )
    return sio.load(path, trusted=list(untrusted))


# ---------------------------------------------------------------------------------- StatNN
class StatNNRegressor(_Regressor):
    """StatNN: an MLP on the statistics (``nfn``'s StatNet settings), trained with PyTorch.

    Parameters
    ----------
    hidden : int, default=1000
        Units of each of the two hidden layers.
    epochs : int, default=50
    batch_size : int, default=8
    lr : float, default=1e-3
        Adam's learning rate.
    random_state : int, default=0
        Seed of the initialization and the batch order.

    Attributes
    ----------
    state_ : dict of str to numpy.ndarray
        The network's weights.
    sigmoid_ : bool
        True when the targets lie in [0, 1] (sigmoid output and binary cross-entropy, as StatNet);
        otherwise a linear output trained with squared error on the standardized target.
    y_mean_, y_scale_ : float
        The target standardization of the linear output (0 and 1 with the sigmoid).
    best_epoch_ : int
        The epoch kept (the best validation tau; the last one without validation models).
    n_features_in_ : int
    y_min_, y_max_ : float
        The range of the training targets, to which :meth:`predict` clips.
    """

    kind = "mlp"

    def __init__(
        self,
        *,
        hidden: int = 1000,
        epochs: int = 50,
        batch_size: int = 8,
        lr: float = 1e-3,
        random_state: int = 0,
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state

    def _network(self, d: int, generator: Any) -> Any:
        import torch

        net = torch.nn.Sequential(
            torch.nn.Linear(d, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, 1),
        )
        with torch.no_grad():  # PyTorch's default bounds, drawn from our generator
            for layer in net:
                if isinstance(layer, torch.nn.Linear):
                    bound = 1.0 / float(layer.in_features) ** 0.5
                    for p in (layer.weight, layer.bias):
                        p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
        return net

    def fit(
        self, X: npt.ArrayLike, y: npt.ArrayLike, *, X_val: Any = None, y_val: Any = None
    ) -> StatNNRegressor:
        """Train; with validation models keep the epoch of best validation tau."""
        import torch

        for name in ("hidden", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PredictorError(f"{name} must be a positive integer; got {value!r}")
        A, b = _xy(self, X, y)
        val = _validation(self, X_val, y_val, A.shape[1])
        sigmoid = bool(b.min() >= 0.0 and b.max() <= 1.0)
        y_mean = 0.0 if sigmoid else float(b.mean())
        y_scale = 1.0 if sigmoid else float(b.std()) or 1.0
        gen = torch.Generator().manual_seed(int(self.random_state))
        rng = np.random.default_rng(self.random_state)
        net = self._network(A.shape[1], gen)
        opt = torch.optim.Adam(net.parameters(), lr=self.lr)
        loss_fn = torch.nn.BCEWithLogitsLoss() if sigmoid else torch.nn.MSELoss()
        inputs = torch.tensor(A, dtype=torch.float32)
        targets = torch.tensor((b - y_mean) / y_scale, dtype=torch.float32)
        best: tuple[tuple[float, float], int, dict[str, Any]] | None = None
        for epoch in range(1, self.epochs + 1):
            net.train()
            order = rng.permutation(A.shape[0])
            for start in range(0, len(order), self.batch_size):
                idx = torch.as_tensor(order[start : start + self.batch_size])
                opt.zero_grad()
                loss = loss_fn(net(inputs[idx]).squeeze(-1), targets[idx])
                loss.backward()
                opt.step()
            if val is not None:
                state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
                score = _score(val[1], _mlp_forward(state, sigmoid, y_mean, y_scale, val[0]))
                if best is None or score > best[0]:
                    best = (score, epoch, state)
        if best is None:
            state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
            best_epoch = self.epochs
        else:
            state, best_epoch = best[2], best[1]
        self.state_, self.best_epoch_ = state, best_epoch
        self.sigmoid_, self.y_mean_, self.y_scale_ = sigmoid, y_mean, y_scale
        self._fitted(A, b)
        return self

    def _predict(self, A: np.ndarray) -> np.ndarray:
        return _mlp_forward(self.state_, self.sigmoid_, self.y_mean_, self.y_scale_, A)

    def _save(self, directory: Path) -> dict[str, Any]:
        """The weights to ``model.safetensors``."""
        _write_arrays(directory, self.state_)
        return {
            **self.get_params(),
            "sigmoid": self.sigmoid_,
            "y_mean": self.y_mean_,
            "y_scale": self.y_scale_,
            "best_epoch": self.best_epoch_,
        }

    @classmethod
    def _load(cls, directory: Path, info: dict[str, Any]) -> StatNNRegressor:
        """Read ``model.safetensors``."""
        fitted = ("sigmoid", "y_mean", "y_scale", "best_epoch")
        model = cls(**{k: v for k, v in info.items() if k not in fitted})
        model.state_ = {k: np.asarray(v) for k, v in _read_arrays(directory).items()}
        model.sigmoid_ = bool(info["sigmoid"])
        model.y_mean_, model.y_scale_ = float(info["y_mean"]), float(info["y_scale"])
        model.best_epoch_ = int(info["best_epoch"])
        model.n_features_in_ = int(model.state_["0.weight"].shape[1])
        return model


def _mlp_forward(
    state: dict[str, np.ndarray], sigmoid: bool, y_mean: float, y_scale: float, A: np.ndarray
) -> np.ndarray:
    """StatNN's output for ``A`` (n, d), in float32 as trained, returned as float64."""
    h = A.astype(np.float32)
    n_layers = len(state) // 2
    for i in range(n_layers):
        w, bias = state[f"{2 * i}.weight"], state[f"{2 * i}.bias"]
        h = h @ w.T + bias
        if i < n_layers - 1:
            h = np.maximum(h, 0.0)
    out = h[:, 0].astype(np.float64)
    if sigmoid:
        from scipy.special import expit  # type: ignore[import-untyped]

        return np.asarray(expit(out))
    return np.asarray(out * y_scale + y_mean)


#: The regressors by the name ``--model`` takes.
MODELS: dict[str, type[_Regressor]] = {
    "ridge": RidgeRegressor,
    "gbt": GBTRegressor,
    "mlp": StatNNRegressor,
}


def create_model(kind: str, **params: Any) -> _Regressor:
    """A new regressor: ``"ridge"``, ``"gbt"`` or ``"mlp"`` (StatNN)."""
    if kind not in MODELS:
        raise PredictorError(f"unknown model {kind!r}; choose one of {', '.join(MODELS)}")
    try:
        return MODELS[kind](**params)
    except TypeError as exc:
        raise PredictorError(f"model {kind!r}: {exc}") from None


def load_model(kind: str, directory: Path, info: dict[str, Any]) -> _Regressor:
    """Read a regressor written by its ``save``."""
    if kind not in MODELS:
        raise PredictorError(
            f"{directory}: unknown model {kind!r} in predictor.json; expected one of "
            f"{', '.join(MODELS)}"
        )
    return MODELS[kind].load(directory, info)
