"""fsc-teach: knowledge distillation and few-shot network compression, taught from the papers.

Modules, one idea each: ``data`` (datasets, few-shot sampling), ``models`` (stem -> blocks -> head networks,
params/FLOPs), ``train`` (fit/evaluate), ``checkpoint`` (atomic saves, safe loads), ``zoo`` (the committed
teachers), ``plots`` (figures and widgets), ``check`` (exercise self-checks), ``scale`` (the FSC_SCALE switch).
"""
__version__ = "0.1.0"
