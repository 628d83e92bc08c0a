"""Small fixtures shared by several test files."""
import json
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]

#: (function, argument, bad value) for every distinct bad input the property tests tried (tests/test_properties.py);
#: each one raised a ValueError/TypeError naming the argument, or the test failed.
BAD_INPUTS: set[tuple[str, str, str]] = set()
GOOD_RESULTS = [0]  # valid inputs whose results were compared with an oracle


def clear_error(function: str, argument: str, given: str, call) -> None:
    """Assert that ``call()`` raises ValueError or TypeError whose message names ``argument``; record the input."""
    import pytest

    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert argument in str(info.value), f"{function}: the error for {argument}={given} does not name it: {info.value}"
    BAD_INPUTS.add((function, argument, given))


def record_timings(name: str, figures: dict, file: str = "timings-tests.json") -> Path:
    """Merge ``{name: figures}`` into ``build/<file>`` (a JSON report of measured times); returns its path."""
    path = ROOT / "build" / file
    path.parent.mkdir(exist_ok=True)
    report = json.loads(path.read_text()) if path.is_file() else {}
    report[name] = figures
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def randomise_bn_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters (a fresh one is the identity)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.3)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
    return model


def torch_cell(seed: int, n: int = 64) -> dict:
    """A little torch computation that draws only from its own generator (as grid cells must); module-level, so
    that grid workers in other processes can import it (``tests/`` is on their ``sys.path``)."""
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    return {"seed": seed, "value": float((a @ b).relu().sum()), "threads": torch.get_num_threads()}


def dies_once(seed: int, scratch: str, fatal: int = 3) -> dict:
    """``torch_cell(seed)``, except that cell ``fatal`` kills its own process the first time it runs.

    Before dying it copies the grid's cache (``<scratch>/grid.jsonl``) to ``<scratch>/died``: what had finished at
    that moment. Every start is appended to ``<scratch>/starts`` (one line, one write: several processes append).
    """
    import os
    import shutil

    scratch = Path(scratch)
    with open(scratch / "starts", "a") as f:
        f.write(f"{seed}\n")
    if seed == fatal and not (scratch / "died").exists():
        shutil.copyfile(scratch / "grid.jsonl", scratch / "died.tmp")
        os.replace(scratch / "died.tmp", scratch / "died")
        os._exit(1)  # the worker process dies in the middle of the cell
    return torch_cell(seed)


def always_dies(seed: int) -> dict:
    """A cell that kills whichever process runs it (``seed`` 0 finishes, as a control)."""
    import os

    if seed != 0:
        os._exit(1)
    return torch_cell(seed)


def interruptible_benchmark(argv: list[str], free: int) -> int:
    """``python -m fsc_teach.benchmark argv`` in which a test can press Ctrl-C at a known point, without racing it.

    Every cell writes ``cell <n> started`` to stdout; cells after the first ``free`` also write ``cell <n> held``
    and then wait until SIGINT has reached the main thread (the handler below raises KeyboardInterrupt there, as
    Python's default one does, after setting an Event). So a test that reads ``held`` and sends SIGINT interrupts
    the command with ``free`` cells started before the held ones, and knows how many cells started in all.
    """
    import signal
    import sys
    import threading

    from fsc_teach import benchmark, fewshot

    received, lock, count = threading.Event(), threading.Lock(), [0]

    def on_sigint(signum, frame):
        received.set()
        signal.default_int_handler(signum, frame)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")  # one write per line: threads do not interleave within a line
        sys.stdout.flush()

    real = fewshot.run_cell

    def run_cell(*args, **kwargs):
        with lock:
            count[0] += 1
            n = count[0]
            say(f"cell {n} started")
            if n > free:
                say(f"cell {n} held")
        if n > free and not received.wait(timeout=600):  # a safety net against a hang, not the synchronisation
            raise RuntimeError("SIGINT never came")
        return real(*args, **kwargs)

    signal.signal(signal.SIGINT, on_sigint)
    fewshot.run_cell = run_cell
    return benchmark.main(argv)
