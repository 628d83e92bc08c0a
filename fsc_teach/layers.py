"""The blocks the course's networks chain (``model.blocks``), and the parts they are made of.

Each network in ``models`` is ``stem → blocks → head`` with one kind of block:

* ``ConvBlock`` (VGG, SmallCNN): ``conv → bn → adapter → act → pool``;
* ``BasicBlock`` (the CIFAR ResNets of He et al., CVPR 2016, https://arxiv.org/abs/1512.03385): two 3x3 convs and an
  option-A shortcut; ``adapter`` is FSKD's mergeable 1x1 slot (Li et al., CVPR 2020);
* ``TransformerBlock`` (``models.GPT``): GPT-2's decoder block (Radford et al. 2019, "Language Models are
  Unsupervised Multitask Learners", https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf)
  as Karpathy's nanoGPT writes it (https://github.com/karpathy/nanoGPT, ``model.py``): pre-LayerNorm,
  ``h + attn(ln_1(h))`` then ``h + mlp(ln_2(h))``; scaled dot-product attention with a causal mask (Vaswani et al.
  2017, "Attention Is All You Need", Eq. 1, https://arxiv.org/abs/1706.03762); MLP ``Linear(C, 4C) → GELU →
  Linear(4C, C)``. Three differences from nanoGPT, each for the layer-wise compressors (``layerwise``): q, k and v
  are three separate ``nn.Linear`` layers (nanoGPT has one ``c_attn`` with ``3C`` outputs; split, each is one layer
  with its own rows and the same inputs, as in the SparseGPT and GPTQ reference code's OPT and LLaMA models); no
  dropout; no weight tying between the token embedding and the head's linear layer.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["ConvBlock", "BasicBlock", "TokenEmbedding", "CausalSelfAttention", "MLP", "TransformerBlock"]


class ConvBlock(nn.Module):
    """``conv -> bn -> adapter -> act -> pool``; absent parts are ``nn.Identity``."""

    def __init__(self, cin: int, cout: int, *, kernel_size: int = 3, stride: int = 1, batch_norm: bool = True,
                 act: str = "relu", pool: str | None = None):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2,
                              bias=not batch_norm)
        self.bn = nn.BatchNorm2d(cout) if batch_norm else nn.Identity()
        self.adapter = nn.Identity()  # FSKD's mergeable 1x1 slot: after the (BN-folded) conv, before σ
        self.act = {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "none": nn.Identity()}[act]
        if pool is None:
            self.pool = nn.Identity()
        elif pool == "max":
            self.pool = nn.MaxPool2d(2)
        elif pool == "max_same":  # Keras MaxPooling2D(2, strides=1, padding="same"): keeps H and W
            self.pool = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, stride=1))
        else:
            raise ValueError(f"unknown pool {pool!r}; use None, 'max' or 'max_same'")

    def parts(self, x: Tensor) -> tuple[Tensor, Tensor, None]:
        """``(output, z, None)`` with ``z = bn(conv(x))``, the adapter's input: what FSKD fits (no hooks needed)."""
        z = self.bn(self.conv(x))
        return self.pool(self.act(self.adapter(z))), z, None

    def forward(self, x: Tensor) -> Tensor:
        return self.parts(x)[0]


class _ShortcutA(nn.Module):
    """He et al.'s option A: subsample and zero-pad channels (parameter-free), as in the CIFAR ResNets."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.cin, self.cout, self.stride = cin, cout, stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride == 1 and self.cin == self.cout:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        extra = self.cout - self.cin
        return nn.functional.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


class BasicBlock(nn.Module):
    """``relu(shortcut(x) + adapter(bn2(conv2(relu(bn1(conv1(x)))))))``; ``adapter`` is FSKD's mergeable slot."""

    def __init__(self, cin: int, inner: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, inner, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(inner)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(inner, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.adapter = nn.Identity()  # on the residual branch, before the addition (FSKD on ResNets)
        self.shortcut = _ShortcutA(cin, cout, stride)
        self.relu2 = nn.ReLU()

    def parts(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(output, z, shortcut(x))`` with ``z`` the residual branch before the adapter (FSKD's target)."""
        z = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        s = self.shortcut(x)
        return self.relu2(self.adapter(z) + s), z, s

    def forward(self, x: Tensor) -> Tensor:
        return self.parts(x)[0]


class TokenEmbedding(nn.Module):
    """``token(idx) + position(t)``: tokens ``(B, T)`` int64 → features ``(B, T, C)``; ``T ≤ context``."""

    def __init__(self, vocab_size: int, context: int, width: int):
        super().__init__()
        self.token = nn.Embedding(vocab_size, width)
        self.position = nn.Embedding(context, width)

    def forward(self, idx: Tensor) -> Tensor:
        pos = torch.arange(idx.shape[1], device=idx.device)  # (T,)
        return self.token(idx) + self.position(pos)  # (B, T, C) + (T, C)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position ``t`` attends to positions ``≤ t``; ``proj(mix(x))``."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.proj = nn.Linear(width, width)

    def mix(self, x: Tensor) -> Tensor:
        """The heads' outputs ``softmax(q kᵀ / √d + causal mask) v``, concatenated: ``proj``'s input ``(B, T, C)``."""
        B, T, C = x.shape
        q, k, v = (lin(x).view(B, T, self.heads, C // self.heads).transpose(1, 2)  # (B, heads, T, d)
                   for lin in (self.q, self.k, self.v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, T, d)
        return y.transpose(1, 2).reshape(B, T, C)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.mix(x))


class MLP(nn.Module):
    """``proj(gelu(fc(x)))``: ``C → hidden → C`` (GELU of Hendrycks & Gimpel 2016, exact form, as nanoGPT)."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.fc = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.proj = nn.Linear(hidden, width)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.act(self.fc(x)))


class TransformerBlock(nn.Module):
    """A pre-LayerNorm decoder block: ``h = h + attn(ln_1(h))``, then ``h + mlp(ln_2(h))``; ``(B, T, C)`` in and out."""

    def __init__(self, width: int, heads: int, hidden: int):
        super().__init__()
        self.width = width
        self.ln_1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, hidden)

    def forward(self, h: Tensor) -> Tensor:
        h = h + self.attn(self.ln_1(h))
        return h + self.mlp(self.ln_2(h))
