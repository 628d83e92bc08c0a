import os

import pytest
import torch

# Tests run on the CPU with the offline data; they never download anything.
os.environ.setdefault("FSC_DEVICE", "cpu")
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _fashion_available() -> bool:
    from fsc_teach.data import DEBIAN_FASHION_MNIST, data_root

    return (data_root() / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file() or \
        (DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz").is_file()


needs_data = pytest.mark.skipif(not _fashion_available() and os.environ.get("CI") != "true",
                                reason="Fashion-MNIST not available offline (apt-get install dataset-fashion-mnist)")

