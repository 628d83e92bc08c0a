import os

import pytest
import torch

from fsc_teach import checkpoint
from fsc_teach.checkpoint import CheckpointError, cached_model, load_checkpoint, save_checkpoint
from fsc_teach.models import small_cnn, vgg_fmnist


def _same(a, b):
    x = torch.randn(2, 1, 28, 28)
    return torch.equal(a.eval()(x), b.eval()(x))


def test_round_trip_keeps_architecture_weights_and_meta(tmp_path):
    model = vgg_fmnist(width=0.25)
    save_checkpoint(tmp_path / "m.pt", model, {"acc": 0.5, "note": "x"})
    loaded, meta = load_checkpoint(tmp_path / "m.pt")
    assert loaded.config == model.config and meta == {"acc": 0.5, "note": "x"} and _same(model, loaded)


def test_checkpoint_is_loadable_with_weights_only(tmp_path):
    save_checkpoint(tmp_path / "m.pt", small_cnn((4, 8)))
    payload = torch.load(tmp_path / "m.pt", weights_only=True)  # no arbitrary code needed to read it
    assert payload["arch"] == "small_cnn" and payload["config"]["widths"] == [4, 8]


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    old = vgg_fmnist(width=0.25)
    save_checkpoint(path, old)
    before = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(checkpoint.torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, vgg_fmnist(width=0.5))
    assert path.read_bytes() == before  # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["m.pt"]  # and no temp file is left behind


@pytest.mark.parametrize("damage", [b"", b"not a zip at all", "truncate"])
def test_corrupted_file_gives_a_clear_error(tmp_path, damage):
    path = tmp_path / "m.pt"
    save_checkpoint(path, vgg_fmnist(width=0.25))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else damage)
    with pytest.raises(CheckpointError, match="corrupted or incompatible.*FSC_RETRAIN"):
        load_checkpoint(path)


def test_cached_model_rebuilds_corrupted_or_mismatched_files(tmp_path):
    path = tmp_path / "m.pt"
    calls = []

    def train():
        calls.append(1)
        return vgg_fmnist(width=0.25), {"trained": len(calls)}

    model, meta = cached_model(path, train)
    assert calls == [1] and meta == {"trained": 1}
    _, meta = cached_model(path, train)  # valid: loaded, not retrained
    assert calls == [1] and meta == {"trained": 1}
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="rebuilding"):
        _, meta = cached_model(path, train)
    assert calls == [1, 1] and meta == {"trained": 2}
    with pytest.warns(UserWarning, match="does not match"):
        cached_model(path, train, expect={"config": vgg_fmnist(width=0.5).config})
    assert len(calls) == 3
    loaded, _ = load_checkpoint(path)  # whatever happened, the file on disk is valid
    assert loaded.config == vgg_fmnist(width=0.25).config
