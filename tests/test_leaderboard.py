from __future__ import annotations

import json

from click.testing import CliRunner

from gansteer.cli import main
from gansteer.metrics import leaderboard


def test_groundtruth_command_writes_the_leaderboard(tmp_path, monkeypatch):
    monkeypatch.setattr(leaderboard, "BUDGETS", {"sefa": dict(k=7)})  # latentclr: registered, no budget
    out = tmp_path / "gt"
    result = CliRunner().invoke(main, ["evaluate", "groundtruth", "-g", "synthetic-tiny", "-m", "sefa,latentclr",
                                       "--samples", "300", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads((out / "leaderboard.json").read_text())["rows"]}
    assert list(rows) == ["true directions", "random directions", "coordinate axes", "sefa", "latentclr"]
    truth, sefa, random = rows["true directions"], rows["sefa"], rows["random directions"]
    assert truth["scores"]["alignment"] == 1.0 and truth["scores"]["saliency_iou"] > 0.9
    assert sefa["scores"]["alignment"] > 0.99 and sefa["params"] == {"k": 7} and sefa["seconds"] >= 0
    assert random["scores"]["alignment"] < 0.7 and random["scores"]["factorvae"] < truth["scores"]["factorvae"]
    assert "no ground-truth budget" in rows["latentclr"]["note"] and not rows["latentclr"]["scores"]
    table = (out / "leaderboard.md").read_text()
    assert "| `sefa` | 1.000 |" in table and "| *coordinate axes* |" in table
    assert (out / "directions" / "sefa.safetensors").is_file()


def test_groundtruth_needs_known_factors(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", "groundtruth", "-g", "dcgan-tiny", "-o", str(tmp_path)])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "Error: generator 'dcgan-tiny' has no known factors" in result.output
    result = CliRunner().invoke(main, ["evaluate", "groundtruth", "-g", "synthetic-tiny", "-m", "nope"])
    assert result.exit_code == 1 and "unknown method 'nope'" in result.output
