"""The papers' numbers live in one module and reach a probe's result only through a reference."""

from __future__ import annotations

import math

import pandas as pd

from weightspace.probe.htt import HTTResult
from weightspace.probe.report import Reference, with_reference
from weightspace.reproduce.papers import (
    HTT_TINY_IMAGENET,
    NWS_SIGNS,
    htt_reference,
    nws_regression_reference,
    with_paper,
)


def _htt_result() -> HTTResult:
    """Two rows of an HTT table, as :func:`htt_probe` writes them (no training needed)."""
    rows = [
        {
            "network": "MLP", "features": kind, "chain": 1, "protocol": "classification",
            "accuracy": acc, "accuracy_std": 0.0, "rank5": math.nan, "rank10": math.nan,
            "mAP": math.nan, "chance": 0.5, "n_test": 40, "error": 1 - acc, "alpha": 0.05,
            "accept": acc > 0.95, "p_value": 0.01, "n_features": 6, "n_models": 100,
            "n_tasks": 2,
        }
        for kind, acc in (("chain", 1.0), ("layer", 0.6))
    ]  # fmt: skip
    return HTTResult(pd.DataFrame(rows), pd.DataFrame(), {"alpha": 0.05})


def test_a_reference_reads_values_words_and_texts() -> None:
    ref = Reference(values={("a", 1): 0.5}, words={"init": "said"}, texts={"row": "lost"})
    assert ref.value(("a", 1)) == 0.5
    assert math.isnan(ref.value(("a", 2)))
    assert ref.word("initializer") == ref.word("init") == "said"  # every alias of the target
    assert ref.word("optimizer") is None
    assert (ref.text("row"), ref.text("nothing")) == ("lost", "")


def test_htt_reference_holds_the_tiny_imagenet_numbers_by_chain() -> None:
    ref = htt_reference()
    assert ref.value(("MLP", "classification", "layer", 1)) == 0.629
    assert ref.value(("CNN", "retrieval", "chain", 3)) == 0.970
    assert math.isnan(ref.value(("MLP", "classification", "chain", 4)))
    assert len(ref.values) == 3 * len(HTT_TINY_IMAGENET)


def test_a_probe_result_shows_a_paper_only_when_given_one() -> None:
    bare = _htt_result()
    assert "paper_accuracy" not in bare.to_frame()
    assert "paper" not in bare.summary()
    assert not any("Paper values" in n for n in bare.notes())
    shown = with_paper(bare)
    frame = shown.to_frame()
    columns = list(frame.columns)
    assert columns[columns.index("p_value") + 1] == "paper_accuracy"  # the CSV column order
    assert frame.paper_accuracy.tolist() == [0.994, 0.629]
    text = shown.summary()
    assert "paper: tiny ImageNet (sec. 4.1, chains 1-3)" in text
    assert "      0.994    0.629  accept (p=0.01)" in text
    assert any(n.startswith("Paper values beside ours") for n in shown.notes())


def test_with_paper_leaves_results_no_paper_measured_alone() -> None:
    bare = _htt_result()
    assert with_paper(with_reference(bare, None)).reference == htt_reference()

    class Other:
        pass

    other = Other()
    assert with_paper(other) is other  # type: ignore[type-var]


def test_regression_reference_carries_every_published_sign() -> None:
    ref = nws_regression_reference()
    assert {k: int(v) for k, v in ref.values.items()} == NWS_SIGNS
    assert ref.text("ranking") == "init > activation > optimizer (NWS 4.2; values lost)"
