"""The course's networks: every one is ``stem -> blocks (nn.ModuleList) -> head``.

* ``forward(x)`` returns logits only.
* ``block_io(model, x)`` returns every block's input and output: what FitNets, FSKD and cross distillation need
  (cross distillation simply calls ``student.blocks[l](teacher_input)``).
* ``model.config`` holds the constructor's keyword arguments, widths included, so
  ``build_model(model.arch, config)`` rebuilds the same architecture and a pruned network is just
  ``(new widths, state_dict)``.
* ``count_params`` and ``count_flops`` use one convention everywhere: FLOPs are the multiply-accumulates of conv
  and linear layers, as the FSKD (Li et al., CVPR 2020) and cross-distillation (Bai et al., AAAI 2020) papers count them.

The blocks live in ``layers``. Each conv block has an ``adapter`` slot (``nn.Identity`` by default) right after the
conv (and its BatchNorm) and before the non-linearity: this is where FSKD's 1x1 conv sits and can be merged away
(Li et al., CVPR 2020, Theorem 1).
``GPT`` is the same shape for text: tokens ``(B, T)`` in (``model.inputs == "tokens"``), logits ``(B, T, vocab)`` out.
"""
from __future__ import annotations

import inspect
import math
from typing import Sequence

import torch
from torch import Tensor, nn

from . import validate
from .layers import BasicBlock, ConvBlock, TokenEmbedding, TransformerBlock

__all__ = [
    "ConvBlock", "BlockNet", "VGG", "SmallCNN", "BasicBlock", "ResNetCIFAR", "ARCHITECTURES",
    "GPT", "vgg_fmnist", "small_cnn", "vgg16_cifar", "resnet_cifar", "build_model", "block_io", "block_input",
    "run_blocks", "conv_inputs", "linear_inputs",
    "count_params", "count_flops",
]


class BlockNet(nn.Module):
    """Base class: ``forward(x) = head(blocks[-1](...blocks[0](stem(x))))``."""

    arch: str = ""
    inputs: str = "images"  # what forward takes: "images" (N, C, H, W) floats or "tokens" (B, T) integer ids
    stem: nn.Module
    blocks: nn.ModuleList
    head: nn.Module
    config: dict

    def forward(self, x: Tensor) -> Tensor:  # block_input without its checks: forward runs at every step
        return self.head(_run_blocks(self, self.stem(x), 0, len(self.blocks)))

    @property
    def widths(self) -> list[int]:
        """The prunable widths (output channels of each block's conv, or a residual block's inner conv)."""
        return list(self.config["widths"])

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, widths={self.widths}"


def _head(kind: str, features: int, num_classes: int, hidden: int) -> nn.Module:
    if kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(features, num_classes))
    if kind == "mlp":  # cross distillation's CIFAR VGG head: Linear(512,512)-BN-ReLU-Linear(512,10)
        return nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                             nn.Linear(hidden, num_classes))
    raise ValueError(f"unknown head {kind!r}; use 'linear' or 'mlp'")


class VGG(BlockNet):
    """A VGG-style net: 3x3 conv blocks, 2x2 max-pool after the blocks listed in ``pools``."""

    arch = "vgg"

    def __init__(self, widths: Sequence[int], pools: Sequence[int], *, in_channels: int = 1, num_classes: int = 10,
                 input_size: int = 28, batch_norm: bool = True, head: str = "linear", hidden: int = 512):
        super().__init__()
        _check_vgg(widths, pools, in_channels, num_classes, input_size, batch_norm, head, hidden)
        widths, pools = [int(w) for w in widths], sorted(int(p) for p in pools)
        if any(w < 1 for w in widths) or any(not 0 <= p < len(widths) for p in pools):
            raise ValueError(f"widths must be positive and pools index blocks: widths={widths}, pools={pools}")
        self.config = dict(widths=widths, pools=pools, in_channels=in_channels, num_classes=num_classes,
                           input_size=input_size, batch_norm=batch_norm, head=head, hidden=hidden)
        self.stem = nn.Identity()
        cins = [in_channels] + widths[:-1]
        self.blocks = nn.ModuleList(
            ConvBlock(ci, co, batch_norm=batch_norm, pool="max" if i in pools else None)
            for i, (ci, co) in enumerate(zip(cins, widths)))
        side = input_size // 2 ** len(pools)
        self.head = _head(head, widths[-1] * side * side, num_classes, hidden)


class SmallCNN(BlockNet):
    """Rishikesh et al.'s two-conv CNN ("Layers (256, 512)" teacher, "(16, 32)" student), as in the Keras KD example.

    ``Conv(w1, 3x3, stride 2) -> LeakyReLU(0.2) -> MaxPool(2, stride 1, 'same') -> Conv(w2, 3x3, stride 2) ->
    Flatten -> Linear``. The second conv has no activation, as in the Keras example the report follows.
    """

    arch = "small_cnn"

    def __init__(self, widths: Sequence[int] = (256, 512), *, in_channels: int = 1, num_classes: int = 10,
                 input_size: int = 28):
        super().__init__()
        _check_widths("widths", widths, count=2)
        _check_sizes(in_channels=in_channels, num_classes=num_classes, input_size=input_size)
        w1, w2 = (int(w) for w in widths)
        self.config = dict(widths=[w1, w2], in_channels=in_channels, num_classes=num_classes,
                           input_size=input_size)
        self.stem = nn.Identity()
        self.blocks = nn.ModuleList([
            ConvBlock(in_channels, w1, stride=2, batch_norm=False, act="leaky_relu", pool="max_same"),
            ConvBlock(w1, w2, stride=2, batch_norm=False, act="none"),
        ])
        side = (input_size + 3) // 4  # two stride-2 'same' convs
        self.head = _head("linear", w2 * side * side, num_classes, 0)


class ResNetCIFAR(BlockNet):
    """He et al.'s CIFAR ResNet (depth 6n+2: 20, 32, 44, 56, 110) with option-A shortcuts.

    ``widths`` are the inner widths (conv1's output channels) of the 3n residual blocks: pruning them keeps every
    block's output width (16/32/64) and so the shortcuts intact, as the cross-distillation paper prunes ResNet-56.
    """

    arch = "resnet_cifar"

    def __init__(self, depth: int = 56, widths: Sequence[int] | None = None, *, in_channels: int = 3,
                 num_classes: int = 10, input_size: int = 32):
        super().__init__()
        validate.integer("depth", depth)
        if widths is not None:
            _check_widths("widths", widths)
        _check_sizes(in_channels=in_channels, num_classes=num_classes, input_size=input_size)
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110); got {depth}")
        n = (depth - 2) // 6
        stage_widths = [16] * n + [32] * n + [64] * n
        widths = list(stage_widths if widths is None else (int(w) for w in widths))
        if len(widths) != 3 * n:
            raise ValueError(f"ResNet-{depth} has {3 * n} residual blocks; got {len(widths)} widths")
        self.config = dict(depth=depth, widths=widths, in_channels=in_channels, num_classes=num_classes,
                           input_size=input_size)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU())
        blocks, cin = [], 16
        for i, (inner, cout) in enumerate(zip(widths, stage_widths)):
            stride = 2 if i > 0 and cout != cin else 1
            blocks.append(BasicBlock(cin, inner, cout, stride))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes))


class GPT(BlockNet):
    """A byte-level GPT (Radford et al. 2019, in Karpathy's nanoGPT shape; its layers are in ``transformer``).

    ``stem`` = token + position embedding, ``blocks`` = pre-LayerNorm decoder blocks, ``head`` = LayerNorm + Linear
    to the logits. Tokens ``(B, T)`` int64 in ``[0, vocab_size)``, ``T ≤ context`` → next-token logits ``(B, T,
    vocab_size)``. ``widths``: each block's MLP hidden width (its prunable width). nanoGPT's initialisation: weights
    N(0, 0.02), biases 0, the residual projections N(0, 0.02 / √(2 · blocks)).
    """

    arch, inputs = "gpt", "tokens"

    def __init__(self, widths: Sequence[int] = (512, 512, 512, 512), *, vocab_size: int = 256, context: int = 128,
                 width: int = 128, heads: int = 4):
        super().__init__()
        _check_widths("widths", widths)
        _check_sizes(vocab_size=vocab_size, context=context, width=width, heads=heads)
        if width % heads:
            raise ValueError(f"width must be a multiple of heads (each head gets width / heads features), got "
                             f"width={width}, heads={heads}")
        widths = [int(w) for w in widths]
        self.config = dict(widths=widths, vocab_size=vocab_size, context=context, width=width, heads=heads)
        self.stem = TokenEmbedding(vocab_size, context, width)
        self.blocks = nn.ModuleList(TransformerBlock(width, heads, w) for w in widths)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, vocab_size))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, 0.0, 0.02 / math.sqrt(2 * len(widths)))


ARCHITECTURES: dict[str, type[BlockNet]] = {"vgg": VGG, "small_cnn": SmallCNN, "resnet_cifar": ResNetCIFAR,
                                             "gpt": GPT}

VGG16_WIDTHS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
VGG16_POOLS = [1, 3, 6, 9, 12]


def build_model(arch: str, config: dict) -> BlockNet:
    """Rebuild a network from ``model.arch`` and ``model.config`` (e.g. a pruned network's new widths)."""
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture arch={arch!r}; known: {', '.join(ARCHITECTURES)}")
    validate.mapping("config", config, "of constructor arguments (a model's .config)")
    taken = inspect.signature(ARCHITECTURES[arch]).parameters
    unknown = sorted(str(k) for k in config if k not in taken)
    if unknown:
        raise TypeError(f"config has keys the {arch!r} architecture does not take: {unknown}; it takes "
                        f"{', '.join(taken)}")
    return ARCHITECTURES[arch](**config)


def vgg_fmnist(width: float = 1.0, batch_norm: bool = True, num_classes: int = 10) -> VGG:
    """The course's Fashion-MNIST teacher: 6 conv blocks (32,32 | 64,64 | 128,128), pool after each pair.

    ``width`` scales every block (0.5 gives the hand-designed half-width student of FSKD's Table 8 setting).
    """
    validate.real("width", width, low=0.0, low_open=True)
    widths = [max(1, round(w * width)) for w in (32, 32, 64, 64, 128, 128)]
    return VGG(widths, pools=[1, 3, 5], in_channels=1, num_classes=num_classes, input_size=28,
               batch_norm=batch_norm)


def small_cnn(widths: Sequence[int] = (256, 512), in_channels: int = 1, input_size: int = 28) -> SmallCNN:
    """Rishikesh et al.'s CNN (IIIT Dharwad report): (256, 512) is its teacher, (16, 32) its student."""
    return SmallCNN(widths, in_channels=in_channels, input_size=input_size)


def vgg16_cifar(num_classes: int = 10, batch_norm: bool = True, head: str = "mlp") -> VGG:
    """The papers' CIFAR VGG-16 (13 convs, 5 pools, 32x32 input).

    ``head="mlp"``: cross distillation's ``Linear(512,512)-BN-ReLU-Linear(512,10)`` (14.99 M params, 0.314 GFLOPs,
    Bai et al. Table 10). ``head="linear"``: FSKD's single ``Linear(512,10)`` (14.72 M params, 3.13e8 FLOPs).
    """
    return VGG(VGG16_WIDTHS, VGG16_POOLS, in_channels=3, num_classes=num_classes, input_size=32,
               batch_norm=batch_norm, head=head)


def resnet_cifar(depth: int = 56, num_classes: int = 10) -> ResNetCIFAR:
    """CIFAR ResNet-20/32/44/56/110 (ResNet-56: 0.85 M params, 125 M FLOPs)."""
    return ResNetCIFAR(depth, num_classes=num_classes)


def block_input(model: BlockNet, x: Tensor, l: int) -> Tensor:
    """The input of ``model.blocks[l]`` for the batch ``x``: the stem, then blocks ``0 … l−1``.

    ``l = len(model.blocks)`` gives the head's input (the last block's output).
    """
    _check_input(model, x)
    validate.integer("l", l, low=0, high=len(model.blocks))
    return _run_blocks(model, model.stem(x), 0, l)


def run_blocks(model: BlockNet, h: Tensor, start: int, stop: int) -> Tensor:
    """``blocks[stop−1](… blocks[start](h))``: carry a block input ``h`` of block ``start`` forward to block ``stop``.

    What the layer-wise methods (FSKD, cross distillation) use to move to the next block without recomputing the
    earlier ones: ``h = run_blocks(model, h, l, l + 1)`` after block ``l`` has been changed.
    """
    validate.module("model", model, BlockNet)
    validate.integer("start", start, low=0, high=len(model.blocks))
    validate.integer("stop", stop, low=start, high=len(model.blocks))
    validate.tensor("h", h, min_ndim=2, kind="float", non_empty=False)
    validate.dtype_of("h", h, "model", model)
    if start < stop:
        block = model.blocks[start]
        width, dim = (block.width, -1) if isinstance(block, TransformerBlock) else (_in_channels(block), 1)
        if h.shape[dim] != width:
            raise ValueError(f"h must be an input of block {start}, with {width} "
                             f"{'features (B, T, C)' if dim == -1 else 'channels'}, got shape {tuple(h.shape)}")
    return _run_blocks(model, h, start, stop)


def _run_blocks(model: BlockNet, h: Tensor, start: int, stop: int) -> Tensor:
    """``run_blocks`` without the argument checks (the forward pass of every step)."""
    for block in model.blocks[start:stop]:
        h = block(h)
    return h


CONV_LAYERS = {ConvBlock: ("conv",), BasicBlock: ("conv1", "conv2")}
LINEAR_LAYERS = ("attn.q", "attn.k", "attn.v", "attn.proj", "mlp.fc", "mlp.proj")  # a TransformerBlock's, in order


def _upto(block: nn.Module, upto: str | None, names: tuple[str, ...]) -> str:
    """The last layer name to compute (``upto``, checked against the block's ``names``; ``None``: all of them)."""
    if upto is None:
        return names[-1]
    if upto not in names:
        raise ValueError(f"upto must name a layer of this {type(block).__name__}, one of {', '.join(names)}; "
                         f"got {upto!r}")
    return upto


def conv_inputs(block: nn.Module, h: Tensor, upto: str | None = None) -> dict[str, Tensor]:
    """The input of each conv inside one block, for the block input ``h``, in the order the block applies them.

    ``{"conv": h}`` for a ``ConvBlock``; ``{"conv1": h, "conv2": relu1(bn1(conv1(h)))}`` for a ``BasicBlock`` (with
    the block's current weights: after changing ``conv1``, call it again for ``conv2``'s new input). ``upto``: stop
    after that layer's input (``"conv1"``: no conv is run).
    """
    validate.module("block", block, (ConvBlock, BasicBlock))
    validate.tensor("h", h, ndim=4, kind="float")
    last = _upto(block, upto, CONV_LAYERS[type(block)])
    if isinstance(block, ConvBlock):
        return {"conv": h}
    return {"conv1": h} if last == "conv1" else {"conv1": h, "conv2": block.relu1(block.bn1(block.conv1(h)))}


def linear_inputs(block: TransformerBlock, h: Tensor, upto: str | None = None) -> dict[str, Tensor]:
    """The input of each ``nn.Linear`` inside a transformer block, for the block input ``h`` ``(B, T, C)``, in the
    order the block applies them (its current weights: after changing one, call it again for the next one's input).

    ``attn.q``, ``attn.k``, ``attn.v``: ``ln_1(h)``; ``attn.proj``: the heads' outputs (``attn.mix``); ``mlp.fc``:
    ``ln_2(h + attn(ln_1(h)))``; ``mlp.proj``: ``gelu(fc(·))``. The keys name the layers inside the block. ``upto``:
    stop after that layer's input, computing only what it needs (``"attn.q"``: one LayerNorm).
    """
    validate.module("block", block, TransformerBlock)
    validate.tensor("h", h, ndim=3, kind="float")
    if h.shape[-1] != block.width:
        raise ValueError(f"h must be a block input (B, T, {block.width}), got shape {tuple(h.shape)}")
    last = LINEAR_LAYERS.index(_upto(block, upto, LINEAR_LAYERS))
    x = block.ln_1(h)
    out = {"attn.q": x, "attn.k": x, "attn.v": x}
    if last >= 3:
        out["attn.proj"] = mixed = block.attn.mix(x)
    if last >= 4:
        out["mlp.fc"] = z = block.ln_2(h + block.attn.proj(mixed))
    if last >= 5:
        out["mlp.proj"] = block.mlp.act(block.mlp.fc(z))
    return {name: out[name] for name in LINEAR_LAYERS[:last + 1]}


def block_io(model: BlockNet, x: Tensor, upto: int | None = None) -> list[tuple[Tensor, Tensor]]:
    """``[(input, output)]`` of blocks ``0 … upto`` (default: every block) for the batch ``x``.

    The course's one way to read intermediate features: FitNets' hints, iterative KD's hint and the FSKD and
    cross-distillation analyses all call it (or ``block_input``/``run_blocks``). With every block,
    ``model.head(out[-1][1])`` equals ``model(x)``. ``upto`` may count from the end (``-1``: the last block).
    """
    _check_input(model, x)
    if upto is not None:
        validate.integer("upto", upto, low=-len(model.blocks), high=len(model.blocks) - 1)
    last = len(model.blocks) - 1 if upto is None else upto % len(model.blocks)
    pairs = []
    h = model.stem(x)
    for l in range(last + 1):
        out = _run_blocks(model, h, l, l + 1)
        pairs.append((h, out))
        h = out
    return pairs


def count_params(model: nn.Module, nonzero: bool = False) -> int:
    """Number of parameters (BatchNorm's affine included), or of non-zero ones with ``nonzero=True``."""
    validate.module("model", model, nn.Module)
    validate.flag("nonzero", nonzero)
    if nonzero:
        return sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def count_flops(model: nn.Module, input_size: Sequence[int] = (1, 28, 28), nonzero: bool = False) -> int:
    """Multiply-accumulates of every conv and linear layer for one input of shape ``input_size`` (C, H, W).

    With ``nonzero=True`` only non-zero weights count (exact for unstructured sparsity: each weight is used once
    per output position). Biases, BatchNorm, activations and pooling are not counted, as in the papers. A ``GPT``
    takes ``input_size = (T,)`` tokens; attention's own products (``q kᵀ``, the weights times ``v``) are not counted.
    """
    _check_flops(model, input_size, nonzero)
    total = 0

    def weight_count(w: Tensor) -> int:
        return int(torch.count_nonzero(w)) if nonzero else w.numel()

    def conv_hook(mod: nn.Conv2d, _inp, out: Tensor):
        nonlocal total
        total += out.shape[2] * out.shape[3] * weight_count(mod.weight)  # per sample: H_out W_out Cout Cin/g k k

    def linear_hook(mod: nn.Linear, _inp, out: Tensor):
        nonlocal total
        total += weight_count(mod.weight) * (out.numel() // out.shape[0] // mod.out_features)

    hooks = []
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook))
        elif isinstance(mod, nn.Linear):
            hooks.append(mod.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()  # BatchNorm1d needs eval mode for a batch of one
    try:
        device = next(model.parameters()).device
        tokens = getattr(model, "inputs", "images") == "tokens"
        model(torch.zeros((1, *input_size), device=device, dtype=torch.long if tokens else None))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return total


def _in_channels(block: nn.Module) -> int:
    """The channels a block takes: those of its first conv (a decoupled conv's depthwise part included)."""
    return next(m for m in block.modules() if isinstance(m, nn.Conv2d)).in_channels


def _check_input(model: BlockNet, x: Tensor) -> None:
    validate.module("model", model, BlockNet)
    validate.model_input("x", x, "model", model, non_empty=False)


def _check_sizes(**sizes: int) -> None:
    for name, value in sizes.items():
        validate.integer(name, value, low=1)


def _check_widths(name: str, widths: Sequence[int], count: int | None = None) -> None:
    validate.sequence(name, widths, "integer widths", min_len=1)
    if count is not None and len(widths) != count:
        raise ValueError(f"{name} must hold {count} widths, got {len(widths)}: {list(widths)}")
    for i, w in enumerate(widths):
        validate.integer(f"{name}[{i}]", w, low=1)


def _check_vgg(widths, pools, in_channels, num_classes, input_size, batch_norm, head, hidden) -> None:
    """``VGG``'s arguments: integer widths and block indices, sizes, and an input that survives every pool."""
    validate.sequence("widths", widths, "integer widths", min_len=1)
    validate.sequence("pools", pools, "block indices")
    for name, values in (("widths", widths), ("pools", pools)):
        for i, v in enumerate(values):
            validate.integer(f"{name}[{i}]", v)
    if len(set(int(p) for p in pools)) != len(pools):
        raise ValueError(f"pools must be distinct block indices, got {list(pools)}")
    _check_sizes(in_channels=in_channels, num_classes=num_classes, input_size=input_size)
    if input_size < 2 ** len(pools):
        raise ValueError(f"input_size must be at least 2**len(pools) = {2 ** len(pools)} (a pixel after the "
                         f"{len(pools)} pools), got {input_size}")
    validate.flag("batch_norm", batch_norm)
    validate.choice("head", head, ("linear", "mlp"))
    if head == "mlp":
        validate.integer("hidden", hidden, low=1)


def _check_flops(model: nn.Module, input_size: Sequence[int], nonzero: bool) -> None:
    validate.module("model", model, nn.Module)
    validate.flag("nonzero", nonzero)
    validate.sequence("input_size", input_size, "positive sizes (C, H, W)", min_len=1)
    for i, v in enumerate(input_size):
        validate.integer(f"input_size[{i}]", v, low=1)
    if isinstance(model, BlockNet) and model.inputs == "tokens":
        if len(input_size) != 1 or input_size[0] > model.config["context"]:
            raise ValueError(f"input_size must be one sequence's length (T,) with T ≤ {model.config['context']}, the "
                             f"model's context (no batch dimension), got {tuple(input_size)}")
    elif isinstance(model, BlockNet):
        channels = getattr(model, "config", {}).get("in_channels")
        if len(input_size) != 3 or (channels is not None and input_size[0] != channels):
            raise ValueError(f"input_size must be one image's shape (C, H, W) with C = {channels}, the model's input "
                             f"channels (no batch dimension), got {tuple(input_size)}")
    if next(iter(model.parameters()), None) is None:
        raise ValueError("model has no parameters: count_flops runs it on its weights' device, and it has no "
                         "conv or linear layer to count")
