"""The peer NFNs: the conversion keeps a network's function; the benchmark runs them beside ours."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from weightspace import Library, WeightSet, load_weights
from weightspace.predict import PredictorError
from weightspace.predict.nfn_peer import NFNUnsupportedError, nfn_tensors
from weightspace.reproduce.accuracy_prediction import (
    Method,
    accuracy_prediction_experiment,
    default_methods,
    nfn_protocol_split,
)
from weightspace.zoo.architectures import create_architecture

TINY_NFN = {"epochs": 2, "hchannels": (4, 4), "head_hidden": 16}


def _nws_cnn_with_batch_norm() -> torch.nn.Module:
    net = create_architecture("nws-cnn", seed=0, input_size=16, filter_size=3, conv_width=4,
                              fc_width=32, activation="tanh")  # fmt: skip
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                for t in (m.weight, m.bias, m.running_mean):
                    t.copy_(torch.randn(t.shape, generator=gen))
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return net.eval()


def _plain_forward(
    weights: list[np.ndarray], biases: list[np.ndarray], x: torch.Tensor
) -> torch.Tensor:
    """The NWS CNN's computation on the converted (batch norm folded) tensors."""
    h = x.double()
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        w_t, b_t = torch.from_numpy(w).double(), torch.from_numpy(b).double()
        if i < 3:  # conv -> tanh -> max pool
            h = torch.nn.functional.conv2d(h, w_t, b_t, padding="same")
            h = torch.nn.functional.max_pool2d(torch.tanh(h), 2, ceil_mode=True)
            continue
        h = h.flatten(1) @ w_t.reshape(w_t.shape[0], -1).T + b_t
        if i < len(weights) - 1:
            h = torch.tanh(h)
    return h


def test_batch_norm_folding_and_the_flatten_keep_the_function():
    net = _nws_cnn_with_batch_norm()
    weights, biases = nfn_tensors(load_weights(net), bn_order="nws")
    assert [w.shape for w in weights] == [
        (4, 3, 3, 3), (8, 4, 3, 3), (16, 8, 3, 3), (32, 16, 2, 2), (16, 32), (10, 16)
    ]  # fmt: skip
    x = torch.randn(6, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = net(x).double()
    torch.testing.assert_close(_plain_forward(weights, biases, x), expected, atol=1e-4, rtol=1e-4)


def test_batch_norm_of_unknown_order_and_odd_networks_are_refused():
    with pytest.raises(NFNUnsupportedError, match="bn_order='nws'"):
        nfn_tensors(load_weights(_nws_cnn_with_batch_norm()))
    skip = WeightSet.from_arrays({"a.weight": np.ones((4, 3)), "b.weight": np.ones((2, 5))})
    with pytest.raises(NFNUnsupportedError, match="5 inputs after a layer of 4 outputs"):
        nfn_tensors(skip)


def test_ignoring_batch_norm_reads_the_kernels_as_stored():
    ws = load_weights(_nws_cnn_with_batch_norm())
    weights, biases = nfn_tensors(ws, bn_order="ignore")
    np.testing.assert_array_equal(weights[0], ws["conv11.weight"].array)
    np.testing.assert_array_equal(biases[-1], ws["fc_final.bias"].array)
    assert weights[3].shape == (32, 16, 2, 2)


def test_methods_by_name():
    names = [m.name for m in default_methods(["stats"])]
    assert names == ["gbt-stats", "ridge-stats", "nfn-np", "nfn-hnp"]
    assert [m.name for m in default_methods(["stats"], peers=["nfn-hnp"], ours=False)] == [
        "nfn-hnp"
    ]
    with pytest.raises(PredictorError, match="unknown peer"):
        default_methods(peers=["nfn-x"])
    with pytest.raises(PredictorError, match="unknown representation"):
        default_methods(["nope"])


def test_the_nfn_split_halves_then_cuts_80_20():
    train, val, test = nfn_protocol_split(40, seed=3)
    assert (len(train), len(val), len(test)) == (16, 4, 20)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(40))
    assert not np.array_equal(test, nfn_protocol_split(40, seed=4)[2])


def test_ours_and_the_nfns_on_the_same_splits_of_a_tiny_zoo(planted_large, tmp_path):
    pytest.importorskip("nfn", reason="the optional package nfn (weightspace[nfn]) is missing")
    methods = [
        Method("ridge-unterthiner", "ours", "ridge", "unterthiner"),
        Method("nfn-np", "peer", "nfn-np", None),
        Method("nfn-hnp", "peer", "nfn-hnp", None),
    ]
    result = accuracy_prediction_experiment(
        [Library(planted_large)], methods=methods, seeds=(0, 1), model_params={"nfn": TINY_NFN}
    )
    runs = result.runs
    assert sorted(runs["method"].unique()) == ["nfn-hnp", "nfn-np", "ridge-unterthiner"]
    assert (runs.groupby("method")["seed"].nunique() == 2).all()
    assert (runs["n_test"] == 40).all()
    assert (runs["n_train"] == 32).all()
    ridge = runs[runs["method"] == "ridge-unterthiner"]
    assert ridge["kendall_tau"].to_numpy() == pytest.approx([1.0, 1.0], abs=1e-12)
    assert runs["kendall_tau"].between(-1, 1).all()
    assert {"tau_digits", "tau_shapes"} <= set(runs.columns)
    # out of distribution: digits -> shapes and back, ours only by default
    assert set(zip(result.ood["train_dataset"], result.ood["test_dataset"], strict=True)) == {
        ("digits", "shapes"), ("shapes", "digits")
    }  # fmt: skip
    assert set(result.ood["method"]) == {"ridge-unterthiner"}
    summary = result.summary()
    assert "ANOTHER ZOO" in summary
    assert "NFN-HNP" in summary
    assert "0.934" in summary
    assert "best of ours ridge-unterthiner" in summary
    report = result.write_report(tmp_path / "report")
    assert report.markdown.is_file()
    assert len(report.figures) == 3
    assert (tmp_path / "report" / "accuracy-prediction-runs.csv").is_file()


def test_batch_norm_without_a_known_order_skips_the_nfns_with_the_reason(tmp_path):
    lib = Library.create(tmp_path / "bn")
    for seed in range(10):
        net = create_architecture("mlp", seed=seed, in_features=4, hidden=(6,), n_classes=3,
                                  batch_norm=True)  # fmt: skip
        lib.add(net, hparams={"dataset": "digits"}, metrics={"test_acc": 0.1 * seed})
    methods = [
        Method("ridge-stats", "ours", "ridge", "stats"),
        Method("nfn-hnp", "peer", "nfn-hnp", None),
    ]
    result = accuracy_prediction_experiment([lib], methods=methods, seeds=(0,), ood=False)
    assert set(result.runs["method"]) == {"ridge-stats"}
    (reason,) = result.skipped["reason"]
    assert "batch norm" in reason
    assert "Not run" in result.summary()


def test_reproduce_cli_prints_json_records(planted, tmp_path, cli):
    pytest.importorskip("nfn", reason="the optional package nfn (weightspace[nfn]) is missing")
    code, out, err = cli(
        "reproduce", "accuracy-prediction", planted, "--repr", "unterthiner", "--seeds", "0",
        "--epochs", "1", "--no-ood", "--out", tmp_path / "r", "--json",
    )  # fmt: skip
    assert code == 0, err
    records = json.loads(out)
    assert {r["method"] for r in records} == {
        "statnn", "gbt-unterthiner", "ridge-unterthiner", "nfn-np", "nfn-hnp"
    }  # fmt: skip
    for r in records:
        assert {"kendall_tau", "r2", "total_cpu_s", "n_test"} <= set(r)
        assert r["n_test"] == 20
    assert (tmp_path / "r" / "accuracy-prediction.md").is_file()


def test_the_hyper_representation_joins_the_defaults_only_with_an_encoder():
    assert not any(m.representation == "hyper" for m in default_methods(peers=False))
    names = [m.name for m in default_methods(peers=False, hyper=True)]
    assert {"gbt-hyper", "ridge-hyper"} <= set(names)


def test_hyper_without_an_encoder_is_refused_in_one_line(planted, tmp_path, cli):
    code, _, err = cli(
        "reproduce", "accuracy-prediction", planted, "--repr", "hyper", "--no-peers",
        "--seeds", "0", "--no-ood", "--out", tmp_path / "r",
    )  # fmt: skip
    assert code == 1
    assert "the hyper representation needs a trained encoder: pass --encoder DIR" in err


def test_the_benchmark_ranks_with_an_encoder_of_the_zoo(planted, tmp_path, cli):
    from .test_predictor import tiny_encoder

    encoder = tiny_encoder(planted, tmp_path / "encoder")
    code, text, err = cli(
        "reproduce", "accuracy-prediction", planted, "--repr", "hyper,stats", "--no-peers",
        "--seeds", "0", "--no-ood", "--encoder", encoder, "--out", tmp_path / "r", "--json",
    )  # fmt: skip
    assert code == 0, err
    methods = {r["method"] for r in json.loads(text)}
    assert {"ridge-hyper", "gbt-hyper", "ridge-stats"} <= methods
    assert str(encoder) in (tmp_path / "r" / "accuracy-prediction.md").read_text()
