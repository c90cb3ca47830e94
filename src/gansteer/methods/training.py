"""The training loop shared by trained methods (Voynov & Babenko, LatentCLR, WarpedGANSpace) and the encoder.

A subclass of `TrainedMethod` says what to build and what one step computes; the loop does the rest:
seeded sampling (`torch.Generator`, one stream per rank), a tqdm progress bar, TensorBoard scalars, atomic
checkpoints every N steps, bit-exact resume (modules, optimisers, both RNG states, history) and gradient averaging
under torchrun.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..errors import GansteerError
from ..generators.base import Generator
from ..generators.fusion import fast_copy
from ..io.checkpoints import atomic_torch_save, torch_load
from .base import Method, check_positive
from .distributed import average_gradients, broadcast_parameters, init_distributed

Callback = Callable[[int, dict[str, float]], None]
RANK_STRIDE = 1_000_003  # seed offset between ranks: distinct, reproducible sample streams


@dataclass
class TrainedMethod(Method):
    """Base for trained methods. Subclasses add their hyper-parameters and implement `build` and `training_step`."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 1e-4
    seed: int = 0

    # ------------------------------------------------------------ subclass API
    def build(self, generator: Generator) -> nn.ModuleDict:
        """Create the trainable modules (called with the global RNG seeded by `seed`)."""
        raise NotImplementedError

    def make_optimizers(self, modules: nn.ModuleDict) -> list[torch.optim.Optimizer]:
        """Default: one Adam over everything trainable."""
        params = [p for p in modules.parameters() if p.requires_grad]
        return [torch.optim.Adam(params, lr=self.lr)] if params else []

    def training_step(self, generator: Generator, rng: torch.Generator) -> dict[str, Tensor]:
        """One step's losses; must contain "loss" (back-propagated). Draw every random number from `rng`.

        `generator` is `training_generator(G)`: for methods with ``fast=True``, a private fast copy of G."""
        raise NotImplementedError

    def training_generator(self, generator: Generator) -> Generator:
        """What the steps run: G itself, or (methods with `fast` / `precision` fields) a private copy of G -- with
        `fast`, BatchNorm folded into the convolutions and channels-last weights (the same function up to rounding);
        with precision="bfloat16", run in bfloat16 behind float32 inputs and outputs (generators.fusion)."""
        fast, precision = getattr(self, "fast", False), getattr(self, "precision", "float32")
        if not fast and precision == "float32":
            return generator
        space, cond = getattr(self, "space", "z"), 0 if generator.num_classes else None
        probe = generator.sample_latent(2, generator=torch.Generator().manual_seed(0), space=space, cond=cond)
        return fast_copy(generator, probe, space=space, cond=cond, fold=fast, precision=precision)

    # ------------------------------------------------------------------- loop
    def fit(
        self,
        generator: Generator,
        *,
        steps: int | None = None,
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 500,
        resume: bool = False,
        log_dir: str | Path | None = None,
        progress: bool = True,
        callbacks: Sequence[Callback] = (),
    ) -> TrainedMethod:
        """Train for `steps` in total (default `self.steps`); with `resume`, continue from `checkpoint` exactly."""
        total = self.steps if steps is None else steps
        check_positive("steps", total)
        check_positive("batch_size", self.batch_size)
        if resume and checkpoint is None:
            raise GansteerError("resume needs a checkpoint path")
        rank, world = init_distributed()
        generator.freeze()
        self.generator_, self.generator_hash_ = generator.name, generator.weight_hash()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.modules_ = self.build(generator).to(generator.device)
        broadcast_parameters([self.modules_])
        self.optimizers_ = self.make_optimizers(self.modules_)
        step_generator = self.training_generator(generator)
        rng = torch.Generator().manual_seed(self.seed + RANK_STRIDE * rank)
        torch_rng = torch.Generator().manual_seed(self.seed + 1 + RANK_STRIDE * rank)
        self.history_: dict[str, list[float]] = {}
        start = 0
        if resume and Path(checkpoint).exists():  # type: ignore[arg-type]
            start = self._restore(Path(checkpoint), rng, torch_rng)  # type: ignore[arg-type]
        writer = _summary_writer(log_dir) if log_dir is not None and rank == 0 else None
        self.modules_.train()
        bar = tqdm(range(start, total), initial=start, total=total, disable=not progress or rank != 0,
                   desc=type(self).__name__, dynamic_ncols=True)
        for step in bar:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(torch_rng.get_state())  # dropout etc. reproducible on resume
                losses = self.training_step(step_generator, rng)
                torch_rng.set_state(torch.get_rng_state())
            for opt in self.optimizers_:
                opt.zero_grad(set_to_none=True)
            loss = losses["loss"]
            if not torch.isfinite(loss):
                raise GansteerError(f"{type(self).__name__}: loss became {loss.item()} at step {step}; lower lr")
            loss.backward()
            average_gradients(self.modules_.parameters())
            for opt in self.optimizers_:
                opt.step()
            self.after_step()
            scalars = {k: float(v.detach()) for k, v in losses.items()}
            for k, v in scalars.items():
                self.history_.setdefault(k, []).append(v)
            if writer is not None:
                for k, v in scalars.items():
                    writer.add_scalar(f"train/{k}", v, step + 1)
            for cb in callbacks:
                cb(step + 1, scalars)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{scalars['loss']:.3f}")
            done = step + 1
            if checkpoint is not None and rank == 0 and (done % checkpoint_every == 0 or done == total):
                self._save(Path(checkpoint), done, rng, torch_rng)
        if writer is not None:
            writer.close()
        self.modules_.eval()
        self.steps_done_ = total
        return self

    def after_step(self) -> None:
        """Hook after each optimiser step (e.g. re-normalise a direction matrix)."""

    # ------------------------------------------------------------ checkpoints
    def _save(self, path: Path, step: int, rng: torch.Generator, torch_rng: torch.Generator) -> None:
        atomic_torch_save({
            "step": step, "method": type(self).__name__, "params": _plain(self.params()),
            "modules": self.modules_.state_dict(), "optimizers": [o.state_dict() for o in self.optimizers_],
            "rng": rng.get_state(), "torch_rng": torch_rng.get_state(), "history": self.history_,
        }, path)

    def _restore(self, path: Path, rng: torch.Generator, torch_rng: torch.Generator) -> int:
        state = torch_load(path)
        if not isinstance(state, dict) or state.get("method") != type(self).__name__:
            raise GansteerError(f"{path}: not a {type(self).__name__} training checkpoint")
        saved = {k: v for k, v in state["params"].items() if k != "steps"}
        current = {k: v for k, v in _plain(self.params()).items() if k != "steps"}
        if saved != current:
            changed = sorted(k for k in current if saved.get(k) != current[k])
            raise GansteerError(f"{path}: checkpoint was made with different parameters ({', '.join(changed)})")
        self.modules_.load_state_dict(state["modules"])
        for opt, sd in zip(self.optimizers_, state["optimizers"], strict=True):
            opt.load_state_dict(sd)
        rng.set_state(state["rng"])
        torch_rng.set_state(state["torch_rng"])
        self.history_ = {k: list(v) for k, v in state["history"].items()}
        return int(state["step"])


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON-like plain data (what weights_only checkpoints can hold)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _summary_writer(log_dir: str | Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter  # imported lazily: tensorboard is slow to import

    return SummaryWriter(str(log_dir))
