import gzip
from pathlib import Path

import pytest
import torch

from fsc_teach import data
from fsc_teach.data import (DataUnavailableError, augment_batch, few_shot_indices, load_dataset, load_tensors,
                            sample_indices, synthetic_dataset)
from conftest import needs_data


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="cifar10.*fashion_mnist.*mnist"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="valid names"):
        load_tensors("svhn")


def test_few_shot_indices_contract():
    targets = torch.arange(1000) % 10
    idx = few_shot_indices(targets, k=7, seed=3)
    assert idx.dtype == torch.long and len(idx) == 70
    assert torch.equal(idx, torch.sort(idx).values)  # sorted
    assert len(torch.unique(idx)) == 70  # no duplicates
    assert torch.equal(torch.bincount(targets[idx], minlength=10), torch.full((10,), 7))  # exactly k per class
    assert torch.equal(idx, few_shot_indices(targets, k=7, seed=3))  # deterministic
    assert not torch.equal(idx, few_shot_indices(targets, k=7, seed=4))  # the seed matters


def test_few_shot_indices_errors_name_the_class():
    targets = torch.tensor([0] * 10 + [1] * 3 + [2] * 10)
    with pytest.raises(ValueError, match=r"class 1 has only 3 examples.*k=5"):
        few_shot_indices(targets, k=5)
    with pytest.raises(ValueError, match="at least 1"):
        few_shot_indices(targets, k=0)


def test_sample_indices_without_regard_to_class():
    idx = sample_indices(500, 50, seed=1)
    assert len(idx) == 50 and len(torch.unique(idx)) == 50 and int(idx.max()) < 500
    assert torch.equal(idx, torch.sort(idx).values)
    assert torch.equal(idx, sample_indices(500, 50, seed=1))
    with pytest.raises(ValueError, match="cannot draw"):
        sample_indices(10, 11)


def test_augment_batch_translates_and_flips():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 8, 8)
    out = augment_batch(x, pad=0, flip=True, generator=gen)
    flipped = [torch.equal(o, xi.flip(2)) for o, xi in zip(out, x)]
    same = [torch.equal(o, xi) for o, xi in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same)) and 10 < sum(flipped) < 54
    shifted = augment_batch(x, pad=2, flip=False, generator=gen)
    assert shifted.shape == x.shape
    # every output is some translate of its input: its non-zero pixels keep their values
    for o, xi in zip(shifted, x):
        padded = torch.nn.functional.pad(xi, (2, 2, 2, 2))
        assert any(torch.equal(o, padded[:, a:a + 8, b:b + 8]) for a in range(5) for b in range(5))


def test_synthetic_cifar_shapes():
    x, y = synthetic_dataset(20, (3, 32, 32), seed=0)
    assert x.shape == (20, 3, 32, 32) and torch.equal(torch.bincount(y), torch.full((10,), 2))


def _fake_debian_dir(tmp_path: Path) -> Path:
    """A stand-in for /usr/share/datasets/fashion-mnist: four tiny valid IDX files, gzipped."""
    src = tmp_path / "debian"
    src.mkdir()
    import struct

    def images(n):
        return struct.pack(">IIII", 2051, n, 28, 28) + bytes(range(256)) * (n * 784 // 256) + bytes(n * 784 % 256)

    def labels(n):
        return struct.pack(">II", 2049, n) + bytes(i % 10 for i in range(n))

    for name, payload in [("train-images-idx3-ubyte", images(20)), ("train-labels-idx1-ubyte", labels(20)),
                          ("t10k-images-idx3-ubyte", images(10)), ("t10k-labels-idx1-ubyte", labels(10))]:
        with gzip.open(src / f"{name}.gz", "wb") as f:
            f.write(payload)
    return src


def test_offline_path_decompresses_debian_files(tmp_path, monkeypatch):
    src = _fake_debian_dir(tmp_path)
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", src)
    root = tmp_path / "root"
    ds = load_dataset("fashion_mnist", train=True, root=root)
    assert len(ds) == 20 and (root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    assert not list((root / "FashionMNIST" / "raw").glob("*.tmp"))
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and y == 3


def test_missing_data_error_names_both_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "nothing-here")

    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    import urllib.request
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(DataUnavailableError) as info:
        load_dataset("fashion_mnist", root=tmp_path / "empty")
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "internet" in msg
    assert "Traceback" not in msg


@needs_data
def test_real_fashion_mnist_tensors_are_normalised():
    x, y = load_tensors("fashion_mnist", train=False)
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    assert abs(x.mean().item()) < 0.05 and abs(x.std().item() - 1) < 0.05
    assert torch.equal(torch.bincount(y), torch.full((10,), 1000))
