from __future__ import annotations

from click.testing import CliRunner
from PIL import Image

from gansteer import DirectionSet
from gansteer.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_listing_commands():
    r = run("generators")
    assert r.exit_code == 0 and "dcgan-face" in r.output and "dcgan-tiny" in r.output
    r = run("methods")
    assert r.exit_code == 0 and "sefa" in r.output


def test_discover_then_traverse(tmp_path):
    out = tmp_path / "sefa.safetensors"
    r = run("discover", "sefa", "--generator", "dcgan-tiny", "-k", "4", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert DirectionSet.load(out).vectors.shape == (4, 8)
    png = tmp_path / "t.png"
    r = run("traverse", str(out), "--generator", "dcgan-tiny", "--directions", "0-2", "--shifts", "-3:3:5",
            "--seeds", "0-1", "-o", str(png), "--gif")
    assert r.exit_code == 0, r.output
    assert Image.open(png).size[1] == 3 * 2 * 18 + 2
    assert sorted(p.name for p in tmp_path.glob("*.gif")) == ["t_dir0.gif", "t_dir1.gif", "t_dir2.gif"]


def test_bad_options_give_one_line_errors(tmp_path):
    out = tmp_path / "s.safetensors"
    run("discover", "sefa", "--generator", "dcgan-tiny", "-k", "3", "-o", str(out))
    cases = [
        (["traverse", str(out), "-g", "dcgan-tiny", "--directions", "0-5", "-o", str(tmp_path / "x.png")],
         "direction index 3 is out of range; expected 0..2"),
        (["traverse", str(out), "-g", "dcgan-tiny", "--shifts", "a:b", "-o", str(tmp_path / "x.png")],
         "is not a shift list"),
        (["traverse", str(tmp_path / "none.safetensors"), "-g", "dcgan-tiny", "-o", str(tmp_path / "x.png")],
         "does not exist"),
        (["discover", "sefa", "-g", "nonsense", "-o", str(out)], "neither a registered name"),
        (["discover", "sefa", "-g", "dcgan-tiny", "-k", "20", "-o", str(out)], "exceeds the latent dimension 8"),
    ]
    for args, message in cases:
        r = run(*args)
        assert r.exit_code != 0 and message in r.output, (args, r.output)
        assert "Traceback" not in r.output
        assert len([line for line in r.output.splitlines() if line.startswith("Error")]) == 1


def test_demo_writes_pictures(tmp_path):
    r = run("demo", "--generator", "dcgan-tiny", "--out", str(tmp_path), "-k", "2")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "sefa.png").exists() and (tmp_path / "sefa_dir1.gif").exists()


def test_truncation_reaches_the_generator(tmp_path):
    import numpy as np

    out = tmp_path / "s.safetensors"
    assert run("discover", "sefa", "-g", "stylegan2-tiny", "-k", "2", "-o", str(out)).exit_code == 0
    pictures = []
    for extra in ([], ["--truncation", "0.5"]):
        png = tmp_path / f"t{len(extra)}.png"
        r = run("traverse", str(out), "-g", "stylegan2-tiny", "-d", "0", "--seeds", "0", "-o", str(png), *extra)
        assert r.exit_code == 0, r.output
        pictures.append(np.asarray(Image.open(png), dtype=np.int16))
    assert np.abs(pictures[0] - pictures[1]).max() > 10  # psi = 0.5 pulls w halfway to its mean
    r = run("traverse", str(out), "-g", "dcgan-tiny", "-o", str(tmp_path / "x.png"), "--truncation", "0.5")
    assert r.exit_code == 1 and "truncation" in r.output and r.output.count("\n") == 1, r.output
    r = run("traverse", str(out), "-g", "stylegan2-tiny", "-o", str(tmp_path / "x.png"), "--truncation", "1.5")
    assert r.exit_code == 2 and "1.5" in r.output
