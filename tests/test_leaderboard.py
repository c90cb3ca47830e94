from __future__ import annotations

import json

from click.testing import CliRunner

from gansteer.cli import main
from gansteer.metrics import leaderboard


def test_groundtruth_command_writes_the_leaderboard(tmp_path, monkeypatch):
    budgets = {"sefa": dict(k=7), "latentclr": dict(num_directions=7, steps=4, batch_size=2)}  # voynov: no line
    monkeypatch.setattr(leaderboard, "BUDGETS", budgets)
    out = tmp_path / "gt"
    result = CliRunner().invoke(main, ["evaluate", "groundtruth", "-g", "synthetic-tiny", "-m", "sefa,latentclr,voynov",
                                       "--samples", "300", "--steps-scale", "0.5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads((out / "leaderboard.json").read_text())["rows"]}
    assert list(rows) == ["true directions", "random directions", "coordinate axes", "sefa", "latentclr", "voynov"]
    truth, sefa, random = rows["true directions"], rows["sefa"], rows["random directions"]
    assert truth["scores"]["alignment"] == 1.0 and truth["scores"]["saliency_iou"] > 0.9
    assert sefa["scores"]["alignment"] > 0.99 and sefa["params"] == {"k": 7} and sefa["seconds"] >= 0
    assert random["scores"]["alignment"] < 0.7 and random["scores"]["factorvae"] < truth["scores"]["factorvae"]
    assert sefa["per_factor"] == {name: sefa["per_factor"][name] for name in ("x", "y", "scale", "rotation", "hue",
                                                                             "shape", "background")}
    assert min(sefa["per_factor"].values()) > 0.99 and sefa["background_direction"] is not None
    assert rows["latentclr"]["params"] == {"num_directions": 7, "steps": 2, "batch_size": 2, "seed": 0}
    assert 0 < rows["latentclr"]["scores"]["alignment"] < 1
    assert "no ground-truth budget" in rows["voynov"]["note"] and not rows["voynov"]["scores"]
    table = (out / "leaderboard.md").read_text()
    assert "| `sefa` | 1.000 |" in table and "| *coordinate axes* |" in table
    assert "| `sefa` | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |" in table  # per-factor table
    assert (out / "directions" / "sefa.safetensors").is_file()


def test_groundtruth_needs_known_factors(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "groundtruth", "-g", "dcgan-tiny", "-o", str(tmp_path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "Error: generator 'dcgan-tiny' has no known factors" in result.output
    result = CliRunner().invoke(main, ["evaluate", "groundtruth", "-g", "synthetic-tiny", "-m", "nope"])
    assert result.exit_code == 1 and "unknown method 'nope'" in result.output
