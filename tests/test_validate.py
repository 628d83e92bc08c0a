"""A student's most common mistakes give clear errors (or repair themselves): wrong arguments, tried as a new user
would pass them, and the damaged-data repair on a copy of the data folder."""
import gzip
import math
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


# ------------------------------------------------------------------------------------------------------------------
# Every public function of the course checks its arguments: one wrong argument each, the message must name it.

def _net(widths=(4, 6), classes=3):
    from fsc_teach.models import VGG

    torch.manual_seed(0)
    return VGG(list(widths), pools=[0, 1], in_channels=1, num_classes=classes, input_size=8).eval()


def _cases():
    """(argument the message must name, call) for every newly checked public function."""
    import numpy as np

    from fsc_teach import benchmark, checkpoint, fewshot, iterative, models, plots, students
    from fsc_teach import analysis

    net, x, y = _net(), torch.randn(6, 1, 8, 8), torch.arange(6) % 3
    build = lambda: _net((2, 3))  # noqa: E731
    val = (x, y)
    root = iterative.make_root(net, x, (val, val))
    scheme, plan = fewshot.Scheme("structured", 0.5), benchmark.PLANS["quick"]
    h1 = models.block_input(net, x, 1)
    return {
        # iterative
        "ensemble_logits empty": ("logits", lambda: iterative.ensemble_logits([], 1.0)),
        "ensemble_logits one tensor": ("logits", lambda: iterative.ensemble_logits(torch.randn(4, 3), 1.0)),
        "ensemble_logits shapes": ("logits[1]", lambda: iterative.ensemble_logits([torch.randn(4, 3),
                                                                                  torch.randn(4, 2)], 1.0)),
        "ensemble_logits T": ("T", lambda: iterative.ensemble_logits([torch.randn(4, 3)], 0)),
        "Ensemble single module": ("parents", lambda: iterative.Ensemble(net)),
        "Ensemble T": ("T", lambda: iterative.Ensemble([net], T=-1.0)),
        "make_root x": ("x", lambda: iterative.make_root(net, x.double(), (val, val))),
        "make_root halves": ("halves[0][1]", lambda: iterative.make_root(net, x, ((x, y.float()), val))),
        "teach parents": ("parents", lambda: iterative.teach(net, build, x, y)),
        "teach build_child": ("build_child", lambda: iterative.teach([net], _net(), x, y)),
        "teach alpha": ("alpha", lambda: iterative.teach([net], build, x, y, alpha=1.5)),
        "teach hint_block": ("hint_block", lambda: iterative.teach([net], build, x, y, hint_block=2)),
        "teach parent_logits": ("parent_logits[0]", lambda: iterative.teach([net], build, x, y,
                                                                            parent_logits=[torch.randn(5, 3)])),
        "iterative_distill builders": ("builders", lambda: iterative.iterative_distill(net, build, x, y, (val, val))),
        "iterative_distill tolerance": ("tolerance", lambda: iterative.iterative_distill(
            net, [build], x, y, (val, val), tolerance=math.nan)),
        "iterative_distill children": ("children", lambda: iterative.iterative_distill(
            root, [build], x, y, (val, val), children=0)),
        "iterative_distill select_on": ("select_on", lambda: iterative.iterative_distill(
            root, [build], x, y, (val, val), select_on=2)),
        "cross_fit": ("runs", lambda: iterative.cross_fit(root)),
        "best_path": ("generations", lambda: iterative.best_path([])),
        "stopping_point": ("tolerance", lambda: iterative.stopping_point([root], "0.1")),
        "generation_table": ("generations[0]", lambda: iterative.generation_table([net])),
        # students
        "slimming_keep": ("ratio[1]", lambda: students.slimming_keep(net, [0.5, "0.5"])),
        "slimming_keep numpy": ("ratio", lambda: students.slimming_keep(net, np.float32(1.5))),
        "decouple_conv": ("conv", lambda: students.decouple_conv(nn.Conv2d(2, 2, 3, groups=2), 1)),
        "decouple": ("blocks", lambda: students.decouple(net, 1, blocks=[2])),
        "shrink_width model": ("model", lambda: students.shrink_width(models.resnet_cifar(8), 0.5)),
        "shrink_width factor": ("factor", lambda: students.shrink_width(net, 0)),
        "shrink_blocks": ("drop", lambda: students.shrink_blocks(net, 1.5)),
        "l1_to_widths count": ("widths", lambda: students.l1_to_widths(net, [2])),
        "l1_to_widths range": ("widths[1]", lambda: students.l1_to_widths(net, [2, 7])),
        # fewshot
        "Scheme blocks": ("blocks[1]", lambda: fewshot.Scheme("structured", 0.5, blocks=(1, -1))),
        "Settings kd_T": ("kd_T", lambda: fewshot.Settings(kd_T=0)),
        "Settings extra": ("extra", lambda: fewshot.Settings(extra={"steps": 3})),
        "compress scheme": ("scheme", lambda: fewshot.compress("KD", net, "structured", x, y)),
        "compress x": ("x", lambda: fewshot.compress("KD", net, scheme, x.expand(6, 3, 8, 8), y)),
        "compress y": ("y", lambda: fewshot.compress("KD", net, scheme, x, y + 1)),
        "compress settings": ("settings", lambda: fewshot.compress("KD", net, scheme, x, y, settings={})),
        "run_cell x_test": ("x_test", lambda: fewshot.run_cell("L1-norm", net, scheme, x, y, x[0], y)),
        "run_cell analyse": ("analyse", lambda: fewshot.run_cell("L1-norm", net, scheme, x, y, x, y, analyse=net)),
        "applicable": ("method", lambda: fewshot.applicable("ThiNet", scheme)),
        # benchmark
        "Plan ks": ("ks[0]", lambda: benchmark.Plan("toy", ("t",), (scheme,), (0,), (0,), {"t": fewshot.Settings()},
                                                    10)),
        "Plan settings": ("settings", lambda: benchmark.Plan("toy", ("t",), (scheme,), (1,), (0,), {}, 10)),
        "cells": ("plan", lambda: benchmark.cells("quick")),
        "plan_cell": ("teacher", lambda: benchmark.plan_cell(plan, "resnet", "structured", 0.5, 1, 0, "KD", "")),
        "run_plan workers": ("workers", lambda: benchmark.run_plan(plan, workers=0)),
        "run_plan tensors": ("tensors", lambda: benchmark.run_plan(plan, tensors=(x, y))),
        "summary": ("rows[0]", lambda: benchmark.summary([{"teacher": "t"}])),
        "claims": ("rows", lambda: benchmark.claims("rows")),
        "write_outputs": ("rows", lambda: benchmark.write_outputs([], "build/never", "quick")),
        "main": ("argv[1]", lambda: benchmark.main(["--scale", 3])),
        # models
        "vgg_fmnist": ("width", lambda: models.vgg_fmnist(width=0)),
        "VGG widths": ("widths[1]", lambda: models.VGG([8, 8.5], pools=[1])),
        "VGG pools": ("pools", lambda: models.VGG([8, 8], pools=[0, 0])),
        "VGG input_size": ("input_size", lambda: models.VGG([8] * 5, pools=range(5), input_size=8)),
        "VGG head": ("head", lambda: models.VGG([8], pools=[0], head="conv")),
        "small_cnn": ("widths", lambda: models.small_cnn((4, 8, 16))),
        "vgg16_cifar": ("head", lambda: models.vgg16_cifar(head=None)),
        "resnet_cifar": ("depth", lambda: models.resnet_cifar(20.0)),
        "ResNetCIFAR": ("widths[0]", lambda: models.ResNetCIFAR(8, widths=[0, 1, 1])),
        "build_model": ("config", lambda: models.build_model("vgg", {"depth": 20})),
        "block_io upto": ("upto", lambda: models.block_io(net, x, upto=2)),
        "block_io x": ("x", lambda: models.block_io(net, x.expand(6, 3, 8, 8))),
        "block_io model": ("model", lambda: models.block_io(nn.Sequential(), x)),
        "block_input": ("l", lambda: models.block_input(net, x, -1)),
        "run_blocks stop": ("stop", lambda: models.run_blocks(net, h1, 2, 1)),
        "run_blocks h": ("h", lambda: models.run_blocks(net, x, 1, 2)),
        "count_params": ("nonzero", lambda: models.count_params(net, nonzero=1)),
        "count_flops input_size": ("input_size", lambda: models.count_flops(net, (8, 8))),
        "count_flops model": ("model", lambda: models.count_flops(nn.ReLU())),
        # checkpoint
        "save_checkpoint model": ("model", lambda: checkpoint.save_checkpoint("build/never.pt", nn.Linear(2, 2))),
        "save_checkpoint path": ("path", lambda: checkpoint.save_checkpoint(123, net)),
        "save_checkpoint meta": ("meta", lambda: checkpoint.save_checkpoint("build/never.pt", net, meta=[1])),
        "load_checkpoint": ("map_location", lambda: checkpoint.load_checkpoint("build/never.pt", "cuda:7")),
        "cached_model train": ("train", lambda: checkpoint.cached_model("build/never.pt", net)),
        "cached_model retrain": ("retrain", lambda: checkpoint.cached_model("build/never.pt", build, retrain="yes")),
        # plots
        "Slider step": ("step", lambda: plots.Slider(0, 1, 0, 0.5)),
        "Slider value": ("value", lambda: plots.Slider(0, 1, 0.1, 2)),
        "explore control": ("T", lambda: plots.explore(print, T=4)),
        "explore fn": ("fn", lambda: plots.explore("fn")),
        "image_grid x": ("x", lambda: plots.image_grid(x[:, 0], y, ["a", "b", "c"])),
        "image_grid mean": ("mean", lambda: plots.image_grid(x, y, ["a", "b", "c"], mean=(0.0, 0.0))),
        "training_curves": ("histories['a']", lambda: plots.training_curves({"a": {"epoch": [1]}})),
        "accuracy_vs": ("series['a']", lambda: plots.accuracy_vs([1, 2], {"a": [0.5]}, "x")),
        "confusion_matrix y_pred": ("y_pred", lambda: plots.confusion_matrix(y, y.float(), 3)),
        "confusion_matrix y_true": ("y_true", lambda: plots.confusion_matrix(y, y, 2)),
        "plot_confusion": ("cm", lambda: plots.plot_confusion(torch.zeros(3, 2), ["a", "b", "c"])),
        "mean_std values": ("values", lambda: plots.mean_std("abc")),
        "mean_std digits": ("digits", lambda: plots.mean_std([0.5], digits=-1)),
        "markdown_table": ("rows[0]", lambda: plots.markdown_table([1, 2])),
        "show_table": ("rows", lambda: plots.show_table("rows")),
        # analysis
        "layer_errors": ("x", lambda: analysis.layer_errors(net, net, x.expand(6, 2, 8, 8))),
        "lipschitz_bound h": ("h", lambda: analysis.lipschitz_bound(net.blocks[0], x.long())),
        "lipschitz_bound iters": ("iters", lambda: analysis.lipschitz_bound(net.blocks[0], x, iters=0)),
        "theorem1_bound mu": ("mu", lambda: analysis.theorem1_bound(net, net, x, mu=2)),
        "theorem1_bound y": ("y", lambda: analysis.theorem1_bound(net, net, x, y + 1)),
        # train
        "eval_mode": ("models[1]", lambda: train.eval_mode(net, 3).__enter__()),
        "eval_mode string": ("model", lambda: train.eval_mode("net").__enter__()),
        "freeze": ("model", lambda: train.freeze(net.state_dict())),
        "trainable_copy": ("model", lambda: train.trainable_copy(None)),
        "recalibrate_bn_ x": ("x", lambda: train.recalibrate_bn_(net, x.double())),
        "recalibrate_bn_ one sample": ("x", lambda: train.recalibrate_bn_(
            nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)), torch.randn(1, 4))),
    }


CASES = _cases()


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_public_function_names_the_wrong_argument(case):
    argument, call = CASES[case]
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert argument in str(info.value), f"{case}: the message does not name {argument}: {info.value}"


def test_a_network_instead_of_a_builder_is_explained():
    from fsc_teach import iterative

    with pytest.raises(TypeError, match=r"build_child must be a function called as build_child\(\) -> a new "
                                        r"network .*, got a VGG module"):
        iterative.teach([_net()], _net(), torch.randn(4, 1, 8, 8), torch.arange(4) % 3)


def test_block_io_refuses_a_block_beyond_the_last():
    from fsc_teach.models import block_io

    with pytest.raises(ValueError, match=r"upto must be an integer in \[-2, 1\], got 2"):
        block_io(_net(), torch.randn(2, 1, 8, 8), upto=2)  # it used to wrap around to block 0
    with pytest.raises(ValueError, match=r"x must be a batch \(N, 1, H, W\) of 1-channel images for model, got "
                                         r"shape \(2, 3, 8, 8\)"):
        block_io(_net(), torch.randn(2, 3, 8, 8))


def test_a_single_parent_is_not_a_list_of_parents():
    from fsc_teach.iterative import Ensemble

    with pytest.raises(TypeError, match=r"parents must be a list of networks .*, got a VGG module \(put a single one "
                                        r"in a list: \[\.\.\.\]\)"):
        Ensemble(_net())


def test_checkpoint_on_a_missing_device_says_which_exist(monkeypatch):
    from fsc_teach.checkpoint import load_checkpoint

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="map_location='cuda' is not available on this machine; available devices: "
                                         "cpu"):
        load_checkpoint("any.pt", map_location="cuda")


def test_calls_that_worked_still_work():
    """The checks refuse mistakes only: a generator of parents, NumPy widths, a tuple of layers, rows read once."""
    import numpy as np

    from fsc_teach import benchmark, cross, fewshot
    from fsc_teach.iterative import Ensemble
    from fsc_teach.models import VGG

    nets = [_net(), _net((2, 3))]
    assert len(Ensemble(n for n in nets).parents) == 2
    assert VGG(np.array([4, 6]), pools=np.array([0, 1]), input_size=8).widths == [4, 6]
    _, info = cross.cross_distill(None, _net(), torch.randn(4, 1, 8, 8), steps=1, layers=(1,), progress=False)
    assert list(info["layers"]) == [1]
    row = {"teacher": "t", "student": "s", "method": "KD", "k": 1, "acc": 0.5, "cpu_s": 1.0, "params": 1, "flops": 1}
    assert benchmark.summary(r for r in [row, row])[0]["runs"] == 2
    student = fewshot.compress("L1-norm", _net(), fewshot.Scheme("structured", 0.5), None, None)  # no data needed
    assert student.widths == [2, 6]
