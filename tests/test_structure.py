"""The package's structure as contracts: one feature path, no hooks in the methods, sizes a reader can hold.

Every method reads intermediate features through ``models.block_io`` / ``block_input`` / ``run_blocks`` — never
with its own loop over ``model.blocks`` or a forward hook — and cross distillation carries the block inputs forward
(each block runs a bounded number of times, not once per later block).
"""
import ast
import copy
from pathlib import Path

import pytest
import torch

import fsc_teach
from fsc_teach.cross import cross_distill
from fsc_teach.models import VGG

PACKAGE = Path(fsc_teach.__file__).parent
METHOD_MODULES = ["kd.py", "fitnets.py", "fskd.py", "cross.py", "iterative.py", "fewshot.py", "analysis.py",
                  "reconstruct.py", "layerwise.py", "mir.py", "lm.py"]
HOOKS = {"register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook"}


def _mentions_blocks(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "blocks" for n in ast.walk(node))


def _runs_its_blocks(loop: ast.AST, scope: ast.AST) -> bool:
    """A loop over ``….blocks`` whose loop variable is *called* (``h = block(h)``): a hand-written feature loop.

    Reading the blocks' parameters (``for m in model.blocks: m.parameters()``) is not.
    """
    names = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in names
               for n in ast.walk(scope))


@pytest.mark.parametrize("name", METHOD_MODULES)
def test_method_modules_read_features_only_through_models(name):
    tree = ast.parse((PACKAGE / name).read_text())
    problems = []
    for node in ast.walk(tree):
        loops = [(node, node)] if isinstance(node, ast.For) else \
            [(gen, node) for gen in node.generators] if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp,
                                                                        ast.DictComp)) else []
        for loop, scope in loops:
            if _mentions_blocks(loop.iter) and _runs_its_blocks(loop, scope):
                problems.append(f"line {loop.iter.lineno}: a loop that runs .blocks")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "stem":
                problems.append(f"line {node.lineno}: calls .stem() (use models.block_input)")
            if node.func.attr in HOOKS:
                problems.append(f"line {node.lineno}: registers a forward hook")
    assert not problems, f"{name}: " + "; ".join(problems)


def test_only_the_flop_counter_uses_forward_hooks():
    users = [f.relative_to(PACKAGE).as_posix() for f in PACKAGE.rglob("*.py")
             if any(h in f.read_text() for h in HOOKS)]
    assert users == ["models.py"]  # count_flops: reads every conv/linear output size once


def test_cross_distillation_carries_block_inputs_forward():
    """Each teacher block runs at most three times (carrying the input, two crossed targets) whatever its depth;
    recomputing every earlier block for every layer would run block 0 once per later block."""
    torch.manual_seed(0)
    teacher = VGG([4] * 8, pools=[1, 3, 5], in_channels=1, input_size=16).eval()
    student = copy.deepcopy(teacher)  # before the counting hooks (a deep copy would copy them)
    calls = [0] * len(teacher.blocks)
    handles = [b.register_forward_pre_hook(lambda m, i, j=j: calls.__setitem__(j, calls[j] + 1))
               for j, b in enumerate(teacher.blocks)]
    try:
        cross_distill(student, teacher, torch.randn(6, 1, 16, 16), loss="cross", steps=2, progress=False)
    finally:
        for h in handles:
            h.remove()
    assert max(calls) <= 3 and calls[0] == 1, calls


def _sizes():
    modules, functions = [], []
    for f in PACKAGE.rglob("*.py"):
        src = f.read_text()
        modules.append((len(src.splitlines()), f.relative_to(PACKAGE).as_posix()))
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, f"{f.name}:{node.name}"))
    return modules, functions


def test_modules_and_functions_stay_small_enough_to_read():
    """CONTRIBUTING's limits: a module under about 450 lines, a function (docstring included) under about 60."""
    modules, functions = _sizes()
    assert max(modules)[0] <= 460, sorted(modules)[-3:]
    assert max(functions)[0] <= 65, sorted(functions)[-3:]
