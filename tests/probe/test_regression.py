"""The accuracy regression recovers planted coefficients; a null column is not significant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from weightspace import Library
from weightspace.probe import ProbeError, accuracy_regression, regress_accuracy
from weightspace.reproduce.papers import with_paper

EFFECTS = {"glorot_uniform": 0.2, "normal": 0.1, "constant": -0.3}  # sums to 0: effect coding
LR_SLOPE = 20.0


def _frame(seed: int = 0, n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for dataset in ("mnist", "cifar10"):
        init = np.array(list(EFFECTS))[np.arange(n) % 3]
        lr = rng.uniform(0.0002, 0.005, size=n)
        null = rng.choice(["p", "q", "r"], size=n)
        acc = 0.5 + np.array([EFFECTS[i] for i in init]) + LR_SLOPE * lr
        acc += rng.normal(0, 0.02, size=n)
        rows.append(
            pd.DataFrame(
                {"dataset": dataset, "init": init, "null": null, "learning_rate": lr, "acc": acc}
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def fitted():
    return regress_accuracy(_frame(), categorical=["init", "null"], metric="acc", normalize="none")


def test_recovers_planted_coefficients(fitted):
    c = fitted.coefficients.set_index(["dataset", "hparam", "level"])
    frame = _frame()
    for dataset in ("mnist", "cifar10"):
        for level, effect in EFFECTS.items():
            row = c.loc[(dataset, "init", level)]
            assert row.coef == pytest.approx(effect, abs=0.01)
            assert row.p < 0.01
        sd = frame.loc[frame.dataset == dataset, "learning_rate"].std(ddof=0)
        lr = c.loc[(dataset, "learning_rate", "")]
        # per SD of the learning rate over all models (close to the per-dataset SD)
        assert lr.coef == pytest.approx(LR_SLOPE * sd, rel=0.15)
        assert lr.coef > 0
        assert lr.p < 0.01


def test_null_column_is_not_significant(fitted):
    # "null" has three values in two datasets: six coefficient tests. The column's own test is the
    # joint F-test (one per dataset, p > 0.05); single coefficients are held to p > 0.05 / 6
    # (Bonferroni), since one of six null p-values falls below 0.05 a quarter of the time.
    c = fitted.coefficients
    null = c[c.hparam == "null"]
    assert len(null) == 6
    assert (null.p > 0.05 / 6).all()
    tests = fitted.tests.set_index(["dataset", "hparam"])
    assert tests.loc[("mnist", "null"), "p"] > 0.05
    assert tests.loc[("cifar10", "null"), "p"] > 0.05
    assert tests.loc[("mnist", "init"), "p"] < 1e-10


def test_effect_coefficients_sum_to_zero(fitted):
    c = fitted.coefficients
    sums = c[c.hparam == "init"].groupby("dataset")["coef"].sum()
    assert np.allclose(sums, 0, atol=1e-10)


def test_treatment_coding_measures_against_the_first_value():
    result = regress_accuracy(
        _frame(), categorical=["init"], metric="acc", normalize="none", coding="treatment"
    )
    c = result.coefficients.set_index(["dataset", "hparam", "level"])
    # levels sorted: constant (reference), glorot_uniform, normal
    assert c.loc[("mnist", "init", "constant"), "coef"] == 0
    assert np.isnan(c.loc[("mnist", "init", "constant"), "p"])
    assert c.loc[("mnist", "init", "glorot_uniform"), "coef"] == pytest.approx(0.5, abs=0.01)
    assert c.loc[("mnist", "init", "normal"), "coef"] == pytest.approx(0.4, abs=0.01)


def test_errors_beat_the_constant_model_and_coefficients_correlate(fitted):
    errors = fitted.errors.set_index("dataset")
    assert (errors.rmse < errors.rmse_constant).all()
    assert (errors.rmse <= errors.rmse_loo).all()
    assert errors.r2.min() > 0.9
    assert fitted.correlation.loc["mnist", "cifar10"] > 0.95


@pytest.mark.parametrize("how", ["minmax", "zscore"])
def test_normalization_keeps_signs_and_p_values(how):
    result = regress_accuracy(_frame(), categorical=["init", "null"], metric="acc", normalize=how)
    c = result.coefficients.set_index(["dataset", "hparam", "level"])
    assert (
        c.loc[("mnist", "init", "constant"), "coef"]
        < 0
        < c.loc[("mnist", "init", "normal"), "coef"]
    )
    assert c.loc[("mnist", "init", "constant"), "p"] < 0.01


def test_paper_signs_and_summary(fitted):
    assert "paper_sign" not in fitted.to_frame()
    assert "paper" not in fitted.summary()  # a probe knows no paper
    c = with_paper(fitted).to_frame().set_index(["dataset", "hparam", "level"])
    assert c.loc[("mnist", "init", "constant"), "paper_sign"] == -1
    text = with_paper(fitted).summary()
    assert "  paper: init > activation > optimizer (NWS 4.2; values lost)" in text
    assert "init constant" in text
    assert isinstance(fitted.plot(), Figure)
    assert set(fitted.figures()) == {"coefficients", "errors", "correlation"}


def test_missing_columns_and_bad_options():
    with pytest.raises(ProbeError, match="no column"):
        regress_accuracy(_frame(), categorical=["nope"], metric="acc")
    with pytest.raises(ProbeError, match="normalize must be"):
        regress_accuracy(_frame(), categorical=["init"], metric="acc", normalize="log")  # type: ignore[arg-type]


def test_library_regression_picks_categorical_columns(planted):
    result = accuracy_regression(Library(planted))
    assert result.categorical == ("init", "label")
    c = result.coefficients.set_index(["hparam", "level"])
    assert c.loc[("init", "narrow"), "coef"] < 0 < c.loc[("init", "wide"), "coef"]
    assert c.loc[("init", "wide"), "p"] < 0.01
    assert c.loc[("init", "narrow"), "p"] < 0.01
    assert c.loc[("learning_rate", ""), "p"] < 0.01
    assert result.filter_report is not None
    assert int(result.errors.n.iloc[0]) == 114
