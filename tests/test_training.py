from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from gansteer import GansteerError
from gansteer.methods.training import TrainedMethod


@dataclass
class Toy(TrainedMethod):
    """Fit a linear map to a fixed random target from samples drawn with the loop's rng (and dropout)."""

    steps: int = 20
    batch_size: int = 16
    lr: float = 3e-2

    def build(self, generator):
        return nn.ModuleDict({"net": nn.Sequential(nn.Dropout(0.05), nn.Linear(generator.latent_dim, 4))})

    def training_step(self, generator, rng):
        z = generator.sample_latent(self.batch_size, generator=rng)
        target = z[:, :4] * 2 - z[:, 4:8]
        return {"loss": ((self.modules_["net"](z) - target) ** 2).mean()}


def _weights(m):
    return torch.cat([p.detach().reshape(-1) for p in m.modules_.parameters()])


def test_loss_goes_down_and_same_seed_same_result(tiny):
    a = Toy(steps=60).fit(tiny, progress=False)
    losses = a.history_["loss"]
    assert sum(losses[-10:]) < 0.5 * sum(losses[:10])
    b = Toy(steps=60).fit(tiny, progress=False)
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(Toy(steps=60, seed=1).fit(tiny, progress=False)))


def test_kill_and_resume_is_bit_exact(tiny, tmp_path):
    full = Toy(steps=20).fit(tiny, progress=False)
    ckpt = tmp_path / "run" / "ckpt.pt"
    Toy(steps=20).fit(tiny, steps=10, checkpoint=ckpt, progress=False)  # "killed" after step 10
    resumed = Toy(steps=20).fit(tiny, checkpoint=ckpt, resume=True, progress=False)
    assert torch.equal(_weights(full), _weights(resumed))
    assert resumed.history_["loss"] == full.history_["loss"]
    with pytest.raises(GansteerError, match=r"different parameters \(lr\)"):
        Toy(steps=20, lr=0.5).fit(tiny, checkpoint=ckpt, resume=True, progress=False)


def test_tensorboard_scalars_and_nan_guard(tiny, tmp_path):
    Toy(steps=3).fit(tiny, log_dir=tmp_path / "tb", progress=False)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    with pytest.raises(GansteerError, match="loss became nan at step 0"):
        _NanToy().fit(tiny, progress=False)


@dataclass
class _NanToy(Toy):
    def training_step(self, generator, rng):
        return {"loss": self.modules_["net"](torch.zeros(1, 8)).sum() * float("nan")}


DDP_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from gansteer import load_generator
    from test_training import Toy
    m = Toy(steps=5).fit(load_generator("dcgan-tiny"), progress=False)
    w = torch.cat([p.detach().reshape(-1) for p in m.modules_.parameters()])
""")


@pytest.mark.slow
def test_torchrun_two_processes_stay_in_sync(torchrun):
    losses = torchrun(DDP_SCRIPT.format(tests=str(Path(__file__).parent)))
    assert len(losses) == 2 and losses[0] != losses[1]  # both ranks finished; each drew its own samples
