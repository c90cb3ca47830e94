from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from gansteer import DirectionSet, GansteerError


def _set(k=4, d=6):
    g = torch.Generator().manual_seed(0)
    return DirectionSet(
        torch.randn(k, d, generator=g), space="z", method="sefa", params={"k": k, "normalize": True},
        generator="dcgan-tiny", generator_hash="abc", shift_range=torch.tensor([[-2.0, 2.0]] * k),
        tensors={"eigenvalues": torch.arange(k, 0, -1).float()}, labels=["smile"],
    )


def test_roundtrip_is_exact(tmp_path):
    ds = _set()
    ds.annotate(labels={2: "pose"}, ratings={2: 4})
    path = ds.save(tmp_path / "d.safetensors")
    back = DirectionSet.load(path)
    assert torch.equal(back.vectors, ds.vectors) and torch.equal(back.shift_range, ds.shift_range)
    assert torch.equal(back.eigenvalues, ds.eigenvalues)
    assert back.labels == ["smile", "", "pose", ""] and back.ratings == [None, None, 4, None]
    assert (back.method, back.params, back.generator, back.generator_hash, back.space) == (
        "sefa", {"k": 4, "normalize": True}, "dcgan-tiny", "abc", "z")
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file


def test_backup_keeps_previous_version(tmp_path):
    ds = _set()
    path = ds.save(tmp_path / "d.safetensors")
    ds.annotate(labels={0: "age"})
    ds.save(path, backup=True)
    assert DirectionSet.load(path).labels[0] == "age"
    assert DirectionSet.load(tmp_path / "d.safetensors.bak").labels[0] == "smile"


def test_bad_files_are_rejected(tmp_path):
    with pytest.raises(GansteerError, match="does not exist"):
        DirectionSet.load(tmp_path / "missing.safetensors")
    good = _set().save(tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(good[: len(good) // 2])
    with pytest.raises(GansteerError, match=r"trunc.safetensors: not a readable safetensors file"):
        DirectionSet.load(tmp_path / "trunc.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 40)
    with pytest.raises(GansteerError, match=r"junk.safetensors: not a readable safetensors file"):
        DirectionSet.load(tmp_path / "junk.safetensors")
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(GansteerError, match="not a gansteer direction file"):
        DirectionSet.load(tmp_path / "foreign.safetensors")
    header = json.dumps({"format_version": 99})
    save_file({"directions": torch.zeros(1, 2), "shift_range": torch.zeros(1, 2)},
              str(tmp_path / "future.safetensors"), metadata={"gansteer": header})
    with pytest.raises(GansteerError, match="format version 99; this gansteer reads up to 1"):
        DirectionSet.load(tmp_path / "future.safetensors")


def test_shift_validates_index_and_value():
    ds = _set()
    z = torch.zeros(3, 6)
    torch.testing.assert_close(ds.shift(z, 1, 2.0), 2.0 * ds.vectors[1].expand(3, -1))
    per_sample = ds.shift(z, 0, torch.tensor([0.0, 1.0, -1.0]))
    torch.testing.assert_close(per_sample[2], -ds.vectors[0])
    with pytest.raises(GansteerError, match=r"direction index 4 is out of range; expected 0..3"):
        ds.shift(z, 4, 1.0)
    with pytest.raises(GansteerError, match="shift nan is not finite"):
        ds.shift(z, 0, float("nan"))
    with pytest.raises(GansteerError, match="expected an integer 1..5"):
        ds.annotate(ratings={0: 9})


def test_select_keeps_per_direction_metadata():
    sub = _set().select([3, 1])
    assert sub.vectors.shape == (2, 6) and sub.eigenvalues.tolist() == [1.0, 3.0]
