"""``reproduce hyper-representations`` on tiny zoos: every representation probed, the paper beside
ours, encoders reused on a rerun, out-of-distribution rows."""

import json

import numpy as np
import pytest

from weightspace.reproduce.hyper import hyper_experiment
from weightspace.reproduce.papers import HYP_RESULTS

from ..learn.conftest import make_zoo, small_settings


@pytest.fixture(scope="module")
def zoos(tmp_path_factory):
    root = tmp_path_factory.mktemp("hyper")
    return make_zoo(root / "a", n_models=12, hidden=6), make_zoo(root / "b", n_models=6, hidden=6,
                                                                 seed=2)  # fmt: skip


def test_every_representation_is_probed_beside_the_paper(zoos, tmp_path):
    zoo, other = zoos
    lines = []
    result = hyper_experiment(zoo, ood=other, settings=small_settings(epochs=1), n_seeds=2,
                              encoders=tmp_path / "enc", log=lines.append)  # fmt: skip
    frame = result.to_frame().set_index("target")
    assert list(result.representations) == [
        "W", "s(W)", "layer-stats", "MI-WD", "E_cD", "E_c", "E_D"
    ]  # fmt: skip
    assert set(frame.index) == {"test_acc", "epoch", "ggap", "optimizer"}
    assert frame.loc["test_acc", "paper_E_cD"] == HYP_RESULTS["test_acc"][2] == 94.9
    assert frame.loc["test_acc", "metric"] == "R2"
    assert frame.loc["optimizer", "metric"] == "accuracy"
    assert np.isfinite(
        frame.loc["test_acc", ["W", "s(W)", "E_cD", "E_c", "E_D"]].astype(float)
    ).all()
    assert result.n_samples == 48  # every model at every snapshot: the paper filters nothing
    assert "E_cD" in result.verdict()
    ood = result.ood.set_index("setting")
    assert len(ood) == 3
    assert np.isfinite(ood[["W", "s(W)", "E_cD"]].to_numpy(dtype=float)).all()
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "enc").iterdir()) == [
        "E_D",
        "E_c",
        "E_cD",
    ]
    assert any("E_cD: 1 epochs" in line for line in lines)
    report = result.write_report(tmp_path / "report")
    text = report.markdown.read_text()
    assert "paper W" in text
    assert "Wall times" in text
    assert report.figures


def test_the_cli_reuses_its_encoders_on_a_rerun(zoos, cli, tmp_path):
    zoo, _ = zoos
    argv = ["reproduce", "hyper-representations", zoo.path, "--epochs", "1", "--d-model", "16",
            "--latent", "4", "--seeds", "2", "--encoders", tmp_path / "enc",
            "--out", tmp_path / "out", "--json", "--targets", "test_acc,epoch"]  # fmt: skip
    code, out, err = cli(*argv)
    assert code == 0, err
    rows = json.loads(out)
    assert [r["target"] for r in rows] == ["test_acc", "epoch"]
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "enc").rglob("encoder.safetensors")}
    assert len(stamps) == 3
    code, out, err = cli(*argv)
    assert code == 0, err
    assert json.loads(out) == rows
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (tmp_path / "out" / "hyper-representations.md").is_file()
    assert (tmp_path / "out" / "hyper-representations.csv").is_file()
