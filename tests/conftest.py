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


DDP_HEAD = """\
import torch
torch.set_num_threads(1)
import torch.distributed as dist
from gansteer.methods.distributed import finish_distributed
"""
DDP_TAIL = """
gathered = [torch.zeros_like(w) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, w)
assert all(torch.equal(gathered[0], g) for g in gathered), "ranks diverged"
assert torch.isfinite(torch.tensor(m.history_["loss"])).all()
print(f"ok={m.history_['loss'][-1]};", flush=True)
finish_distributed()  # or the process may abort in its teardown
"""


@pytest.fixture
def torchrun(tmp_path) -> Callable[[str], list[str]]:
    """Run a training script under `torchrun --standalone --nproc_per_node 2`. The script fits a method `m` and sets
    `w`, its trained weights as one flat tensor; every rank must end with the same `w` and a finite loss. Returns
    each rank's last loss."""

    def run(body: str) -> list[str]:
        script = tmp_path / "ddp.py"
        script.write_text(DDP_HEAD + body + DDP_TAIL)
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), "OMP_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                              str(script)], capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return re.findall(r"ok=([^;]+);", out.stdout)

    return run
