"""Accuracy regression: how hyper-parameters go with test accuracy (NWS sec. 4.2, appendix D).

Per dataset, the normalized test accuracy of the successful trainings is regressed by ordinary
least squares on the categorical hyper-parameters, one indicator per value, and the ordered ones
(the learning rate):

    acc_norm = b0 + sum over categorical h, value v of b_hv [h = v] + sum over ordered o of c_o x_o.

A full set of indicators beside a constant is not identifiable (the paper's 34 coefficients, 32
categorical + 1 ordered + 1 constant, are one per value), so the default *effect coding* constrains
each hyper-parameter's coefficients to sum to zero: ``b_hv`` is value v's effect against the
average over h's values, every value gets a coefficient, standard error and p-value (the last
value's through the contrast ``-sum`` of the others), and a positive coefficient means better than
average, as in the paper's Figs. 1 and 14. ``coding="treatment"`` instead measures every value
against the first (alphabetical) one. Ordered hyper-parameters are standardized over all kept
models (their coefficient is per standard deviation). Normalization per dataset: ``"minmax"``
``(p - min_d) / (max_d - min_d)`` (MI-WD sec. 3, the default), ``"zscore"`` (NWS sec. 4.2) or
``"none"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from weightspace.library import Library
from weightspace.probe import _ols
from weightspace.probe.common import ProbeError, Selection, filter_notes
from weightspace.probe.report import ProbeResult, Reference
from weightspace.probe.targets import canonical_target, resolve_target

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RegressionResult",
    "accuracy_regression",
    "regress_accuracy",
]

Normalize = Literal["minmax", "zscore", "none"]
Coding = Literal["effect", "treatment"]


def _statsmodels() -> Any:
    try:
        return importlib.import_module("statsmodels.api")
    except ImportError:
        raise ProbeError(
            "the accuracy regression needs statsmodels: pip install statsmodels"
        ) from None


@dataclass(frozen=True, eq=False)
class RegressionResult(ProbeResult):
    """Result of :func:`regress_accuracy`: coefficients, errors, correlations between datasets.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        ``dataset, hparam, level, kind, coef, se, t, p, significant``.
    errors : pandas.DataFrame
        Per dataset: ``n, n_params, r2, rmse, rmse_loo, rmse_constant, mae, mae_constant``.
    correlation : pandas.DataFrame
        Pearson correlation of the coefficients between datasets (dataset x dataset).
    tests : pandas.DataFrame
        Joint F-test of each hyper-parameter per dataset: ``dataset, hparam, F, df, p``.
    """

    coefficients: pd.DataFrame
    errors: pd.DataFrame
    correlation: pd.DataFrame
    tests: pd.DataFrame
    categorical: tuple[str, ...]
    ordered: tuple[str, ...]
    normalize: str
    coding: str
    metric: str
    filter_report: pd.DataFrame | None = None
    remarks: tuple[str, ...] = ()
    #: Published findings: ``values`` the sign (+1/-1) by ``(hparam, level)`` (canonical names,
    #: lower-case values), ``texts["ranking"]``, ``texts["correlation"]``, ``texts["note"]``.
    reference: Reference | None = None

    probe = "regression"
    title = "Regressing the test accuracy on hyper-parameters"

    def to_frame(self) -> pd.DataFrame:
        """The coefficients table (one row per dataset, hyper-parameter and value); with a
        reference, the published sign of each categorical value (``paper_sign``)."""
        table = self.coefficients.copy()
        ref = self.reference
        if ref is not None:
            table["paper_sign"] = [
                ref.value((canonical_target(h), str(v).lower())) if k == "categorical" else np.nan
                for h, v, k in zip(table.hparam, table.level, table.kind, strict=True)
            ]
        return table

    def influence(self) -> pd.Series:
        """Mean over datasets of the range (max - min) of each hyper-parameter's coefficients."""
        c = self.coefficients[self.coefficients.kind == "categorical"]
        spread = c.groupby(["dataset", "hparam"])["coef"].agg(lambda v: v.max() - v.min())
        o = self.coefficients[self.coefficients.kind == "ordered"]
        spread = pd.concat([spread, o.set_index(["dataset", "hparam"])["coef"].abs()])
        mean = spread.groupby(level="hparam").mean().sort_values(ascending=False)
        return pd.Series(mean, dtype=np.float64)

    def summary(self) -> str:
        """Errors per dataset, the ranking and signs beside the paper's, the correlations."""
        lines = [
            f"Accuracy regression (NWS 4.2, appendix D): per dataset, OLS of {self.normalize}-"
            f"normalized {self.metric} on {self.coding}-coded "
            f"{', '.join(self.categorical) or '(none)'} + {', '.join(self.ordered) or '(none)'}"
            " (ordered, per SD)"
        ]
        if self.filter_report is not None:
            kept, total = self.filter_report.n_kept.sum(), self.filter_report.n_models.sum()
            lines.append(f"failed trainings rejected: {kept} of {total} models kept")
        lines.append(
            f"{'dataset':<16}{'models':>7}{'R2':>7}{'RMSE':>8}{'LOO':>8}{'const':>8}"
            "   (RMSE of the fit, leave-one-out, and of the constant model)"
        )
        for r in self.errors.itertuples():
            lines.append(
                f"{r.dataset!s:<16}{r.n:>7}{r.r2:>7.2f}{r.rmse:>8.3f}{r.rmse_loo:>8.3f}"
                f"{r.rmse_constant:>8.3f}"
            )
        ranking = self.influence()
        lines.append("Influence (mean over datasets of the spread of a hyper-parameter's coefs):")
        lines.append("  ours:  " + " > ".join(f"{h} {v:.2f}" for h, v in ranking.items()))
        if self.reference is None:
            return "\n".join(lines + self._correlation_lines())
        lines.append("  paper: " + self.reference.text("ranking"))
        signed = self.to_frame().dropna(subset=["paper_sign"])
        if not signed.empty:
            order = ", ".join(dict.fromkeys(signed.dataset))
            lines.append(f"Signs the paper reports (+ better than average); ours for {order}:")
            for (h, level), rows in signed.groupby(["hparam", "level"], sort=False):
                paper = int(rows.paper_sign.iloc[0])
                agree = int((np.sign(rows.coef) == paper).sum())
                cells = " ".join(f"{c:+.2f}" for c in rows.coef)
                lines.append(
                    f"  {f'{h} {level}':<26} paper {'+' if paper > 0 else '-'}  ours {cells}"
                    f"  ({agree}/{len(rows)} agree)"
                )
        return "\n".join(lines + self._correlation_lines())

    def _correlation_lines(self) -> list[str]:
        if len(self.correlation) <= 1:
            return []
        values = self.correlation.to_numpy()
        off = values[~np.eye(len(values), dtype=bool)]
        paper = "" if self.reference is None else f"; paper: {self.reference.text('correlation')}"
        return [
            f"Pearson correlation of coefficients between datasets: mean {np.nanmean(off):.2f}"
            f" (min {np.nanmin(off):.2f}){paper}"
        ]

    def plot(self) -> Figure:
        """Coefficients per hyper-parameter value and dataset; * marks p > 0.05 (NWS Fig. 14)."""
        from matplotlib.figure import Figure

        c = self.coefficients[self.coefficients.kind != "constant"]
        keys = list(dict.fromkeys(zip(c.hparam, c.level, strict=True)))
        datasets = list(dict.fromkeys(c.dataset))
        fig = Figure(figsize=(max(7.0, 0.55 * len(keys) + 2), 4.4), layout="constrained")
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(datasets))
        table = c.set_index(["dataset", "hparam", "level"])
        for j, d in enumerate(datasets):
            x = np.arange(len(keys)) - 0.4 + width * (j + 0.5)
            coef = [table["coef"].get((d, h, v), np.nan) for h, v in keys]
            p = [table["p"].get((d, h, v), np.nan) for h, v in keys]
            ax.bar(x, coef, width, label=str(d))
            for xi, ci, pi in zip(x, coef, p, strict=True):
                if np.isfinite(ci) and not (pi <= 0.05):
                    ax.text(xi, ci, "*", ha="center", va="bottom" if ci >= 0 else "top")
        ax.axhline(0, color="k", lw=0.6)
        hparams = [k[0] for k in keys]
        for i in range(1, len(keys)):
            if hparams[i] != hparams[i - 1]:
                ax.axvline(i - 0.5, color="0.7", lw=0.6)
        ax.set_xticks(range(len(keys)), [f"{h}\n{v}" for h, v in keys], rotation=90, fontsize=7)
        ax.set_ylabel(f"coefficient ({self.normalize}-normalized {self.metric})")
        ax.set_title(
            f"Regression of {self.metric} on hyper-parameters ({self.coding} coding); * p > 0.05",
            fontsize=10,
        )
        ax.legend(fontsize=7, ncols=min(4, len(datasets)))
        return fig

    def figures(self) -> dict[str, Figure]:
        """``coefficients`` (Figs. 1/14), ``errors`` (Fig. 15a), ``correlation`` (Fig. 15b)."""
        from matplotlib.figure import Figure

        out = {"coefficients": self.plot()}
        fig = Figure(figsize=(max(4.5, 1.3 * len(self.errors) + 1.5), 3.4), layout="constrained")
        ax = fig.add_subplot()
        x = np.arange(len(self.errors))
        for k, (col, label) in enumerate(
            [("rmse", "linear model"), ("rmse_loo", "linear, leave-one-out"),
             ("rmse_constant", "constant model")]
        ):  # fmt: skip
            ax.bar(x - 0.27 + 0.27 * k, self.errors[col], 0.27, label=label)
        ax.set_xticks(x, self.errors.dataset.astype(str))
        ax.set_ylim(0, 1.3 * float(np.nanmax(self.errors[["rmse_loo", "rmse_constant"]])))
        ax.set_ylabel("RMSE (normalized accuracy)")
        ax.set_title("Error of the linear models vs a constant model", fontsize=10)
        ax.legend(fontsize=7, ncols=3, loc="upper center")
        out["errors"] = fig
        if len(self.correlation) > 1:
            fig = Figure(figsize=(4.6, 3.9), layout="constrained")
            ax = fig.add_subplot()
            values = self.correlation.to_numpy(dtype=np.float64)
            image = ax.imshow(values, vmin=-1, vmax=1, cmap="RdBu_r")
            names = [str(n) for n in self.correlation.index]
            ax.set_xticks(range(len(names)), names, rotation=45)
            ax.set_yticks(range(len(names)), names)
            for (i, j), v in np.ndenumerate(values):
                color = "w" if abs(v) > 0.6 else "k"
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color=color)
            ax.set_title("Pearson correlation of coefficients", fontsize=10)
            fig.colorbar(image, ax=ax)
            out["correlation"] = fig
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """Errors per dataset, joint F-tests, correlations."""
        return {
            "Errors per dataset": self.errors,
            "Joint F-test of each hyper-parameter": self.tests,
            "Correlation of coefficients": self.correlation.reset_index(names="dataset"),
        }

    def notes(self) -> list[str]:
        """Choices behind the numbers."""
        out = [
            "Effect coding: a value's coefficient is its effect against the average over the "
            "hyper-parameter's values (they sum to zero); * / significant: p <= 0.05."
            if self.coding == "effect"
            else "Treatment coding: coefficients against the first value (coef 0, no p).",
        ]
        if self.reference is not None:
            out.append(self.reference.text("note"))
        return out + filter_notes(self.filter_report) + list(self.remarks)


def regress_accuracy(
    models: pd.DataFrame,
    *,
    categorical: Sequence[str],
    ordered: Sequence[str] = ("learning_rate",),
    metric: str = "test_acc",
    dataset_column: str | None = "dataset",
    normalize: Normalize = "minmax",
    coding: Coding = "effect",
) -> RegressionResult:
    """Fit one OLS model of normalized accuracy per dataset (the engine; see the module notes).

    Parameters
    ----------
    models : pandas.DataFrame
        One row per model: the hyper-parameter columns, ``metric`` and ``dataset_column``.
    categorical : sequence of str
        Hyper-parameters coded by value (constant ones within a dataset are left out there);
        aliases name their column (:mod:`weightspace.probe.targets`).
    ordered : sequence of str, default=("learning_rate",)
        Numeric hyper-parameters entered as they are (standardized over all models).
    metric : str, default="test_acc"
    dataset_column : str or None, default="dataset"
        One model per value; None (or a missing column): one model for all.
    normalize : {"minmax", "zscore", "none"}, default="minmax"
        Per-dataset normalization of the accuracy (``"none"``: as it is).
    coding : {"effect", "treatment"}, default="effect"

    Returns
    -------
    RegressionResult
    """
    sm = _statsmodels()
    if normalize not in ("minmax", "zscore", "none"):
        raise ProbeError(f"normalize must be 'minmax', 'zscore' or 'none'; got {normalize!r}")
    if coding not in ("effect", "treatment"):
        raise ProbeError(f"coding must be 'effect' or 'treatment'; got {coding!r}")
    categorical = [resolve_target(models.columns, c) or c for c in categorical]
    ordered = [resolve_target(models.columns, o) or o for o in ordered]
    needed = [metric, *categorical, *ordered]
    missing = [c for c in needed if c not in models.columns]
    if missing:
        raise ProbeError(f"the models have no column(s) {missing}; columns: {list(models.columns)}")
    frame = models.dropna(subset=needed)
    remarks = []
    if len(frame) < len(models):
        remarks.append(f"{len(models) - len(frame)} model(s) without {'/'.join(needed)} left out")
    scale = {}
    for o in ordered:
        x = pd.to_numeric(frame[o], errors="coerce").to_numpy(dtype=np.float64)
        sd = float(np.nanstd(x)) if x.size else 0.0
        scale[o] = (float(np.nanmean(x)), sd if sd > 0 else 1.0)
    by = frame[dataset_column] if dataset_column and dataset_column in frame else None
    groups = [("all", frame)] if by is None else list(frame.groupby(by.map(str), sort=True))
    coefs, errors, tests = [], [], []
    for dataset, sub in groups:
        y = _ols.normalized(sub[metric].to_numpy(dtype=np.float64), normalize)
        X, names, blocks = _ols.design(sub, categorical, scale, coding)
        if y is None or len(sub) <= X.shape[1]:
            remarks.append(
                f"{dataset}: left out ({len(sub)} models for {X.shape[1]} coefficients"
                + (", all with one accuracy" if y is None else "")
                + ")"
            )
            continue
        if np.linalg.matrix_rank(X) < X.shape[1]:
            remarks.append(f"{dataset}: confounded hyper-parameters (rank-deficient design)")
        res = sm.OLS(y, X).fit()
        coefs.append(_ols.coefficients(res, str(dataset), names, blocks, coding))
        tests += [_ols.f_test(res, str(dataset), h, idx, X.shape[1]) for h, _, idx, _ in blocks]
        errors.append(_ols.errors(res, str(dataset), X, y))
    if not coefs:
        raise ProbeError("no dataset has enough models for the regression; " + "; ".join(remarks))
    table = pd.concat(coefs, ignore_index=True)
    table["significant"] = table["p"] <= 0.05
    return RegressionResult(
        coefficients=table,
        errors=pd.DataFrame(errors),
        correlation=_ols.correlation(table),
        tests=pd.DataFrame(tests),
        categorical=tuple(categorical),
        ordered=tuple(ordered),
        normalize=normalize,
        coding=coding,
        metric=metric,
        remarks=tuple(remarks),
    )


def accuracy_regression(
    lib: Library,
    *,
    categorical: Sequence[str] | None = None,
    ordered: Sequence[str] = ("learning_rate",),
    metric: str = "test_acc",
    dataset_column: str = "dataset",
    normalize: Normalize = "minmax",
    coding: Coding = "effect",
    selection: Selection = Selection(),  # noqa: B008
    exclude: Sequence[str] = ("seed",),
    max_levels: int = 12,
) -> RegressionResult:
    """Regress the accuracy of a library's successful trainings on their hyper-parameters.

    Parameters
    ----------
    lib : Library
    categorical : sequence of str, optional
        Default: every hyper-parameter column (``lib.columns()``) with 2 to ``max_levels`` values
        among the kept models, except ``dataset_column``, ``ordered`` and ``exclude``.
    ordered, metric, dataset_column, normalize, coding
        As :func:`regress_accuracy`.
    selection : Selection, default=Selection()
        The models regressed: failed trainings rejected (``Selection(failed=None)`` keeps all),
        ``where`` (SQL), ``ids``.
    exclude : sequence of str, default=("seed",)
        Columns never used as hyper-parameters.
    max_levels : int, default=12
    """
    models, report = selection.models(lib)
    chosen: list[str]
    remarks = []
    ordered = [resolve_target(models.columns, o) or o for o in ordered]
    if categorical is None:
        chosen = []
        for name, kind in lib.columns().items():
            if kind != "hparam" or name in (dataset_column, *ordered, *exclude):
                continue
            n = models[name].dropna().map(str).nunique()
            if 2 <= n <= max_levels:
                chosen.append(name)
            elif n > max_levels:
                remarks.append(f"{name}: {n} values, left out (add it to the ordered ones)")
    else:
        chosen = list(categorical)
    ordered = [o for o in ordered if o in models.columns or categorical is not None]
    result = regress_accuracy(
        models, categorical=chosen, ordered=ordered, metric=metric,
        dataset_column=dataset_column, normalize=normalize, coding=coding,
    )  # fmt: skip
    return replace(result, filter_report=report, remarks=tuple(remarks) + result.remarks)
