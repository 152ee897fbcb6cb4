"""Maps of weight representations (MI-WD Fig. 4, NWS Fig. 13) on a library with a known answer.

Every model is a tiny CNN (a 3x3 conv layer with batch norm, then a linear layer) with four
snapshots along training. The conv kernels carry a planted footprint of the ``init`` column
(N(-1.5, 0.3), N(0, 1) or N(1.5, 0.5)), which every snapshot keeps; training moves every model
along one shared direction (2 x progress); ``label`` is a random column with no footprint. A
model's init must be read off its neighbours in the maps (k-NN accuracy near 1), its label must
not (near chance, 1/3), and a snapshot's progress must be read off other trainings' snapshots.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from weightspace import Library, WeightSet
from weightspace.atlas import Atlas
from weightspace.probe import ProbeError
from weightspace.probe.common import Selection
from weightspace.reproduce.embeddings import _training_models, representation_maps, training_maps
from weightspace.reproduce.embeddings_result import neighbour_score
from weightspace.reproduce.untangling import REPRESENTATIONS

INITS = {"negative": (-1.5, 0.3), "centred": (0.0, 1.0), "positive": (1.5, 0.5)}
N_MODELS = 45
PROGRESS = (0.0, 0.3, 0.7, 1.0)


def _snapshots(
    rng: np.random.Generator, init: str, out: int = 3, bn_spread: float = 0.0
) -> list[WeightSet]:
    mean, std = INITS[init]
    start = {
        "conv.weight": mean + std * rng.normal(size=(6, 2, 3, 3)),
        "conv.bias": np.zeros(6),
        "conv_bn.weight": np.ones(6),
        "conv_bn.bias": np.zeros(6),
        "conv_bn.running_mean": np.zeros(6),
        "conv_bn.running_var": np.ones(6),
        "fc.weight": rng.normal(0, 0.5, size=(out, 6)),
        "fc.bias": np.zeros(out),
    }
    shared = np.random.default_rng(0)  # the same direction of training for every model
    direction = {k: 2.0 * shared.normal(size=v.shape) for k, v in start.items()}
    snaps = [
        {k: v + t * (direction[k] + rng.normal(0, 0.05, v.shape)) for k, v in start.items()}
        for t in PROGRESS
    ]
    for snap in snaps:  # running variances of the conv layer's outputs (large when spread)
        snap["conv_bn.running_var"] = 1.0 + bn_spread * rng.uniform(size=6)
    return [WeightSet.from_arrays(snap) for snap in snaps]


def make_library(
    path: Path, n: int = N_MODELS, seed: int = 7, mixed: bool = False, bn_spread: float = 0.0
) -> Library:
    rng = np.random.default_rng(seed)
    lib = Library.create(path)
    labels = rng.permutation(np.arange(n) % 3)  # balanced: chance is 1/3
    items = []
    for i in range(n):
        init = list(INITS)[i % 3]
        final_acc = float(rng.uniform(0.5, 0.9))
        items.append(
            {
                "weights": _snapshots(rng, init, 4 if mixed and i % 4 == 0 else 3, bn_spread),
                "hparams": {
                    "dataset": "digits",
                    "init": init,
                    "label": "xyz"[labels[i]],
                    "learning_rate": float(10 ** rng.uniform(-4, -2)),
                },
                "metrics": {"test_acc": final_acc},
                "snapshots": [
                    {"epoch": j, "progress": t, "test_acc": 0.1 + t * (final_acc - 0.1)}
                    for j, t in enumerate(PROGRESS)
                ],
            }
        )
    lib.add_many(items)
    return lib


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("embeddings") / "lib"
    make_library(path).close()
    return path


@pytest.fixture(scope="module")
def fig4(planted):
    return representation_maps(
        Library(planted), targets=("init", "label", "dataset"), K=16, resample_to=256
    )


@pytest.fixture(scope="module")
def fig13(planted):
    return training_maps(Library(planted), colors=("init", "label", "progress", "test_error"))


def cell(result, figure: str, panel: str, color_by: str):
    table = result.to_frame().set_index(["figure", "panel", "color_by"])
    return table.loc[(figure, panel, color_by)]


# ------------------------------------------------------------------------------- the scores
def test_neighbour_score_finds_clusters_and_not_random_labels(rng):
    centres = np.repeat(np.eye(3) * 20, 30, axis=0)
    X = centres + rng.normal(size=centres.shape)
    cluster = np.repeat(np.arange(3), 30)
    assert neighbour_score(X, cluster, categorical=True) == 1.0
    noise = rng.integers(0, 3, size=90)
    assert abs(neighbour_score(X, noise, categorical=True) - 1 / 3) < 0.2


def test_neighbours_of_the_same_training_do_not_count(rng):
    groups = np.repeat(np.arange(20), 4)  # 20 trainings, 4 snapshots each at one spot
    X = groups[:, None] + rng.normal(0, 1e-3, size=(80, 2))
    own = groups % 2  # a value per training, alternating along the line
    assert neighbour_score(X, own, categorical=True) == 1.0  # its own snapshots vote
    assert neighbour_score(X, own, categorical=True, groups=groups) < 0.2
    smooth = groups.astype(float)
    assert neighbour_score(X, smooth, categorical=False, groups=groups) > 0.95


def test_neighbour_score_leaves_out_missing_values_and_constants(rng):
    X = rng.normal(size=(12, 2))
    assert np.isnan(neighbour_score(X, np.ones(12), categorical=False))
    codes = np.array([0, 1] * 6)
    codes[:4] = -1
    assert 0.0 <= neighbour_score(X, codes, categorical=True, k=3) <= 1.0
    assert np.isnan(neighbour_score(X[:3], codes[:3], categorical=True))


# ------------------------------------------------------------------------------- Fig. 4
def test_fig4_maps_every_representation(fig4):
    table = fig4.to_frame()
    assert list(dict.fromkeys(table.panel)) == list(REPRESENTATIONS)
    assert set(table.color_by) == {"init", "label"}  # dataset has one value: not scored
    assert any("dataset" in r for r in fig4.notes())
    assert table.paper.isna().all()
    for rep in REPRESENTATIONS:
        atlas = fig4.maps[f"4/{rep}"]
        assert isinstance(atlas, Atlas)
        assert len(atlas) == N_MODELS
        assert atlas.coords.shape == (N_MODELS, 2)
    assert fig4.maps["4/mi-wd"].descriptors.shape == (N_MODELS, 16)


def test_fig4_planted_init_is_found_and_random_label_is_not(fig4):
    for rep in ("mi-wd", "global stats"):
        row = cell(fig4, "4", rep, "init")
        assert row.knn_map >= 0.9
        assert row.knn_features >= 0.9
        assert row.silhouette_features > 0.3
        assert row.chance == pytest.approx(1 / 3)
    label = fig4.to_frame().query("color_by == 'label'")[["knn_map", "knn_features"]]
    assert label.to_numpy().max() < 0.65  # 10 scores of 45 models each, no footprint
    assert abs(label.to_numpy().mean() - 1 / 3) < 0.15  # leave-one-out reads a bit low


def test_fig4_summary_report_and_figures(fig4, tmp_path):
    text = fig4.summary()
    assert "MI-WD Fig. 4" in text
    assert "paper: Fig. 4 is a picture" in text
    figures = fig4.figures()
    assert list(figures) == ["fig4", "fig4-scores"]
    assert all(isinstance(f, Figure) for f in figures.values())
    panels = [ax for ax in figures["fig4"].axes if ax.get_title()]
    assert len(panels) == 5
    assert [ax.get_legend() is not None for ax in panels] == [False] * 4 + [True]
    report = fig4.write_report(tmp_path)
    assert report.markdown.read_text().count("![fig4") == 2
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in report.figures)


def test_fig4_checks_its_parameters(planted):
    lib = Library(planted)
    with pytest.raises(ProbeError, match="perfect square"):
        representation_maps(lib, K=10)
    with pytest.raises(ProbeError, match="cannot colour by 'learning_rate'"):
        representation_maps(lib, color_by="learning_rate", K=16)
    with pytest.raises(ProbeError, match="k=5 neighbours"):
        representation_maps(lib, K=16, selection=Selection(failed=None, where="id <= 4"))


# ------------------------------------------------------------------------------- Fig. 13
def test_fig13_embeds_every_snapshot_of_the_conv_layers(fig13):
    atlas = fig13.maps["13/umap"]
    assert len(atlas) == N_MODELS * len(PROGRESS)
    assert atlas.descriptors.shape == (N_MODELS * len(PROGRESS), 10)
    assert "(138 values" in fig13.facts["13"]  # conv kernel 108 + bias 6 + batch norm 4 x 6
    assert fig13.colors == ("init", "label", "progress", "test_error")
    assert set(fig13.to_frame().panel) == {"pca", "umap"}


def test_fig13_planted_init_and_progress_are_found_and_random_label_is_not(fig13):
    for panel in ("pca", "umap"):
        assert cell(fig13, "13", panel, "init").knn_features >= 0.9
        assert abs(cell(fig13, "13", panel, "label").knn_map - 1 / 3) < 0.2
    assert cell(fig13, "13", "umap", "init").knn_map >= 0.9
    progress = cell(fig13, "13", "umap", "progress")
    assert progress.score == "kNN R²"
    assert progress.knn_features > 0.8


def test_fig13_figures_have_one_panel_per_colouring(fig13):
    figures = fig13.figures()
    assert list(figures) == ["fig13-umap", "fig13-pca"]
    titles = [ax.get_title() for ax in figures["fig13-pca"].axes if ax.get_title()]
    assert [t.split("\n")[0] for t in titles] == [
        "(a) init", "(b) label", "(c) training progress", "(d) test error",
    ]  # fmt: skip
    assert "paper: Fig. 13 is a picture" in fig13.summary()


def test_fig13_raw_weights_use_the_largest_architecture_and_miwd_uses_all(tmp_path):
    lib = make_library(tmp_path / "mixed", n=16, mixed=True)  # 4 models have a wider fc layer
    raw = training_maps(lib, colors=("init",), k=3)
    assert len(raw.maps["13/umap"]) == 12 * len(PROGRESS)
    assert any("largest group" in r for r in raw.notes())
    every = training_maps(lib, representation="miwd", layers="all", colors=("init",), S=4, B=4)
    assert len(every.maps["13/umap"]) == 16 * len(PROGRESS)
    assert "MI-WD 4x4" in every.facts["13"]
    some = training_maps(lib, representation="miwd", models=5, colors=("init",), S=4, B=4, k=3)
    assert len(set(some.maps["13/umap"].ids)) == 5
    with pytest.raises(ProbeError, match="no model of architecture 'nope'"):
        training_maps(lib, arch="nope")


def test_fig13_takes_model_ids_from_models_or_the_selection(planted):
    lib = Library(planted)
    ids = lib.query()["id"].astype(int).tolist()[1:6]
    everything = Selection(failed=None)
    by_models, _ = _training_models(lib, ids, everything, None, True, 0, [])
    chosen = Selection(failed=None, ids=tuple(ids))
    by_selection, _ = _training_models(lib, None, chosen, None, True, 0, [])
    assert by_models["id"].tolist() == by_selection["id"].tolist() == ids
    drawn, _ = _training_models(lib, 3, chosen, None, True, 0, [])
    assert len(drawn) == 3
    assert set(drawn["id"]) <= set(ids)
    with pytest.raises(ProbeError, match="not both"):
        training_maps(lib, models=ids, selection=chosen)


def test_fig13_keeps_only_the_roles_asked_for_and_flags_running_statistics(tmp_path):
    lib = make_library(tmp_path / "bn", n=12, bn_spread=500.0)
    every = training_maps(lib, colors=("init",), k=3)
    assert any("running statistics (bn_mean, bn_var) hold" in r for r in every.notes())
    trained = training_maps(lib, roles=("kernel", "bias", "bn_gamma", "bn_beta"), colors=("init",))
    assert "(126 values" in trained.facts["13"]  # 138 less 2 x 6 running statistics
    assert not any("running statistics" in r for r in trained.remarks)
    kernels = training_maps(lib, roles=("kernel",), colors=("init",), k=3)
    assert "(108 values" in kernels.facts["13"]
    with pytest.raises(ProbeError, match="roles must be some of"):
        training_maps(lib, roles=("weights",))


def test_fig13_needs_conv_layers_for_layers_conv(tmp_path):
    lib = Library.create(tmp_path / "mlp")
    lib.add_many(
        {"weights": {"fc.weight": np.full((3, 4), float(i)), "fc.bias": np.zeros(3)}}
        for i in range(8)
    )
    with pytest.raises(ProbeError, match="no convolutional layers"):
        training_maps(lib)


def test_both_figures_merge_into_one_report(fig4, fig13, tmp_path):
    both = fig4.merge(fig13)
    assert list(dict.fromkeys(both.to_frame().figure)) == ["4", "13"]
    assert list(both.figures()) == ["fig4", "fig4-scores", "fig13-umap", "fig13-pca"]
    text = both.summary()
    assert text.index("MI-WD Fig. 4") < text.index("NWS Fig. 13")


# ------------------------------------------------------------------------------- the command


def test_command_prints_json_records_and_writes_the_report(planted, tmp_path, cli):
    out_dir = tmp_path / "report"
    code, out, err = cli(
        "reproduce", "embeddings", planted, "--figure", "all", "--dim", "16",
        "--resample-to", "256", "--targets", "init,label", "--out", out_dir, "--json",
    )  # fmt: skip
    assert code == 0, err
    records = json.loads(out)
    assert {r["figure"] for r in records} == {"4", "13"}
    assert {"knn_map", "knn_features", "chance", "silhouette_map", "paper"} <= set(records[0])
    assert (out_dir / "embeddings.md").is_file()
    assert (out_dir / "embeddings.csv").is_file()
    for name in ("fig4", "fig4-scores", "fig13-umap", "fig13-pca"):
        assert (out_dir / f"embeddings-{name}.png").stat().st_size > 1000


def test_command_prints_the_summary_and_reports_bad_options(planted, tmp_path, cli):
    code, out, _ = cli(
        "reproduce", "embeddings", planted, "--figure", "13", "--colors",
        "init,progress", "--filter", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0
    assert "NWS Fig. 13" in out
    assert "MI-WD Fig. 4" not in out
    assert "digits: threshold 0.2" in (tmp_path / "embeddings.md").read_text()  # --filter
    code, _, err = cli("reproduce", "embeddings", planted, "--figure", "5")
    assert code == 2
    code, _, err = cli("reproduce", "embeddings", planted, "--dim", "10")
    assert code == 1
    assert "perfect square" in err
