"""Argument checks for the functions students call: a wrong argument fails at once, with a message that names it.

Students' mistakes are the package's most common input. Without these checks a wrong shape, dtype or module kind
surfaces as an ``AttributeError`` or a shape error from deep inside PyTorch, often many steps into a training loop.
Each helper here checks one argument and raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind,
wrong shape, range or value) worded as ``<name> must be <what is expected>, got <what was given>``; on success it
returns the argument unchanged, so a check never alters what a function computes.

The checks read metadata (type, dtype, shape) and Python numbers, so they cost microseconds; a function that runs
in a training loop is checked once, before the loop, not at every step.
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterator, Mapping, Set, Sized
from typing import Any, Iterable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["describe", "tensor", "same_shape", "same_rows", "labels", "real", "integer", "choice", "module",
           "device", "available_devices", "indices", "dtype_of", "images", "tokens", "model_input", "flag", "sequence", "mapping", "function",
           "path", "pair"]


def describe(value: Any) -> str:
    """A short description of what was given: a tensor's shape and dtype, a module's class, else its repr."""
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, nn.Module):
        return f"a {type(value).__name__} module"
    text = repr(value)
    return f"{text[:60]}... ({type(value).__name__})" if len(text) > 60 else f"{text} ({type(value).__name__})"


_KINDS = {"float": ("a floating-point", lambda t: t.is_floating_point()),
          "integer": ("an integer", lambda t: not t.is_floating_point() and not t.is_complex() and t.dtype != torch.bool)}


def tensor(name: str, value: Any, *, ndim: int | Sequence[int] | None = None, min_ndim: int | None = None,
           kind: str | None = None, non_empty: bool = True) -> Tensor:
    """``value`` if it is a ``torch.Tensor`` of the given number of dimensions and kind (``"float"``, ``"integer"``).

    ``non_empty``: the first dimension (the batch) has at least one entry.
    """
    wanted = _KINDS[kind][0] + " tensor" if kind else "a tensor"
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be {wanted} (torch.Tensor), got {describe(value)}")
    dims = (ndim,) if isinstance(ndim, int) else tuple(ndim or ())
    if dims and value.ndim not in dims:
        shapes = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be a {shapes} tensor, got shape {tuple(value.shape)}")
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(value.shape)}")
    if kind and not _KINDS[kind][1](value):
        hint = " (convert with .long())" if kind == "integer" else " (convert with .float())"
        raise TypeError(f"{name} must be {wanted}, got dtype {value.dtype}{hint}")
    if non_empty and (value.ndim == 0 or value.shape[0] == 0):
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(value.shape)}")
    return value


def same_shape(name: str, value: Tensor, other_name: str, other: Tensor) -> Tensor:
    """``value`` if its shape equals ``other``'s."""
    if value.shape != other.shape:
        raise ValueError(f"{name} must have the shape of {other_name}, {tuple(other.shape)}, got {tuple(value.shape)}")
    return value


def same_rows(name: str, value: Tensor, other_name: str, other: Tensor) -> Tensor:
    """``value`` if it has one row (first-dimension entry) per row of ``other``."""
    if len(value) != len(other):
        raise ValueError(f"{name} must have one row per sample of {other_name} ({len(other)}), got {len(value)}")
    return value


def labels(name: str, value: Any, *, rows: int | None = None, num_classes: int | None = None) -> Tensor:
    """``value`` if it is a 1-D integer tensor of class indices (``rows`` of them) in ``[0, num_classes)``.

    Reads the smallest and largest label once (not meant for a per-step check).
    """
    tensor(name, value, ndim=1, kind="integer", non_empty=False)
    if rows is not None and len(value) != rows:
        raise ValueError(f"{name} must hold one label per sample ({rows}), got {len(value)}")
    if len(value):
        low, high = int(value.min()), int(value.max())
        if low < 0 or (num_classes is not None and high >= num_classes):
            span = f"[0, {num_classes})" if num_classes is not None else "non-negative"
            raise ValueError(f"{name} must be class indices {span}, got values from {low} to {high}")
    return value


def _interval(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return "finite"


def _outside(v, low, high, low_open, high_open) -> bool:
    return ((low is not None and (v <= low if low_open else v < low))
            or (high is not None and (v >= high if high_open else v > high)))


def real(name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False,
         high_open: bool = False, allow_inf: bool = False) -> Any:
    """``value`` if it is a finite real number (not a bool) in the interval; ``low_open``/``high_open`` exclude ends.

    ``allow_inf``: ``±inf`` pass too (inside the interval), e.g. a tolerance that accepts everything; NaN never does.
    """
    span = _interval(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number {span}, got {describe(value)}")
    v = float(value)
    if math.isnan(v) or (not allow_inf and math.isinf(v)) or _outside(v, low, high, low_open, high_open):
        raise ValueError(f"{name} must be a {'' if allow_inf else 'finite '}number {span}, got {value!r}")
    return value


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> Any:
    """``value`` if it is an integer (not a bool, not a float) in ``[low, high]``."""
    span = _interval(low, high, False, False)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer {span}, got {describe(value)}")
    if _outside(int(value), low, high, False, False):
        raise ValueError(f"{name} must be an integer {span}, got {value!r}")
    return value


def choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    """``value`` if it is one of ``options``."""
    options = tuple(options)
    try:
        ok = value in options
    except TypeError:  # an unhashable or uncomparable value is simply not one of them
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {describe(value)}")
    return value


def module(name: str, value: Any, kinds: type | tuple[type, ...]) -> Any:
    """``value`` if it is an instance of ``kinds`` (module classes)."""
    if not isinstance(value, kinds):
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        wanted = " or ".join(f"torch.nn.{k.__name__}" if k.__module__.startswith("torch.nn") else k.__name__
                             for k in kinds)
        raise TypeError(f"{name} must be a {wanted}, got {describe(value)}")
    return value


def _usable(dev: torch.device) -> bool:
    if dev.type == "cpu":
        return True
    if dev.type == "cuda":
        return torch.cuda.is_available() and (dev.index is None or dev.index < torch.cuda.device_count())
    if dev.type == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    backend = getattr(torch, dev.type, None)  # xpu and other accelerators expose is_available() the same way
    return bool(getattr(backend, "is_available", lambda: False)())


def available_devices() -> list[str]:
    """The devices this machine can run on, e.g. ``["cpu"]`` or ``["cpu", "cuda", "cuda:0"]``."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _usable(torch.device("mps")):
        out.append("mps")
    return out


def device(name: str, value: Any) -> torch.device | None:
    """``torch.device(value)`` if it names a device this machine has (``None`` stays ``None``)."""
    if value is None:
        return None
    if not isinstance(value, (str, torch.device)):
        raise TypeError(f"{name} must be a device name such as 'cpu' or 'cuda', or a torch.device; "
                        f"got {describe(value)}")
    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or not _usable(dev):
        why = "is not a device name" if dev is None else "is not available on this machine"
        raise ValueError(f"{name}={str(value)!r} {why}; available devices: {', '.join(available_devices())}")
    return dev


def indices(name: str, value: Any, size: int) -> Any:
    """``value`` if it is an iterable of integers in ``[0, size)`` (block indices, for example)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a sequence of integers in [0, {size}), got {describe(value)}")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= int(v) < size:
            raise ValueError(f"{name} must hold integers in [0, {size}), got {describe(v)} in {describe(value)}")
    return value


def dtype_of(name: str, value: Tensor, module_name: str, module_: nn.Module) -> Tensor:
    """``value`` if its floating dtype is the one of ``module_``'s weights (a module without weights takes any)."""
    weight = next(iter(module_.parameters()), None)
    if weight is not None and weight.is_floating_point() and value.dtype != weight.dtype:
        raise TypeError(f"{name} must have the dtype of {module_name}'s weights, {weight.dtype}, got {value.dtype} "
                        f"(convert with .to({weight.dtype}))")
    return value


def images(name: str, value: Any, module_name: str, module_: nn.Module, *, non_empty: bool = True) -> Tensor:
    """``value`` if it is a batch ``(N, C, H, W)`` of images ``module_`` takes: floating, of its weights' dtype and,
    when the network records them (``model.config["in_channels"]``), its input channels. Reads metadata only."""
    tensor(name, value, ndim=4, kind="float", non_empty=non_empty)
    dtype_of(name, value, module_name, module_)
    config = getattr(module_, "config", None)
    channels = config.get("in_channels") if isinstance(config, Mapping) else None
    if channels is not None and value.shape[1] != channels:
        raise ValueError(f"{name} must be a batch (N, {channels}, H, W) of {channels}-channel images for "
                         f"{module_name}, got shape {tuple(value.shape)}")
    return value


def tokens(name: str, value: Any, module_name: str, module_: nn.Module, *, non_empty: bool = True) -> Tensor:
    """``value`` if it is a batch ``(B, T)`` of int64 (or int32) token ids ``module_`` takes: when the network records
    them (``model.config``), ``T ≤ context`` and every id in ``[0, vocab_size)``. Reads the smallest and largest id."""
    tensor(name, value, ndim=2, kind="integer", non_empty=non_empty)
    if value.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold int64 token ids for {module_name}'s embedding, got dtype {value.dtype} "
                        "(convert with .long())")
    config = getattr(module_, "config", None)
    config = config if isinstance(config, Mapping) else {}
    context, vocab = config.get("context"), config.get("vocab_size")
    if value.shape[1] < 1 or (context is not None and value.shape[1] > context):
        raise ValueError(f"{name} must be a batch (B, T) of sequences with 1 <= T <= {context} (the context of "
                         f"{module_name}), got shape {tuple(value.shape)}")
    if value.numel():
        low, high = int(value.min()), int(value.max())
        if low < 0 or (vocab is not None and high >= vocab):
            raise ValueError(f"{name} must hold token ids in [0, {vocab}) for {module_name}, got ids from {low} to "
                             f"{high}")
    return value


def model_input(name: str, value: Any, module_name: str, module_: nn.Module, *, non_empty: bool = True) -> Tensor:
    """``value`` if ``module_`` takes it: ``tokens`` for a network whose ``inputs`` is ``"tokens"`` (a GPT), else
    ``images``."""
    if getattr(module_, "inputs", "images") == "tokens":
        return tokens(name, value, module_name, module_, non_empty=non_empty)
    return images(name, value, module_name, module_, non_empty=non_empty)


def flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (a switch such as ``nonzero`` or ``batch_norm``)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return value


def sequence(name: str, value: Any, what: str, *, min_len: int = 0, iterators: bool = False) -> Any:
    """``value`` if it is a list, tuple, array or other sized collection (not a string, dict, set, tensor or single
    module) of ``min_len`` or more items; ``what`` names the items (``"networks"``) for the message.

    ``iterators=True`` also lets an iterator (a generator) through, unchecked and unconsumed: its items are then the
    caller's to check after reading them (``isinstance(value, Sized)`` tells which it got).
    """
    if isinstance(value, Iterator) and iterators:
        return value
    collection = isinstance(value, nn.ModuleList) or (
        isinstance(value, Sized) and isinstance(value, Iterable)
        and not isinstance(value, (str, bytes, Mapping, Set, Tensor, nn.Module)))
    if not collection:
        raise TypeError(f"{name} must be a list of {what}, got {describe(value)}"
                        + (" (put a single one in a list: [...])" if isinstance(value, (nn.Module, Tensor)) else ""))
    if len(value) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} {what}, got {len(value)}")
    return value


def mapping(name: str, value: Any, what: str) -> Any:
    """``value`` if it is a dict (any ``Mapping``); ``what`` says what it maps, e.g. ``"{label: history}"``."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict {what}, got {describe(value)}")
    return value


def function(name: str, value: Any, how: str) -> Any:
    """``value`` if it can be called (a network is not: it is an argument, not a function that makes or reads one);
    ``how`` shows the expected call, e.g. ``"build_child() -> a new network"``."""
    if not callable(value) or isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a function called as {how}, got {describe(value)}")
    return value


def path(name: str, value: Any) -> Any:
    """``value`` if it is a file path: a ``str`` or an ``os.PathLike`` (``pathlib.Path``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or pathlib.Path), got {describe(value)}")
    return value


def pair(name: str, value: Any, *, ndim: int | Sequence[int] | None = None) -> Any:
    """``value`` if it is a pair ``(x, y)``: a floating-point tensor of inputs and one class label per input.

    Reads the labels' smallest and largest value once (``labels``).
    """
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name} must be a pair (x, y) of tensors, got {describe(value)}")
    tensor(f"{name}[0]", value[0], ndim=ndim, min_ndim=None if ndim is not None else 2, kind="float")
    labels(f"{name}[1]", value[1], rows=len(value[0]))
    return value
