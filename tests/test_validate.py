"""A student's most common mistakes give clear errors (or repair themselves): wrong arguments, tried as a new user
would pass them, and the damaged-data repair on a copy of the data folder."""
import gzip
import warnings

import pytest
import torch
from torch import nn

from fsc_teach import data, fskd, losses, train
from fsc_teach.data import DEBIAN_FASHION_MNIST, DataUnavailableError, load_dataset

HAS_DEBIAN = (DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file()


def test_kd_loss_with_different_class_counts_names_both_shapes():
    with pytest.raises(ValueError, match=r"teacher_logits must have the shape of student_logits, \(4, 10\), "
                                         r"got \(4, 9\)"):
        losses.kd_loss(torch.randn(4, 10), torch.randn(4, 9), T=2)


def test_fit_with_float_labels_says_to_convert_them():
    x, y = torch.randn(8, 4), torch.arange(8).float() % 3
    with pytest.raises(TypeError, match=r"y must be an integer tensor, got dtype torch.float32 \(convert with "
                                        r"\.long\(\)\)"):
        train.fit(nn.Linear(4, 3), x, y, progress=False)


def test_merge_pointwise_on_a_linear_layer_names_the_expected_kind():
    with pytest.raises(TypeError, match=r"conv must be a torch.nn.Conv2d, got a Linear module"):
        fskd.merge_pointwise(nn.Linear(3, 4), torch.eye(4))


def test_unavailable_fsc_device_names_the_available_ones(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setenv("FSC_DEVICE", "cuda")
    with pytest.raises(ValueError, match=r"FSC_DEVICE='cuda' is not available on this machine; available devices: "
                                         r"cpu$"):
        train.get_device()
    monkeypatch.setenv("FSC_DEVICE", "gpu")
    with pytest.raises(ValueError, match="FSC_DEVICE='gpu' is not a device name; available devices: cpu"):
        train.get_device()
    with pytest.raises(ValueError, match="device='cuda:1' is not available"):
        train.fit(nn.Linear(4, 3), torch.randn(4, 4), torch.arange(4) % 3, device="cuda:1", progress=False)


def _truncated_copy(root):
    """A data folder whose train images were cut to 984 bytes (header intact): a disk or copy fault."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    with gzip.open(DEBIAN_FASHION_MNIST / "train-images-idx3-ubyte.gz", "rb") as f:
        (raw / "train-images-idx3-ubyte").write_bytes(f.read(984))
    return raw


@pytest.mark.skipif(not HAS_DEBIAN, reason="needs the Debian package dataset-fashion-mnist")
def test_truncated_file_is_removed_and_prepared_again_from_the_debian_files(tmp_path):
    raw = _truncated_copy(tmp_path / "data")
    with pytest.warns(UserWarning, match=r"train-images-idx3-ubyte is damaged \(984 bytes instead of the 47040016"):
        ds = load_dataset("fashion_mnist", train=True, root=tmp_path / "data")
    assert len(ds) == 60000 and (raw / "train-images-idx3-ubyte").stat().st_size == 47040016
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # intact now: no second repair
        assert len(load_dataset("fashion_mnist", train=True, root=tmp_path / "data")) == 60000


@pytest.mark.skipif(not HAS_DEBIAN, reason="needs the Debian package dataset-fashion-mnist")
def test_damaged_file_without_any_source_explains_what_happened(tmp_path, monkeypatch):
    raw = _truncated_copy(tmp_path / "data")
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "nothing-here")

    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    import urllib.request
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.warns(UserWarning, match="damaged"), pytest.raises(DataUnavailableError) as info:
        load_dataset("fashion_mnist", root=tmp_path / "data")
    msg = str(info.value)
    assert msg.startswith("Damaged files were found and removed: train-images-idx3-ubyte (984 bytes instead of the "
                          "47040016 its header announces); no intact source was available")
    assert "apt-get install dataset-fashion-mnist" in msg
    assert not (raw / "train-images-idx3-ubyte").exists()


def test_damaged_debian_source_is_not_used(tmp_path):
    src = tmp_path / "debian"
    src.mkdir()
    for f in data._FMNIST_FILES:
        (src / f"{f}.gz").write_bytes(b"not gzip")
    with pytest.warns(UserWarning, match="is damaged"):
        assert data.prepare_fashion_mnist(tmp_path / "root", source=src) is False
    assert not [p for p in (tmp_path / "root" / "FashionMNIST" / "raw").iterdir()]
