"""The teacher zoo: the course's standard teachers, trained once by a project command and committed.

    python -m fsc_teach.zoo train            # (re)train every teacher, write checkpoints + manifest
    python -m fsc_teach.zoo train vgg_fmnist # one teacher
    python -m fsc_teach.zoo verify           # checksums and re-measured test accuracy vs the manifest

The image teachers are trained with ``train.fit`` on Fashion-MNIST and measured by test accuracy; the language-model
teacher (``gpt_pystdlib``) with ``lm.train_lm`` on the corpus's training bytes (``text``) and measured by its
validation loss in nats per byte (``lm.evaluate_lm`` on the whole validation split).

``load_teacher(name)`` returns the committed teacher, frozen (eval mode, no gradients). If its file is missing or
corrupted (checksum differs from the manifest), or ``FSC_RETRAIN=1`` is set, the teacher is trained again into the
user cache (``$FSC_CACHE`` or ``~/.cache/fsc-teach``) with a warning, and the committed files are left alone.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from .checkpoint import (CheckpointError, atomic_write_bytes, cached_model, load_checkpoint,
                         save_checkpoint, sha256)
from .data import load_tensors
from .lm import evaluate_lm, train_lm
from .models import GPT, BlockNet, resnet_cifar, small_cnn, vgg16_cifar, vgg_fmnist
from .text import load_split
from .train import evaluate, fit, freeze

__all__ = ["TEACHERS", "TEACHER_DIR", "TEXT_DATASETS", "TeacherSpec", "load_teacher", "train_teacher", "manifest",
           "verify", "measure", "teacher_history"]

TEACHER_DIR = Path(__file__).parent / "teachers"
MANIFEST = "manifest.json"
TEXT_DATASETS = ("pystdlib",)  # the corpus of fsc_teach.corpus: trained with lm.train_lm, measured in nats/byte


@dataclass(frozen=True)
class TeacherSpec:
    """How one teacher is built and trained (every hyper-parameter explicit, recorded in the manifest)."""

    build: Callable[[], BlockNet]
    dataset: str
    description: str
    fit_kwargs: dict = field(default_factory=dict)
    note: str = ""
    committed: bool = True  # False: paper-scale teachers, trained on first use into the user cache


TEACHERS: dict[str, TeacherSpec] = {
    "vgg_fmnist": TeacherSpec(
        build=vgg_fmnist, dataset="fashion_mnist",
        description="course teacher: VGG-style, 6 conv blocks (32,32|64,64|128,128) with BatchNorm, linear head",
        fit_kwargs=dict(epochs=15, batch_size=128, lr=0.05, optimizer="sgd", weight_decay=5e-4,
                        schedule="cosine", augment=True, seed=0)),
    "cnn256_fmnist": TeacherSpec(
        build=small_cnn, dataset="fashion_mnist",
        description="the two-conv CNN teacher of Rishikesh et al.'s report, widths (256, 512), as in the Keras KD example",
        fit_kwargs=dict(epochs=5, batch_size=128, lr=1e-3, optimizer="adam", weight_decay=0.0,
                        schedule="cosine", augment=False, seed=0),
        note="Rishikesh et al.'s report trains (256, 512) for 25 epochs on MNIST and 10 on CIFAR-10; we keep its widths unchanged "
             "but train 5 epochs (Adam, cosine), which fit a 2-core CPU in about 7 minutes when it has the machine "
             "to itself (an earlier 10-epoch run progressed at about 6 steps/s, ~13 min); this checkpoint was trained while other jobs "
             "shared the two cores, so train_seconds overstates the time"),
    "gpt_pystdlib": TeacherSpec(
        build=GPT, dataset="pystdlib",
        description="byte-level GPT (nanoGPT shape: 4 pre-LayerNorm blocks, width 128, 4 heads, MLP 512, context "
                    "128, 0.88 M parameters) on CPython's stdlib source (fsc_teach.corpus); fit_kwargs are lm.train_lm's",
        fit_kwargs=dict(steps=1500, batch_size=32, lr=2e-3, warmup=50, weight_decay=0.1, seed=0)),
    # Paper scale (one GPU): CIFAR-10 cannot be downloaded on the machines that build this course, so these are
    # not committed; load_teacher() trains them on first use (needs internet for the data) into the user cache.
    "vgg16_cifar10": TeacherSpec(
        build=vgg16_cifar, dataset="cifar10", committed=False,
        description="paper scale: CIFAR VGG-16 with BatchNorm and cross distillation's MLP head (Bai et al., AAAI 2020)",
        fit_kwargs=dict(epochs=60, batch_size=128, lr=0.05, optimizer="sgd", weight_decay=5e-4,
                        schedule="cosine", augment=4, seed=0)),
    "resnet56_cifar10": TeacherSpec(
        build=resnet_cifar, dataset="cifar10", committed=False,
        description="paper scale: CIFAR ResNet-56 (He et al.), as in Bai et al. (AAAI 2020)",
        fit_kwargs=dict(epochs=60, batch_size=128, lr=0.1, optimizer="sgd", weight_decay=1e-4,
                        schedule="cosine", augment=4, seed=0)),
}


def _spec(name: str) -> TeacherSpec:
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; the zoo has: {', '.join(TEACHERS)}")
    return TEACHERS[name]


def manifest(directory: str | os.PathLike = TEACHER_DIR) -> dict:
    """The manifest: per teacher, the command, seed, data, hyper-parameters, measured accuracy and sha256."""
    path = Path(directory) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def _cache_dir() -> Path:
    return Path(os.environ.get("FSC_CACHE") or Path.home() / ".cache" / "fsc-teach")


def _train(name: str, epochs: int | None = None, progress: bool = True, steps: int | None = None
           ) -> tuple[BlockNet, dict]:
    spec = _spec(name)
    text = spec.dataset in TEXT_DATASETS
    if (epochs if text else steps) is not None:
        raise ValueError(f"teacher {name!r} trains for a number of {'steps' if text else 'epochs'}; got "
                         f"{'epochs' if text else 'steps'}={epochs if text else steps}")
    kwargs = dict(spec.fit_kwargs, **({"epochs": epochs} if epochs is not None else {}),
                  **({"steps": steps} if steps is not None else {}))
    torch.manual_seed(kwargs["seed"])  # the initial weights depend on the seed too
    model = spec.build()
    start = time.perf_counter()
    if text:
        history = train_lm(model, load_split("train"), progress=progress, desc=f"teacher {name}", **kwargs)
        seconds = time.perf_counter() - start
        metric = {"validation_nats_per_byte": evaluate_lm(model, load_split("validation"))}
    else:
        x, y = load_tensors(spec.dataset, train=True)
        xt, yt = load_tensors(spec.dataset, train=False)
        history = fit(model, x, y, val=(xt, yt), progress=progress, desc=f"teacher {name}", **kwargs)
        seconds = time.perf_counter() - start
        metric = {"test_accuracy": evaluate(model, xt, yt)}
    meta = {"name": name, "dataset": spec.dataset, **metric, "train_seconds": round(seconds, 1),
            "fit_kwargs": kwargs, "history": history}
    return model.cpu(), meta


def _metric(entry: dict) -> str:
    """The manifest's measure of a teacher: ``"test_accuracy"`` or ``"validation_nats_per_byte"``."""
    return "validation_nats_per_byte" if entry["dataset"] in TEXT_DATASETS else "test_accuracy"


def measure(model: BlockNet, dataset: str) -> float:
    """What the manifest records for a teacher on ``dataset``: test accuracy, or validation nats/byte for text."""
    if dataset in TEXT_DATASETS:
        return evaluate_lm(model, load_split("validation"))
    xt, yt = load_tensors(dataset, train=False)
    return evaluate(model, xt, yt)


def train_teacher(name: str, directory: str | os.PathLike = TEACHER_DIR, epochs: int | None = None,
                  progress: bool = True, steps: int | None = None) -> dict:
    """Train teacher ``name``, save it atomically into ``directory`` and record it in the manifest.

    ``epochs`` (image teachers) or ``steps`` (language models) override the spec's, for a quick check.
    """
    spec = _spec(name)
    directory = Path(directory)
    model, meta = _train(name, epochs, progress, steps)
    path = save_checkpoint(directory / f"{name}.pt", model, meta)
    key = _metric(meta)
    entry = {
        "file": path.name, "description": spec.description, "arch": model.arch, "config": model.config,
        "dataset": spec.dataset, "command": f"python -m fsc_teach.zoo train {name}",
        "seed": meta["fit_kwargs"]["seed"], "fit_kwargs": meta["fit_kwargs"],
        key: round(meta[key], 6), "train_seconds": meta["train_seconds"],
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} threads",
        "sha256": sha256(path), "note": spec.note,
    }
    current = manifest(directory)
    current[name] = entry
    atomic_write_bytes(directory / MANIFEST, (json.dumps(current, indent=2) + "\n").encode())
    return entry


def load_teacher(name: str, directory: str | os.PathLike = TEACHER_DIR, retrain: bool | None = None) -> BlockNet:
    """The committed teacher ``name``, frozen; retrained into the user cache if missing, corrupted or asked to."""
    spec = _spec(name)
    directory = Path(directory)
    if retrain is None:
        retrain = os.environ.get("FSC_RETRAIN", "") not in ("", "0")
    entry = manifest(directory).get(name)
    path = directory / f"{name}.pt"
    if not retrain and spec.committed:
        problem = None
        if entry is None or not path.is_file():
            problem = f"teacher {name!r} is not in {directory}"
        elif sha256(path) != entry["sha256"]:
            problem = f"{path} does not match the sha256 in the manifest (corrupted or edited)"
        else:
            try:
                return freeze(load_checkpoint(path)[0])
            except CheckpointError as err:
                problem = str(err)
    cached = _cache_dir() / "teachers" / f"{name}.pt"
    if not retrain and spec.committed:
        action = f"using the copy trained into {cached}" if cached.is_file() else \
            f"training it again into {cached} (this takes a while)"
        warnings.warn(f"{problem}; {action}", stacklevel=2)
    model, _ = cached_model(cached, lambda: _train(name), retrain=retrain,
                            expect={"arch": entry["arch"], "config": entry["config"]} if entry else None)
    return freeze(model)


def teacher_history(name: str, directory: str | os.PathLike = TEACHER_DIR) -> dict[str, list[float]]:
    """The per-epoch training history recorded in the committed checkpoint of teacher ``name``."""
    return load_checkpoint(Path(directory) / f"{name}.pt")[1]["history"]


def verify(directory: str | os.PathLike = TEACHER_DIR) -> dict[str, dict]:
    """Re-measure every committed teacher: ``{name: {"sha256_ok", "metric", "manifest", "measured"}}``."""
    out = {}
    for name, entry in manifest(directory).items():
        path = Path(directory) / entry["file"]
        model = freeze(load_checkpoint(path)[0])
        key = _metric(entry)
        out[name] = {"sha256_ok": sha256(path) == entry["sha256"], "metric": key, "manifest": entry[key],
                     "measured": measure(model, entry["dataset"])}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsc_teach.zoo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_train = sub.add_parser("train", help="train teachers and record them in the manifest")
    p_train.add_argument("names", nargs="*", help="default: every committed teacher")
    p_train.add_argument("--dir", default=str(TEACHER_DIR))
    p_verify = sub.add_parser("verify", help="check checksums and re-measure accuracies")
    p_verify.add_argument("--dir", default=str(TEACHER_DIR))
    args = parser.parse_args(argv)
    if args.cmd == "train":
        for name in args.names or [n for n, spec in TEACHERS.items() if spec.committed]:
            entry = train_teacher(name, args.dir)
            key = _metric(entry)
            print(f"{name}: {key.replace('_', ' ')} {entry[key]:.4f} in {entry['train_seconds']:.0f} s")
        return 0
    ok = True
    for name, r in verify(args.dir).items():
        good = r["sha256_ok"] and abs(r["measured"] - r["manifest"]) <= 0.001
        ok &= good
        print(f"{name}: sha256 {'ok' if r['sha256_ok'] else 'MISMATCH'}, {r['metric']} manifest {r['manifest']:.4f}, "
              f"measured {r['measured']:.4f} {'ok' if good else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
