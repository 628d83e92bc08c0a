"""One-shot compression of a network layer by layer with ``reconstruct``'s solvers: which inputs calibrate a layer.

``compress_model(student, teacher, x, method, ...)`` walks the blocks' layers from the input to the output — a
``ConvBlock``'s conv, a residual block's two convs (``models.conv_inputs``), a transformer block's six linear layers
q, k, v, attention projection, MLP fc and projection (``models.linear_inputs``) — and optionally the head's linear
layer. For each layer it accumulates the Gram matrix ``H`` of its inputs on the few samples ``x`` (images, or token
sequences for a ``GPT``) and replaces the weight by the method's compressed one. What "its inputs" are is the
question cross distillation asks (Bai et al., AAAI 2020), here for the whole family:

* ``calibration="teacher"``: the dense teacher's inputs to the layer, ``H = X_tᵀX_t / n`` — every layer solved on
  clean features, as cross distillation's correction loss feeds them (Eq. 2);
* ``"student"``: the already-compressed student's inputs, ``H = X_sᵀX_s / n`` — later layers see, and can make up
  for, the earlier layers' errors, as in the imitation loss (Eq. 3) and the sequential pass of the SparseGPT and
  GPTQ reference code (Frantar & Alistarh, ICML 2023, https://arxiv.org/abs/2301.00774; Frantar et al., ICLR 2023,
  https://arxiv.org/abs/2210.17323) — inside a block too: a transformer block's attention projection is solved on
  the inputs its compressed q, k and v give it, as in their "true sequential" option;
* ``"asymmetric"``: the student's inputs and the teacher's outputs, ``‖X_s Ŵᵀ − X_t Wᵀ‖²`` (no-cross, Eq. 1):
  first the target ``W* = reconstruct.asymmetric_target(W, H_s, X_sᵀX_t / n)``, then ``W*`` compressed with ``H_s``.

Everything else stays: BatchNorm (re-estimate it with ``train.recalibrate_bn_`` if wanted), LayerNorm, biases,
embeddings, the first conv's inputs (the images). Features are read through ``models.block_input``, ``run_blocks``,
``conv_inputs`` and ``linear_inputs`` only, each network's block inputs carried forward batch by batch.

``compress_blocks(model, x, method, blocks, ...)`` is the sequential (``"student"``) pass on one network, in place;
it gives the weights of ``compress_model(..., calibration="student")`` (a test checks it).
"""
from __future__ import annotations

import copy
import time
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from . import reconstruct as rc
from . import validate
from .layers import BasicBlock, ConvBlock, TransformerBlock
from .models import BlockNet, block_input, conv_inputs, linear_inputs, run_blocks
from .progress import bar
from .train import eval_mode

__all__ = ["METHODS", "NM_METHODS", "CALIBRATIONS", "compress_model", "compress_blocks"]

PRUNERS = ("magnitude", "wanda", "sparsegpt", "obc")
QUANTIZERS = ("rtn", "gptq")
METHODS = PRUNERS + QUANTIZERS
NM_METHODS = ("magnitude", "wanda", "sparsegpt")  # the pruners that take an n:m pattern (nm=(2, 4))
CALIBRATIONS = ("teacher", "student", "asymmetric")


def _compressor(method: str, sparsity, bits, nm, blocksize: int, damp: float, act_order: bool):
    """``f(W, H) -> Ŵ`` for the named method, its options bound."""
    return {
        "magnitude": lambda W, H: rc.magnitude_prune(W, sparsity, nm),
        "wanda": lambda W, H: rc.wanda_prune(W, H, sparsity, nm),
        "sparsegpt": lambda W, H: rc.sparsegpt_prune(W, H, sparsity, blocksize, damp, nm),
        "obc": lambda W, H: rc.obc_prune(W, H, sparsity, damp),
        "rtn": lambda W, H: rc.rtn_quantize(W, bits),
        "gptq": lambda W, H: rc.gptq_quantize(W, H, bits, blocksize, damp, act_order),
    }[method]


def _check_block(model: BlockNet, l: int) -> None:
    block = model.blocks[l]
    plain = isinstance(block, ConvBlock) and isinstance(block.conv, nn.Conv2d)
    if not (plain or isinstance(block, (BasicBlock, TransformerBlock))):
        raise ValueError(f"layer-wise compression handles ConvBlocks with one plain conv (VGG, SmallCNN), residual "
                         f"BasicBlocks (ResNet) and TransformerBlocks (GPT); block {l} is a {type(block).__name__}"
                         f"{' with a decoupled conv' if isinstance(block, ConvBlock) else ''}")


def _layer_inputs(block: nn.Module, h: Tensor, upto: str | None = None) -> dict[str, Tensor]:
    """``{name inside the block: that layer's input}`` for block input ``h``, in the order the block applies them
    (up to layer ``upto``, computing no more than it needs)."""
    return linear_inputs(block, h, upto) if isinstance(block, TransformerBlock) else conv_inputs(block, h, upto)


def _head_linear(model: BlockNet) -> nn.Linear:
    """The head's final ``nn.Linear``, when everything before it in the head is parameter-free (Flatten, pooling)."""
    head = model.head
    if not (isinstance(head, nn.Sequential) and isinstance(head[-1], nn.Linear)
            and not any(True for m in head[:-1] for _ in m.parameters())):
        raise ValueError("head=True needs a head nn.Sequential(<parameter-free modules>, nn.Linear), e.g. VGG's "
                         "'linear' head; this network's head has layers with parameters before its last linear")
    return head[-1]


def _check_amount(method, sparsity, bits, nm, blocksize, damp, act_order) -> None:
    """The method and how much it compresses: ``sparsity`` (and ``nm``) for a pruner, ``bits`` for a quantizer."""
    validate.choice("method", method, METHODS)
    validate.flag("act_order", act_order)
    if method in PRUNERS:
        if bits is not None:
            raise ValueError(f"method={method!r} prunes: give sparsity, not bits (bits is for 'rtn' and 'gptq')")
        validate.real("sparsity", sparsity, low=0.0, high=1.0, high_open=True)
    else:
        if sparsity is not None:
            raise ValueError(f"method={method!r} quantizes: give bits, not sparsity")
        validate.integer("bits", bits, low=2)
    if nm is not None and method not in NM_METHODS:
        raise ValueError(f"nm (an n:m pattern) is an option of {', '.join(map(repr, NM_METHODS))}; method={method!r} "
                         "does not take it")
    validate.integer("blocksize", blocksize, low=1)
    validate.real("damp", damp, low=0.0)


def _check_blocks(model: BlockNet, blocks: Sequence[int] | None, min_len: int = 0) -> list[int]:
    order = list(range(len(model.blocks))) if blocks is None else list(validate.indices(
        "blocks", validate.sequence("blocks", blocks, "block indices", min_len=min_len), len(model.blocks)))
    if order != sorted(set(order)):
        raise ValueError(f"blocks must be distinct block indices in increasing order, got {order}")
    for l in order:
        _check_block(model, l)
    return order


def _check(student, teacher, x, calibration, head, batch_size) -> None:
    validate.module("teacher", teacher, BlockNet)
    if student is not None:
        validate.module("student", student, BlockNet)
        if student.widths != teacher.widths or len(student.blocks) != len(teacher.blocks):
            raise ValueError(f"student must have the teacher's widths (got {student.widths} vs {teacher.widths}): "
                             "layer-wise compression keeps every shape")
    validate.model_input("x", x, "teacher", teacher)
    validate.choice("calibration", calibration, CALIBRATIONS)
    validate.flag("head", head)
    validate.integer("batch_size", batch_size, low=1)
    if head:
        _head_linear(teacher)


def _calibrate(layer_s: nn.Module, layer_t: nn.Module, x_s: Iterable, x_t: Iterable,
               calibration: str) -> rc.GramAccumulator:
    """``H`` (and ``C`` for ``"asymmetric"``) of one layer over every batch of its inputs in each network."""
    acc = rc.GramAccumulator()
    for xs, xt in zip(x_s, x_t):
        if calibration == "teacher":
            acc.add(rc.layer_inputs(layer_t, xt))
        elif calibration == "student":
            acc.add(rc.layer_inputs(layer_s, xs))
        else:
            acc.add(rc.layer_inputs(layer_s, xs), rc.layer_inputs(layer_t, xt))
    return acc


def _groups(block: nn.Module, inputs: dict[str, Tensor]) -> list[list[str]]:
    """The block's layer names in order, consecutive Linear layers that read the same tensor (a transformer's q, k
    and v read ``ln_1(h)``) in one group: compressing one cannot change the others' input, computed before them."""
    groups: list[list[str]] = []
    for name, x in inputs.items():
        if (groups and inputs[groups[-1][0]] is x and isinstance(block.get_submodule(name), nn.Linear)
                and isinstance(block.get_submodule(groups[-1][0]), nn.Linear)):
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def _compress_block_(block_s: nn.Module, block_t: nn.Module, h_s: list[Tensor], h_t: list, calibration: str,
                     compress, damp: float, prefix: str) -> list[dict]:
    """Compress the layers of one block in the order it applies them, each on the inputs it receives now (the
    block's earlier layers already compressed); ``h_s``/``h_t``: the block's input batches in each network.

    Layers that read one tensor share one ``H`` (one pass over the batches for the group); the student's inputs are
    recomputed after each group, the teacher's (which never change) once."""
    records = []
    t_inputs = [_layer_inputs(block_t, h) for h in h_t] if calibration != "student" else None
    for group in _groups(block_s, _layer_inputs(block_s, h_s[0][:1])):
        x_s = (_layer_inputs(block_s, h, group[0])[group[0]] if calibration != "teacher" else None
               for h in h_s)  # lazily, batch by batch
        x_t = (inputs[group[0]] for inputs in t_inputs) if t_inputs is not None else (None for _ in h_s)
        acc = _calibrate(block_s.get_submodule(group[0]), block_t.get_submodule(group[0]), x_s, x_t, calibration)
        for name in group:
            layer_s, layer_t = block_s.get_submodule(name), block_t.get_submodule(name)
            records.append(_compress_layer_(layer_s, layer_t, acc, calibration, compress, damp, f"{prefix}.{name}"))
    return records


@torch.no_grad()
def _compress_layer_(layer_s: nn.Module, layer_t: nn.Module, acc: rc.GramAccumulator, calibration: str,
                     compress, damp: float, name: str) -> dict:
    """Replace ``layer_s.weight`` by the compressed one; returns the layer's record for ``info``."""
    H = acc.H
    if calibration == "asymmetric":
        target = rc.asymmetric_target(layer_t.weight.flatten(1), H, acc.C, damp)
    else:
        target = layer_s.weight.detach().flatten(1).clone()
    w_hat = compress(target, H)
    layer_s.weight.copy_(w_hat.view_as(layer_s.weight))
    error, scale = rc.layer_error(target, w_hat, H), rc.layer_error(target, torch.zeros_like(target), H)
    return {"layer": name, "rows": acc.n, "inputs": H.shape[0], "error": error,
            "relative_error": error / scale if scale > 0 else 0.0,
            "sparsity": float((w_hat == 0).double().mean())}


def compress_model(student: BlockNet | None, teacher: BlockNet, x: Tensor, method: str, *,
                   sparsity: float | None = None, bits: int | None = None, calibration: str = "student",
                   head: bool = False, blocks: Sequence[int] | None = None, nm: tuple[int, int] | None = None,
                   blocksize: int = rc.BLOCKSIZE, damp: float = rc.DAMP, act_order: bool = False,
                   batch_size: int = 64, progress: bool = True) -> tuple[BlockNet, dict]:
    """Compress ``student``'s layers (and the head's linear with ``head=True``) one after the other, on samples ``x``.

    ``x``: images ``(N, C, H, W)``, or token sequences ``(N, T)`` for a ``GPT``. ``student=None`` starts from a deep
    copy of ``teacher``; a given student must have the teacher's widths and is changed in place. ``method``:
    ``"magnitude"``, ``"wanda"``, ``"sparsegpt"``, ``"obc"`` (small layers only) with ``sparsity`` (exactly that
    fraction of every output row; ``nm=(2, 4)``: 2 of every 4 consecutive inputs, for the first three), or ``"rtn"``,
    ``"gptq"`` with ``bits``. ``blocks``: which blocks' layers (default all, in order). ``calibration`` (see the
    module docstring): whose inputs make ``H``. The target weight is the student's own (``"teacher"``,
    ``"student"``) or ``W*`` from the teacher's layer (``"asymmetric"``). Both networks run in eval mode; the
    teacher is only read.

    Returns ``(student, info)``: ``info["layers"]`` holds per layer its name, ``rows`` of ``X``, ``inputs``, the
    ``error`` ``tr((W − Ŵ) H (W − Ŵ)ᵀ)`` against the target weight, that error relative to ``tr(W H Wᵀ)``
    (``relative_error``) and the fraction of zero weights; ``info["time"]`` in seconds.
    """
    _check(student, teacher, x, calibration, head, batch_size)
    _check_amount(method, sparsity, bits, nm, blocksize, damp, act_order)
    order = _check_blocks(teacher, blocks)
    start = time.perf_counter()
    compress = _compressor(method, sparsity, bits, nm, blocksize, damp, act_order)
    student = copy.deepcopy(teacher) if student is None else student
    sdev, tdev = next(student.parameters()).device, next(teacher.parameters()).device
    records, dense = [], calibration != "student"  # the teacher's features are needed unless calibration="student"
    with eval_mode(student, teacher), torch.no_grad():
        chunks = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
        h_s = [block_input(student, c.to(sdev), 0) for c in chunks]
        h_t = [block_input(teacher, c.to(tdev), 0) if dense else None for c in chunks]
        stop = len(teacher.blocks) if head else (order[-1] + 1 if order else 0)
        for l in bar(range(stop), desc=f"compress ({method})", disable=not progress, leave=False):
            if l in order:
                records += _compress_block_(student.blocks[l], teacher.blocks[l], h_s, h_t, calibration, compress,
                                            damp, f"blocks.{l}")
            h_s = [run_blocks(student, h, l, l + 1) for h in h_s]  # the compressed block's outputs
            h_t = [run_blocks(teacher, h, l, l + 1) if dense else None for h in h_t]
        if head:
            layer_s, layer_t = _head_linear(student), _head_linear(teacher)
            pre_s, pre_t = student.head[:-1], teacher.head[:-1]  # parameter-free (Flatten, pooling)
            acc = _calibrate(layer_s, layer_t, [pre_s(h) for h in h_s], [pre_t(h) if dense else None for h in h_t],
                             calibration)
            records.append(_compress_layer_(layer_s, layer_t, acc, calibration, compress, damp, "head"))
    return student, {"layers": records, "time": time.perf_counter() - start}



def compress_blocks(model: BlockNet, x: Tensor, method: str, blocks: Sequence[int], *, sparsity: float | None = None,
                    bits: int | None = None, nm: tuple[int, int] | None = None, blocksize: int = rc.BLOCKSIZE,
                    damp: float = rc.DAMP, act_order: bool = False, batch_size: int = 64) -> dict:
    """Compress every layer of ``model.blocks[l]`` for ``l`` in ``blocks`` (increasing), in place, each on the inputs
    it receives from the model compressed so far (sequential calibration) — a ResNet's two convs per residual block
    and a GPT's six linear layers per transformer block included (``models.conv_inputs``, ``models.linear_inputs``).

    Methods and options as ``compress_model``. Returns ``info`` as ``compress_model`` does.
    """
    validate.module("model", model, BlockNet)
    validate.model_input("x", x, "model", model)
    validate.integer("batch_size", batch_size, low=1)
    _check_amount(method, sparsity, bits, nm, blocksize, damp, act_order)
    order = _check_blocks(model, blocks, min_len=1)
    compress = _compressor(method, sparsity, bits, nm, blocksize, damp, act_order)
    start, records = time.perf_counter(), []
    device = next(model.parameters()).device
    with eval_mode(model), torch.no_grad():
        hs = [block_input(model, x[i:i + batch_size].to(device), order[0]) for i in range(0, len(x), batch_size)]
        for l in range(order[0], order[-1] + 1):
            if l in order:
                records += _compress_block_(model.blocks[l], model.blocks[l], hs, hs, "student", compress, damp,
                                            f"blocks.{l}")
            hs = [run_blocks(model, h, l, l + 1) for h in hs]
    return {"layers": records, "time": time.perf_counter() - start}
