"""Datasets, few-shot sampling and tensor augmentation.

Every method in the course is compared on the *same* samples, so sampling lives here, once:
``few_shot_indices`` draws K labeled images per class (cross distillation's K-shot setting, Bai et al., AAAI 2020) and
``sample_indices`` draws N images without regard to class (FSKD's "N unlabeled samples", Li et al., CVPR 2020).

Data root: the ``root`` argument, else the ``FSC_DATA`` environment variable, else ``~/.cache/fsc-teach/data``.
Fashion-MNIST is found, in this order, (1) already under the root, (2) in the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), decompressed into torchvision's raw layout,
(3) through torchvision's normal download. MNIST and CIFAR-10 use torchvision's download. Prepared Fashion-MNIST
files are checked on every load (size and IDX header); a damaged one is removed, with a warning, and prepared again
from the first source that has it.
"""
from __future__ import annotations

import gzip
import math
import os
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from . import validate

__all__ = [
    "DATASETS", "CLASS_NAMES", "DataUnavailableError", "data_root", "load_dataset", "load_tensors",
    "few_shot_indices", "sample_indices", "augment_batch", "mixup_batch", "synthetic_dataset", "prepare_fashion_mnist",
]

#: per-dataset (input shape, channel means, channel stds); the statistics are the usual training-set ones.
DATASETS: dict[str, dict] = {
    "fashion_mnist": {"shape": (1, 28, 28), "mean": (0.2860,), "std": (0.3530,)},
    "mnist": {"shape": (1, 28, 28), "mean": (0.1307,), "std": (0.3081,)},
    "cifar10": {"shape": (3, 32, 32), "mean": (0.4914, 0.4822, 0.4465), "std": (0.2470, 0.2435, 0.2616)},
}

CLASS_NAMES: dict[str, list[str]] = {
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "mnist": [str(i) for i in range(10)],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FMNIST_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
#: the IDX magic number of each decompressed file: 2051 = unsigned bytes in 3 dimensions (images), 2049 = 1 (labels)
_FMNIST_MAGIC = {"train-images-idx3-ubyte": 2051, "train-labels-idx1-ubyte": 2049,
                 "t10k-images-idx3-ubyte": 2051, "t10k-labels-idx1-ubyte": 2049}


class DataUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable; the message says how to get it."""


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names are: {', '.join(sorted(DATASETS))}")
    return name


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The folder datasets live in: ``root``, else ``$FSC_DATA``, else ``~/.cache/fsc-teach/data``."""
    if root is None:
        root = os.environ.get("FSC_DATA") or Path.home() / ".cache" / "fsc-teach" / "data"
    return Path(root).expanduser()


def _idx_problem(path: Path, name: str | None = None) -> str | None:
    """Why the Fashion-MNIST IDX file ``name`` (default: the path's) at ``path`` is damaged, or None if intact.

    An IDX file is a big-endian header (magic number, then one size per dimension) and the bytes; the header fixes
    the file's length, so a truncated or padded copy is found from its size and 16 bytes, without reading it all.
    """
    magic = _FMNIST_MAGIC[name or path.name]
    dims = magic - 2048  # the magic's last byte: the number of dimensions
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * dims)
    if len(header) < 4 + 4 * dims or int.from_bytes(header[:4], "big") != magic:
        return f"its IDX header is missing or wrong ({size} bytes)"
    shape = [int.from_bytes(header[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    expected = len(header) + math.prod(shape)
    if size != expected:
        return f"{size} bytes instead of the {expected} its header announces"
    return None


def _remove_damaged_fashion_mnist(raw: Path) -> list[str]:
    """Delete damaged IDX files under ``raw`` (with a warning each) so they are prepared again; returns what went."""
    removed = []
    for f in _FMNIST_FILES:
        path = raw / f
        problem = _idx_problem(path) if path.is_file() else None
        if problem:
            warnings.warn(f"Fashion-MNIST file {path} is damaged ({problem}); removing it to prepare it again "
                          "from its source", stacklevel=3)
            path.unlink()
            removed.append(f"{f} ({problem})")
    return removed


def prepare_fashion_mnist(root: str | os.PathLike | None = None,
                          source: str | os.PathLike | None = None) -> bool:
    """Decompress the Debian ``dataset-fashion-mnist`` files into ``<root>/FashionMNIST/raw``.

    The Debian ``.gz`` files are recompressed (their checksums differ from torchvision's list) but hold the
    real IDX data, which torchvision reads without touching the network. ``source`` defaults to the Debian folder.
    Returns False if ``source`` lacks the files. A damaged file already there (wrong size or IDX header, e.g. a
    truncated copy) is removed with a warning and prepared again.
    """
    source = Path(DEBIAN_FASHION_MNIST if source is None else source)
    raw = data_root(root) / "FashionMNIST" / "raw"
    _remove_damaged_fashion_mnist(raw)
    if not all((source / f"{f}.gz").is_file() for f in _FMNIST_FILES):
        return False
    raw.mkdir(parents=True, exist_ok=True)
    for f in _FMNIST_FILES:
        if (raw / f).is_file():
            continue
        fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{f}.", suffix=".tmp")
        try:  # write then rename, so an interrupted copy never leaves a truncated IDX file behind
            with gzip.open(source / f"{f}.gz", "rb") as src, os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst)
            problem = _idx_problem(Path(tmp), f)
        except (OSError, EOFError) as err:  # a damaged .gz (gzip.BadGzipFile is an OSError)
            problem = f"{type(err).__name__}: {err}"
        try:
            if problem:
                warnings.warn(f"the source {source / f'{f}.gz'} is damaged ({problem}); not using it", stacklevel=2)
                return False
            os.replace(tmp, raw / f)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return True


def _how_to_get(name: str, root: Path) -> str:
    if name == "fashion_mnist":
        return ("Fashion-MNIST is not available offline and could not be downloaded. Either\n"
                "  (a) install the Debian/Ubuntu package:  sudo apt-get install dataset-fashion-mnist\n"
                f"      (files land in {DEBIAN_FASHION_MNIST}; the course decompresses them for torchvision), or\n"
                "  (b) connect to the internet so torchvision can download it, or copy the four IDX files into\n"
                f"      {root / 'FashionMNIST' / 'raw'}.\n"
                "Set FSC_DATA to use another data folder.")
    folder = {"mnist": "MNIST/raw", "cifar10": "cifar-10-batches-py"}[name]
    return (f"{name} is not on disk and could not be downloaded (no internet?). Connect to the internet so "
            f"torchvision can download it into {root}, or copy torchvision's files into {root / folder}. "
            "Set FSC_DATA to use another data folder. Fashion-MNIST (the course default) works offline.")


def load_dataset(name: str = "fashion_mnist", train: bool = True, root: str | os.PathLike | None = None,
                 transform=None):
    """A torchvision dataset with the standard normalisation (or ``transform``), found offline when possible."""
    from torchvision import datasets, transforms

    _check_name(name)
    root = data_root(root)
    if transform is None:
        transform = transforms.Compose([transforms.ToTensor(),
                                        transforms.Normalize(DATASETS[name]["mean"], DATASETS[name]["std"])])
    cls = {"fashion_mnist": datasets.FashionMNIST, "mnist": datasets.MNIST, "cifar10": datasets.CIFAR10}[name]
    # A damaged prepared file (a disk or copy fault) is removed here and prepared again below, from its source.
    removed = _remove_damaged_fashion_mnist(root / "FashionMNIST" / "raw") if name == "fashion_mnist" else []
    try:
        return cls(root, train=train, transform=transform, download=False)
    except RuntimeError:
        pass  # not on disk yet
    if name == "fashion_mnist" and prepare_fashion_mnist(root):
        return cls(root, train=train, transform=transform, download=False)
    try:
        return cls(root, train=train, transform=transform, download=True)
    except Exception as err:  # urllib/HTTP/socket errors: never show the raw traceback to a student
        damaged = (f"Damaged files were found and removed: {', '.join(removed)}; no intact source was available "
                   "to prepare them again.\n") if removed else ""
        raise DataUnavailableError(damaged + _how_to_get(name, root)) from err


@lru_cache(maxsize=8)
def _cached_tensors(name: str, train: bool, root: str) -> tuple[Tensor, Tensor]:
    ds = load_dataset(name, train=train, root=root)
    data = ds.data if isinstance(ds.data, Tensor) else torch.from_numpy(np.asarray(ds.data))
    x = data.float().div_(255.0)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()  # (N, C, H, W)
    mean = torch.tensor(DATASETS[name]["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(DATASETS[name]["std"]).view(1, -1, 1, 1)
    y = torch.as_tensor(ds.targets, dtype=torch.long)
    return (x - mean) / std, y


def load_tensors(name: str = "fashion_mnist", train: bool = True,
                 root: str | os.PathLike | None = None) -> tuple[Tensor, Tensor]:
    """The whole split as normalised tensors ``(x: (N, C, H, W) float32, y: (N,) int64)``.

    Loading every image once is much faster on a CPU than a per-sample DataLoader. The tensors are cached
    per process and shared: treat them as read-only (index them, don't modify them in place).
    """
    _check_name(name)
    return _cached_tensors(name, bool(train), str(data_root(root)))


def few_shot_indices(targets: Tensor | np.ndarray | list, k: int, seed: int = 0,
                     classes: list[int] | None = None) -> Tensor:
    """Exactly ``k`` indices of every class (K-shot sampling), sorted, without duplicates, fixed by ``seed``."""
    if not isinstance(targets, (Tensor, np.ndarray, list, tuple)):
        raise TypeError(f"targets must be a 1-D tensor, array or list of class labels, got {validate.describe(targets)}")
    targets = validate.labels("targets", torch.as_tensor(targets))
    validate.integer("k", k)
    if k < 1:
        raise ValueError(f"k must be at least 1 (got k={k}): it is the number of samples drawn per class")
    validate.integer("seed", seed)
    classes = sorted(torch.unique(targets).tolist()) if classes is None else list(classes)
    gen = torch.Generator().manual_seed(seed)
    chosen = []
    for c in classes:
        idx = torch.nonzero(targets == c).flatten()
        if len(idx) < k:
            raise ValueError(f"class {c} has only {len(idx)} examples, fewer than k={k}; "
                             f"choose k <= {len(idx)} or use a larger split")
        chosen.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return torch.sort(torch.cat(chosen)).values


def sample_indices(num_items: int, n: int, seed: int = 0) -> Tensor:
    """``n`` distinct indices out of ``range(num_items)`` drawn without regard to class, sorted, fixed by ``seed``."""
    validate.integer("num_items", num_items, low=1)
    validate.integer("n", n)
    validate.integer("seed", seed)
    if not 1 <= n <= num_items:
        raise ValueError(f"cannot draw n={n} distinct samples from {num_items}; choose 1 <= n <= {num_items}")
    gen = torch.Generator().manual_seed(seed)
    return torch.sort(torch.randperm(num_items, generator=gen)[:n]).values


def augment_batch(x: Tensor, pad: int = 2, flip: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Random translation by up to ``pad`` pixels (zero padding, i.e. random crop) and horizontal flip.

    Works on a whole batch ``(B, C, H, W)`` at once; zero is the normalised background's neighbourhood and is
    what a padded random crop fills with.
    """
    validate.tensor("x", x, ndim=4, kind="float", non_empty=False)
    validate.integer("pad", pad, low=0)
    b, _, h, w = x.shape
    out = x
    if pad > 0:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
        dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
        out = torch.empty_like(x)
        for oy in range(2 * pad + 1):  # group samples by shift: at most (2p+1)^2 slices, no per-sample loop
            for ox in range(2 * pad + 1):
                sel = (dy == oy) & (dx == ox)
                if sel.any():
                    out[sel] = padded[sel, :, oy:oy + h, ox:ox + w]
    if flip:
        mask = torch.rand(b, generator=generator) < 0.5
        out = torch.where(mask.view(b, 1, 1, 1), out.flip(3), out)
    return out


def mixup_batch(x: Tensor, alpha: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
    """Mixup's images (Zhang et al. 2018): ``λ x_i + (1 − λ) x_π(i)``, ``λ ~ Beta(α, α)`` per image, π a permutation.

    Only the inputs are mixed: the layer-wise losses that use it (Bai et al., Table 14) need no labels. The same
    ``generator`` state gives the same batch.
    """
    validate.tensor("x", x, min_ndim=1, kind="float", non_empty=False)
    validate.real("alpha", alpha, low=0.0, low_open=True)
    b = x.shape[0]
    perm = torch.randperm(b, generator=generator)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, size=b)).to(x.dtype)
    lam = lam.view(b, *([1] * (x.ndim - 1)))
    return lam * x + (1 - lam) * x[perm]


def synthetic_dataset(n: int, shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10,
                      seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random normalised images and balanced labels of a dataset's shape, for testing code paths offline."""
    validate.integer("n", n, low=0)
    if not isinstance(shape, (tuple, list)) or not all(isinstance(d, int) and d > 0 for d in shape):
        raise TypeError(f"shape must be a tuple of positive ints such as (3, 32, 32), got {validate.describe(shape)}")
    validate.integer("num_classes", num_classes, low=1)
    validate.integer("seed", seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *shape), generator=gen)
    y = torch.arange(n) % num_classes
    return x, y[torch.randperm(n, generator=gen)]


def main(argv: list[str] | None = None) -> int:
    """``python -m fsc_teach.data fetch [names...]``: make datasets available (offline first), say where."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m fsc_teach.data")
    sub = parser.add_subparsers(dest="cmd", required=True)
    fetch = sub.add_parser("fetch", help="make the datasets available under the data root")
    fetch.add_argument("names", nargs="*", default=["fashion_mnist"], help="default: fashion_mnist")
    fetch.add_argument("--root", default=None, help="default: $FSC_DATA or ~/.cache/fsc-teach/data")
    args = parser.parse_args(argv)
    status = 0
    for name in args.names:
        try:
            for train in (True, False):
                ds = load_dataset(name, train=train, root=args.root)
            print(f"{name}: ready in {data_root(args.root)} ({len(ds)} test images)")
        except (DataUnavailableError, ValueError) as err:
            print(f"{name}: {err}")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
