"""The embedding: seeded and reproducible, cached in the library, new models transformed into it."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from weightspace.atlas import Atlas, AtlasEmbedding, AtlasError, build_atlas
from weightspace.atlas.embed import refit_embedding


def blobs(rng, n_per=12, dim=48):
    return np.concatenate([rng.normal(3 * i, 1.0, (n_per, dim)) for i in range(3)]).astype(
        np.float32
    )


def test_the_same_seed_gives_the_same_map(rng):
    X = blobs(rng)
    first = AtlasEmbedding(n_neighbors=6, random_state=3).fit_transform(X)
    again = AtlasEmbedding(n_neighbors=6, random_state=3).fit_transform(X)
    other = AtlasEmbedding(n_neighbors=6, random_state=4).fit_transform(X)
    assert first.shape == (36, 2)
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_pca_pre_reduction_is_seeded_and_transforms(rng):
    X = blobs(rng)
    est = AtlasEmbedding(n_neighbors=6, pca_components=5).fit(X)
    assert est.pca_.n_components_ == 5
    again = AtlasEmbedding(n_neighbors=6, pca_components=5).fit(X)
    np.testing.assert_array_equal(est.embedding_, again.embedding_)
    assert est.transform(X[:2]).shape == (2, 2)


def test_few_models_are_mapped_by_pca(rng):
    X = rng.random((3, 10))
    est = AtlasEmbedding().fit(X)
    assert est.method_ == "pca"
    np.testing.assert_allclose(est.transform(X), est.embedding_, atol=1e-5)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_neighbors": 1}, "n_neighbors must be an integer >= 2; got 1"),
        ({"min_dist": 2.0}, r"min_dist must be a number in \[0, 1\]; got 2.0"),
        ({"metric": "nope"}, "metric must be one of"),
        ({"pca_components": 1}, "pca_components must be None or an integer >= 2"),
        ({"random_state": "0"}, "random_state must be an int or None"),
    ],
)
def test_bad_parameters_are_named(rng, params, message):
    with pytest.raises(AtlasError, match=message):
        AtlasEmbedding(**params).fit(rng.random((8, 4)))


def test_transform_checks_the_feature_count(rng):
    est = AtlasEmbedding(n_neighbors=6).fit(blobs(rng))
    with pytest.raises(AtlasError, match="fitted on 48"):
        est.transform(np.zeros((1, 5)))


def test_the_atlas_places_its_own_models_near_themselves(atlas):
    placed = atlas.transform(atlas.descriptors[:5])
    spread = np.ptp(atlas.coords, axis=0).max()
    assert placed.shape == (5, 2)
    assert np.linalg.norm(placed - atlas.coords[:5], axis=1).max() < 0.25 * spread


def test_the_map_is_cached_in_the_library(atlas, atlas_library, monkeypatch):
    assert list((atlas_library.path / "cache").glob("atlas-umap-*.npz"))

    def no_fit(*args, **kwargs):
        raise AssertionError("the cached map should have been used")

    monkeypatch.setattr(AtlasEmbedding, "fit", no_fit)
    again = build_atlas(atlas_library, n_neighbors=8)
    np.testing.assert_array_equal(again.coords, atlas.coords)
    np.testing.assert_array_equal(again.descriptors, atlas.descriptors)


def test_an_atlas_read_from_json_refits_the_same_map_to_place_models(atlas):
    back = Atlas.from_json(atlas.to_json())
    np.testing.assert_array_equal(
        back.transform(atlas.descriptors[:3]), atlas.transform(atlas.descriptors[:3])
    )


def test_a_map_that_cannot_be_reproduced_is_refused(atlas):
    tampered = Atlas(
        ids=atlas.ids,
        coords=atlas.coords + 5.0,
        descriptors=atlas.descriptors,
        embedding=atlas.embedding,
    )
    with pytest.raises(AtlasError, match="did not reproduce"):
        refit_embedding(tampered)
    unseeded = Atlas(ids=atlas.ids, coords=atlas.coords, descriptors=atlas.descriptors)
    with pytest.raises(AtlasError, match="without a random_state"):
        unseeded.transform(atlas.descriptors[:1])


def test_build_selects_models_and_names_an_empty_selection(atlas_library):
    ids = atlas_library.ids("dataset = 'digits'")[:6]
    small = build_atlas(atlas_library, ids=ids, n_neighbors=4)
    assert small.ids.tolist() == ids
    with pytest.raises(AtlasError, match="no models to map"):
        build_atlas(atlas_library, where="dataset = 'nope'")


def test_a_ragged_batch_is_refused_by_name(rng):
    ragged = [rng.random(8), rng.random(8), rng.random(5)]
    est = AtlasEmbedding()
    with pytest.raises(
        AtlasError, match=r"descriptors of one length .* rows of 2 lengths \(\[5, 8\]"
    ):
        est.fit(ragged)
    assert not hasattr(est, "n_features_in_")  # nothing fitted


def test_a_failed_refit_leaves_nothing_of_the_earlier_fit(rng):
    est = AtlasEmbedding(n_neighbors=6).fit(blobs(rng))
    with pytest.raises(ValueError, match="NaN"):
        est.fit(np.full((8, 4), np.nan))
    assert not [name for name in vars(est) if name.endswith("_")]
    with pytest.raises(NotFittedError):
        est.transform(blobs(rng)[:1])


def test_models_are_placed_one_at_a_time_and_fitted_ones_on_their_own_point(rng):
    X = blobs(rng)
    est = AtlasEmbedding(n_neighbors=6).fit(X)
    np.testing.assert_array_equal(est.transform(X[[4, 0]]), est.embedding_[[4, 0]])
    new = X[:6] + 0.25
    together = est.transform(new)
    alone = np.concatenate([est.transform(new[i : i + 1]) for i in (5, 2, 0, 1, 3, 4)])
    np.testing.assert_array_equal(together[[5, 2, 0, 1, 3, 4]], alone)


def test_the_map_has_named_coordinates_for_pandas(rng):
    X = pd.DataFrame(blobs(rng), columns=[f"d{i}" for i in range(48)])
    est = AtlasEmbedding(n_neighbors=6).set_output(transform="pandas")
    frame = est.fit_transform(X)
    assert list(frame.columns) == ["x", "y"]
    assert list(est.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(frame.to_numpy(), est.embedding_)
    assert list(est.transform(X.iloc[:2]).index) == [0, 1]
