"""fsc-teach: knowledge distillation and few-shot network compression, taught from the papers.

Modules, one idea each: ``data`` (datasets, few-shot sampling), ``models`` (stem -> blocks -> head networks, a byte
GPT among them, params/FLOPs, ``block_io``: the one way to read features), ``layers`` (the blocks they chain),
``corpus`` / ``text`` (the fixed text corpus, its bytes and windows), ``lm`` (next-byte loss, training, sampling
and distillation of the GPT), ``train`` (the one training loop ``fit``, evaluation,
``eval_mode``/``freeze``), ``checkpoint`` (atomic saves, safe loads), ``zoo`` (the committed teachers), ``losses``
(every loss: KD, hints, cross distillation's layer-wise losses), ``kd`` (Hinton KD and function matching),
``fitnets`` (hints), ``iterative`` (iterative KD), ``prune`` (scores, masks, prox operators, smaller networks),
``students`` (slimming, decoupling, narrower nets), ``quantize`` (k-bit weights), ``fskd`` (few-sample KD and the
merge theorem), ``cross`` (cross distillation's Algorithm 1), ``analysis`` (its Theorem 1 and inconsistencies),
``fewshot`` / ``grid`` / ``benchmark`` (every method on one footing), ``crossfit`` (choose on one half of
the held-out images, report on the other), ``plots`` (figures, tables, widgets),
``check`` (exercise self-checks), ``scale`` (the FSC_SCALE switch), ``validate`` (argument checks: a wrong
argument raises a ValueError or TypeError that names it).
"""
__version__ = "0.1.0"
