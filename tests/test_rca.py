from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from gansteer import DirectionSet, GansteerError
from gansteer.cli import main
from gansteer.methods.voynov import Voynov
from gansteer.metrics.rca import baseline_directions, rca, rca_table, reconstructor_accuracy
from gansteer.registry import METRICS

FAST = {"reconstructor": "lenet-tiny", "batch_size": 16, "lr": 1e-3}


def test_baselines():
    r = baseline_directions("random", 5, 8, seed=1)
    assert r.shape == (5, 8) and torch.allclose(r @ r.T, torch.eye(5), atol=1e-5)
    assert torch.equal(r, baseline_directions("random", 5, 8, seed=1))
    assert not torch.equal(r, baseline_directions("random", 5, 8, seed=2))
    wide = baseline_directions("random", 12, 8)
    assert torch.allclose(wide.norm(dim=1), torch.ones(12), atol=1e-5)
    assert torch.equal(baseline_directions("identity", 3, 8), torch.eye(3, 8))
    with pytest.raises(GansteerError, match="identity directions need k <= latent dimension; got k=9 > 8"):
        baseline_directions("identity", 9, 8)


def test_fresh_reconstructor_learns_fixed_directions(tiny):
    axes = baseline_directions("identity", 4, 8)
    method = Voynov.fixed(axes, steps=60, **FAST).fit(tiny, progress=False)
    assert torch.equal(method.direction_matrix(), axes)  # A stayed fixed: only R was trained
    accuracy = reconstructor_accuracy(method, tiny, batches=10)
    assert accuracy > 0.5  # chance is 1/4
    untrained = Voynov.fixed(axes, steps=1, **FAST).fit(tiny, progress=False)
    assert reconstructor_accuracy(untrained, tiny, batches=10) < accuracy
    assert rca(tiny, axes, steps=60, eval_batches=10, **FAST) == accuracy  # same seed, same number
    assert METRICS.get("rca") is rca


def test_rca_table_and_cli(tiny, tmp_path):
    learned = DirectionSet(baseline_directions("random", 4, 8, seed=5), method="voynov")
    table = rca_table(tiny, learned, steps=3, eval_batches=2, **FAST)
    assert list(table) == ["learned", "random", "identity"] and all(0 <= v <= 1 for v in table.values())
    path = learned.save(tmp_path / "d.safetensors")
    r = CliRunner().invoke(main, ["evaluate", "rca", str(path), "-g", "dcgan-tiny", "--steps", "2", "--batch-size",
                                  "8", "--reconstructor", "lenet-tiny", "--eval-batches", "1"])
    assert r.exit_code == 0, r.output
    assert "K=4 (chance 25.0%)" in r.output
    rows = [line for line in r.output.splitlines() if line.startswith("| ") and "RCA" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["learned", "random", "identity"]
