import shutil

import pytest
import torch

from fsc_teach import zoo
from fsc_teach.data import load_tensors, synthetic_dataset
from fsc_teach.models import count_params
from fsc_teach.train import evaluate
from conftest import needs_data

COMMITTED = [name for name, spec in zoo.TEACHERS.items() if spec.committed]
IMAGES = [name for name in COMMITTED if zoo.TEACHERS[name].dataset not in zoo.TEXT_DATASETS]  # the LM: test_lm.py


def test_manifest_records_how_each_teacher_was_made():
    manifest = zoo.manifest()
    assert set(COMMITTED) <= set(manifest)
    for name in IMAGES:
        entry = manifest[name]
        assert entry["command"] == f"python -m fsc_teach.zoo train {name}"
        assert entry["dataset"] == "fashion_mnist" and entry["seed"] == 0
        assert len(entry["sha256"]) == 64 and 0 < entry["test_accuracy"] <= 1 and entry["train_seconds"] > 0
        assert (zoo.TEACHER_DIR / entry["file"]).stat().st_size < 20e6


def test_committed_checkpoints_are_small():
    assert sum((zoo.TEACHER_DIR / e["file"]).stat().st_size for e in zoo.manifest().values()) <= 20 * 2**20


@pytest.mark.slow
@needs_data
@pytest.mark.parametrize("name", IMAGES)
def test_teacher_accuracy_is_re_measured(name):
    entry = zoo.manifest()[name]
    teacher = zoo.load_teacher(name, retrain=False)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    x, y = load_tensors("fashion_mnist", train=False)
    measured = evaluate(teacher, x, y)
    assert abs(measured - entry["test_accuracy"]) <= 0.001, (measured, entry["test_accuracy"])
    if name == "vgg_fmnist":
        assert measured >= 0.925  # the course teacher's promise
    assert teacher.config == entry["config"]


def test_corrupted_teacher_is_retrained_into_the_cache(tmp_path, monkeypatch):
    directory = tmp_path / "teachers"
    shutil.copytree(zoo.TEACHER_DIR, directory)
    (directory / "vgg_fmnist.pt").write_bytes(b"\x00" * 100)  # corrupted on disk
    monkeypatch.setenv("FSC_CACHE", str(tmp_path / "cache"))
    calls = []

    def fake_train(name, epochs=None, progress=True):
        calls.append(name)
        return zoo.TEACHERS[name].build(), {"history": {}}

    monkeypatch.setattr(zoo, "_train", fake_train)
    with pytest.warns(UserWarning, match="sha256"):
        teacher = zoo.load_teacher("vgg_fmnist", directory, retrain=False)
    assert calls == ["vgg_fmnist"] and not teacher.training
    assert (tmp_path / "cache" / "teachers" / "vgg_fmnist.pt").is_file()
    assert (directory / "vgg_fmnist.pt").read_bytes() == b"\x00" * 100  # the committed file is left alone
    with pytest.warns(UserWarning, match="using the copy trained into"):  # still says so, every time
        zoo.load_teacher("vgg_fmnist", directory, retrain=False)  # second time: from the cache, no retraining
    assert calls == ["vgg_fmnist"]


def test_unknown_teacher_lists_the_zoo():
    with pytest.raises(ValueError, match="vgg_fmnist"):
        zoo.load_teacher("resnet1000")


@pytest.mark.parametrize("name", ["vgg16_cifar10", "resnet56_cifar10"])
def test_paper_scale_teachers_train_end_to_end_on_synthetic_cifar(name, monkeypatch, tmp_path):
    """CIFAR-10 cannot be downloaded here: run the paper-scale training path on CIFAR-shaped random tensors."""
    fake = {True: synthetic_dataset(32, (3, 32, 32), seed=1), False: synthetic_dataset(16, (3, 32, 32), seed=2)}
    monkeypatch.setattr(zoo, "load_tensors", lambda dataset, train=True: fake[train])
    entry = zoo.train_teacher(name, tmp_path, epochs=1, progress=False)
    assert entry["dataset"] == "cifar10" and (tmp_path / f"{name}.pt").is_file()
    assert zoo.verify(tmp_path)[name]["sha256_ok"]
    model = zoo.load_teacher(name, tmp_path, retrain=False) if zoo.TEACHERS[name].committed else None
    assert model is None or count_params(model) > 0
