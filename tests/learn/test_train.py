"""Training: an encoder learns a tiny zoo, reloads exactly, and resumes where it stopped."""

import json
import shutil

import numpy as np
import pytest
import torch

from weightspace import Library
from weightspace.learn import (
    EncoderFolderError,
    LearnError,
    load_encoder,
    reconstruction_r2,
    train_encoder,
)
from weightspace.learn import checkpoint as ckpt


def test_the_encoder_overfits_a_tiny_zoo(tiny_zoo, tmp_path, settings):
    s = settings(loss="d", permute=False, erase_p=0.0, noise=0.0, dropout=0.0, epochs=50,
                 patience=50, lr=1e-2, batch_size=16, d_model=32, d_ff=64, latent=16)  # fmt: skip
    train_encoder(tiny_zoo, tmp_path / "enc", s, progress=False)
    encoder = load_encoder(tmp_path / "enc")
    last, _, _ = ckpt.read_state(
        tmp_path / "enc"
    )  # the last epoch (the best is on held-out models)
    encoder.model.load_state_dict(last)
    lib = Library(tiny_zoo)
    val = set(encoder.config["zoo"]["val_models"])
    V = np.concatenate([lib.snapshot_matrix(i) for i in lib.ids() if i not in val])
    rec = encoder.reconstruct(V)
    r2 = reconstruction_r2(rec[:, :, None], V[:, :, None], np.ones((V.shape[1], 1), bool))
    assert r2 > 0.9


def test_a_checkpoint_reloads_to_identical_embeddings(encoder_dir, tiny_zoo, tmp_path):
    lib = Library(tiny_zoo)
    models = [lib.get(i, s) for i in lib.ids() for s in (0, -1)]
    first = load_encoder(encoder_dir).embed(models)
    copy = shutil.copytree(encoder_dir, tmp_path / "copy")
    second = load_encoder(copy).embed(models)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (len(models), 8)
    assert np.abs(first).max() <= 1.0  # tanh latent
    assert np.unique(first, axis=0).shape[0] == len(models)


def test_a_finished_training_is_reused(encoder_dir, tiny_zoo, settings):
    before = (encoder_dir / ckpt.ENCODER).read_bytes()
    result = train_encoder(tiny_zoo, encoder_dir, settings(), progress=False)
    assert result.resumed_from == 2
    assert len(result.history) == 3
    assert (encoder_dir / ckpt.ENCODER).read_bytes() == before


def _final_weights(folder):
    state, _, meta = ckpt.read_state(folder)
    return state, meta


def test_an_interrupted_training_resumes_from_its_checkpoint(tiny_zoo, tmp_path, settings):
    s = settings(epochs=4, patience=10)
    train_encoder(tiny_zoo, tmp_path / "straight", s, progress=False)

    class Killed(Exception):
        pass

    def kill_after_epoch_1(record):
        if record.epoch == 1:
            raise Killed

    with pytest.raises(Killed):
        train_encoder(
            tiny_zoo, tmp_path / "resumed", s, progress=False, callback=kill_after_epoch_1
        )
    _, meta = _final_weights(tmp_path / "resumed")
    assert meta["epoch"] == 1
    assert not meta.get("finished")
    seen = []
    result = train_encoder(tiny_zoo, tmp_path / "resumed", s, progress=False,
                           callback=lambda r: seen.append(r.epoch))  # fmt: skip
    assert result.resumed_from == 1
    assert seen == [2, 3]
    a, meta_a = _final_weights(tmp_path / "straight")
    b, meta_b = _final_weights(tmp_path / "resumed")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    losses = [h["val_loss"] for h in meta_a["history"]]
    assert losses == [h["val_loss"] for h in meta_b["history"]]


def test_other_settings_in_the_same_folder_are_refused_unless_restarted(
    encoder_dir, tiny_zoo, tmp_path, settings
):
    folder = shutil.copytree(encoder_dir, tmp_path / "enc")
    with pytest.raises(LearnError, match=r"other settings.*--restart"):
        train_encoder(tiny_zoo, folder, settings(latent=4), progress=False)
    result = train_encoder(tiny_zoo, folder, settings(latent=4, epochs=1), restart=True,
                           progress=False)  # fmt: skip
    assert result.resumed_from is None
    assert load_encoder(folder).latent == 4


def test_early_stopping_stops_after_patience_epochs_without_improvement(
    tiny_zoo, tmp_path, settings
):
    result = train_encoder(tiny_zoo, tmp_path / "enc", settings(epochs=40, patience=1, lr=1.0),
                           progress=False)  # fmt: skip
    assert result.stop_reason == "early_stopping"
    assert len(result.history) < 40
    assert len(result.history) == result.best_epoch + 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / ckpt.CONFIG).unlink(), "not an encoder folder"),
        (lambda d: (d / ckpt.CONFIG).write_text("{"), "unreadable JSON"),
        (lambda d: (d / ckpt.ENCODER).unlink(), "missing"),
        (lambda d: (d / ckpt.ENCODER).write_bytes(b"junk"), "not a readable safetensors"),
        (
            lambda d: (d / ckpt.CONFIG).write_text(
                json.dumps({**json.loads((d / ckpt.CONFIG).read_text()), "model": {"tokens": 1}})
            ),
            "incomplete or invalid configuration",
        ),
    ],
)
def test_bad_encoder_folders_say_what_is_wrong(encoder_dir, tmp_path, damage, message):
    folder = shutil.copytree(encoder_dir, tmp_path / "enc")
    damage(folder)
    with pytest.raises(EncoderFolderError, match=message):
        load_encoder(folder)


def test_a_zoo_of_two_architectures_is_refused(tiny_zoo, other_zoo, tmp_path, settings):
    mixed = Library.create(tmp_path / "mixed")
    for path in (tiny_zoo, other_zoo):
        lib = Library(path)
        mixed.add(lib.snapshots_of(lib.ids()[0]))
    with pytest.raises(LearnError, match="2 architectures"):
        train_encoder(mixed, tmp_path / "enc", settings(), progress=False)


def test_training_leaves_the_global_torch_generator_alone(tiny_zoo, tmp_path, settings):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_encoder(tiny_zoo, tmp_path / "enc", settings(epochs=1, dropout=0.1), progress=False)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.slow
def test_learn_train_resumes_after_kill_9(tiny_zoo, tmp_path):
    """The real thing: SIGKILL a training process after its first checkpoint, rerun the command."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "enc"
    argv = [sys.executable, "-m", "weightspace.cli.main", "learn", "train", str(tiny_zoo), "-o",
            str(out), "--epochs", "60", "--d-model", "16", "--heads", "2", "--layers", "1",
            "--latent", "4", "--batch-size", "4"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (out / ckpt.CHECKPOINT).is_file() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, _, state = ckpt.read_state(out)
    assert not state.get("finished")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    assert "resumed after epoch" in done.stdout
    _, _, final = ckpt.read_state(out)
    assert final["finished"]
    assert [h["epoch"] for h in final["history"]] == list(range(len(final["history"])))
    load_encoder(out)
