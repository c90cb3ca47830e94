from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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


@pytest.fixture
def torchrun(tmp_path) -> Callable[[str], list[str]]:
    """Run a script's source under `torchrun --standalone --nproc_per_node 2`; returns each rank's `ok=...;` value."""

    def run(source: str) -> list[str]:
        script = tmp_path / "ddp.py"
        script.write_text(source)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), "OMP_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                              str(script)], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return re.findall(r"ok=([^;]+);", out.stdout)

    return run
