from __future__ import annotations

import pytest
import torch

torch.set_num_threads(1)  # small tensors: one thread is fastest and keeps results reproducible


@pytest.fixture
def tiny():
    from gansteer import load_generator

    return load_generator("dcgan-tiny")


@pytest.fixture(scope="session")
def face():
    from gansteer import load_generator

    return load_generator("dcgan-face")
