"""fsc-teach: knowledge distillation and few-shot network compression, taught from the papers.

Modules, one idea each: ``data`` (datasets, few-shot sampling), ``models`` (stem -> blocks -> head networks,
params/FLOPs), ``train`` (fit/evaluate), ``checkpoint`` (atomic saves, safe loads), ``zoo`` (the committed
teachers), ``losses`` (distillation losses), ``kd`` (Hinton KD and function matching training), ``iterative``
(iterative KD), ``prune`` (magnitude and L1-filter pruning), ``quantize`` (k-bit weights), ``fitnets`` (hints),
``fskd`` (few-sample KD and the merge theorem), ``cross`` (cross distillation), ``plots`` (figures, tables,
widgets), ``check`` (exercise self-checks), ``scale`` (the FSC_SCALE switch), ``validate`` (argument checks:
a wrong argument raises a ValueError or TypeError that names it).
"""
__version__ = "0.1.0"
