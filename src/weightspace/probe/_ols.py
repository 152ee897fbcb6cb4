"""Ordinary least squares pieces of the accuracy regression: the design, the coefficient table
with the effect-coded last value, joint F-tests, errors and correlations (see :mod:`.regression`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__: list[str] = []

Block = tuple[str, str, list[int], list[str]]
"""(hyper-parameter, kind, its design columns, its values)."""


def normalized(values: np.ndarray, how: str) -> np.ndarray | None:
    """``values`` min-max scaled, z-scored or as they are (``how``); None when all are equal."""
    if how == "none":
        return values
    if how == "minmax":
        span = values.max() - values.min()
        return None if span <= 0 else (values - values.min()) / span
    sd = values.std(ddof=1) if values.size > 1 else 0.0
    return None if sd <= 0 else (values - values.mean()) / sd


def design(
    sub: pd.DataFrame,
    categorical: Sequence[str],
    ordered: dict[str, tuple[float, float]],
    coding: str,
) -> tuple[np.ndarray, list[str], list[Block]]:
    """Columns (constant first), their names, and per hyper-parameter (name, kind, columns, levels)."""
    cols: list[np.ndarray] = [np.ones(len(sub))]
    names = ["const"]
    blocks: list[Block] = []
    for h in categorical:
        values = sub[h].map(str).to_numpy()
        levels = sorted(set(values))
        if len(levels) < 2:
            continue
        coded = levels[:-1] if coding == "effect" else levels[1:]
        idx = []
        for level in coded:
            col = (values == level).astype(np.float64)
            if coding == "effect":
                col -= (values == levels[-1]).astype(np.float64)
            idx.append(len(cols))
            cols.append(col)
            names.append(f"{h}[{level}]")
        blocks.append((h, "categorical", idx, levels))
    for o, (mean, sd) in ordered.items():
        x = pd.to_numeric(sub[o], errors="coerce").to_numpy(dtype=np.float64)
        if np.unique(x).size < 2:
            continue
        blocks.append((o, "ordered", [len(cols)], [""]))
        cols.append((x - mean) / sd)
        names.append(o)
    return np.column_stack(cols), names, blocks


def coefficients(
    res: Any, dataset: str, names: list[str], blocks: list[Block], coding: str
) -> pd.DataFrame:
    """The coefficient table of one fit: every value of every hyper-parameter, the constant."""
    params, bse, tval, pval = (
        np.asarray(a) for a in (res.params, res.bse, res.tvalues, res.pvalues)
    )
    rows = [("const", "", "constant", params[0], bse[0], tval[0], pval[0])]
    for h, kind, idx, levels in blocks:
        if kind == "ordered":
            j = idx[0]
            rows.append((h, "", kind, params[j], bse[j], tval[j], pval[j]))
            continue
        coded = levels[:-1] if coding == "effect" else levels[1:]
        for level, j in zip(coded, idx, strict=True):
            rows.append((h, level, kind, params[j], bse[j], tval[j], pval[j]))
        if coding == "effect":  # the last value: minus the sum of the others
            r = np.zeros(len(names))
            r[idx] = -1.0
            t = res.t_test(r)
            rows.append(
                (h, levels[-1], kind, float(np.squeeze(t.effect)), float(np.squeeze(t.sd)),
                 float(np.squeeze(t.tvalue)), float(np.squeeze(t.pvalue)))
            )  # fmt: skip
        else:
            rows.insert(len(rows) - len(coded), (h, levels[0], kind, 0.0, np.nan, np.nan, np.nan))
    frame = pd.DataFrame(rows, columns=["hparam", "level", "kind", "coef", "se", "t", "p"])
    frame.insert(0, "dataset", dataset)
    return frame


def f_test(res: Any, dataset: str, hparam: str, idx: list[int], n_cols: int) -> dict[str, Any]:
    """Joint F-test that all design columns of ``hparam`` are zero."""
    """The coefficient table of one fit: every value of every hyper-parameter, the constant."""
    R = np.zeros((len(idx), n_cols))
    R[np.arange(len(idx)), idx] = 1.0
    test = res.f_test(R)
    return {
        "dataset": dataset,
        "hparam": hparam,
        "F": float(np.squeeze(test.fvalue)),
        "df": len(idx),
        "p": float(np.squeeze(test.pvalue)),
    }


def errors(res: Any, dataset: str, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """RMSE and MAE of the fit, of leave-one-out predictions and of the constant model."""
    resid = y - np.asarray(res.fittedvalues)
    hat = np.einsum("ij,ji->i", X, np.linalg.pinv(X))
    loo = resid / np.clip(1.0 - hat, 1e-12, None)
    dev = y - y.mean()
    return {
        "dataset": dataset,
        "n": len(y),
        "n_params": X.shape[1],
        "r2": float(res.rsquared),
        "rmse": float(np.sqrt(np.mean(resid**2))),
        "rmse_loo": float(np.sqrt(np.mean(loo**2))),
        "rmse_constant": float(np.sqrt(np.mean(dev**2))),
        "mae": float(np.mean(np.abs(resid))),
        "mae_constant": float(np.mean(np.abs(dev))),
    }


def correlation(table: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation between datasets of their coefficients (constant left out)."""
    coef = table[(table.kind != "constant") & table.se.notna()]
    wide = coef.pivot_table(index=["hparam", "level"], columns="dataset", values="coef")
    out = wide.corr(method="pearson", min_periods=3)
    out.index.name, out.columns.name = None, None
    return out
