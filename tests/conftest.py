import os

import pytest
import torch

# Tests run on the CPU with the offline data; they never download anything.
os.environ.setdefault("FSC_DEVICE", "cpu")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

# Hypothesis (tests/test_properties.py): a bounded, derandomised run by default, so CI takes seconds and is
# deterministic; HYPOTHESIS_PROFILE=thorough searches much longer (random seeds, 1000 examples per test).
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a test dependency; without it only test_properties.py is skipped
    settings = None
if settings is not None:
    settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("thorough", max_examples=1000, deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    """After the property tests: how many distinct bad inputs they tried, and that each got a clear error."""
    import sys

    helpers = sys.modules.get("helpers")
    tried = getattr(helpers, "BAD_INPUTS", None)
    if tried:
        functions = len({f for f, _, _ in tried})
        terminalreporter.write_line(f"property tests: {len(tried)} distinct bad inputs to {functions} functions, "
                                    f"each a ValueError/TypeError naming the argument; "
                                    f"{helpers.GOOD_RESULTS[0]} valid inputs checked against their oracles")


def _fashion_available() -> bool:
    from fsc_teach.data import DEBIAN_FASHION_MNIST, data_root

    return (data_root() / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file() or \
        (DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz").is_file()


needs_data = pytest.mark.skipif(not _fashion_available() and os.environ.get("CI") != "true",
                                reason="Fashion-MNIST not available offline (apt-get install dataset-fashion-mnist)")

