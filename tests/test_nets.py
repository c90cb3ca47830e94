from __future__ import annotations

import pytest
import torch

from gansteer import GansteerError
from gansteer.nets import create_reconstructor


@pytest.mark.parametrize("name", ["lenet", "lenet-tiny", "resnet18", "resnet-tiny"])
def test_reconstructor_shapes(name):
    torch.manual_seed(0)
    r = create_reconstructor(name, channels=3, num_directions=7).eval()
    logits, shift = r(torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 7) and shift.shape == (2,)
    assert torch.isfinite(logits).all() and torch.isfinite(shift).all()


def test_resnet18_has_torchvision_size():
    r = create_reconstructor("resnet18", channels=3, num_directions=1)
    backbone = sum(p.numel() for p in r.backbone.parameters())
    # torchvision resnet18 without its fc is 11,176,512 parameters for 3 input channels; 6 channels add 3*64*7*7
    assert backbone == 11_176_512 + 3 * 64 * 7 * 7


def test_unknown_reconstructor():
    with pytest.raises(GansteerError, match="unknown reconstructor 'vgg'; expected one of: lenet, lenet-tiny"):
        create_reconstructor("vgg", channels=3, num_directions=2)


@pytest.mark.parametrize("name", ["lenet", "resnet-tiny"])
def test_fast_reconstructor_is_the_same_function(name):
    torch.manual_seed(0)
    plain = create_reconstructor(name, channels=3, num_directions=5)
    torch.manual_seed(0)
    fast = create_reconstructor(name, channels=3, num_directions=5, fast=True)
    conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert list(fast.state_dict()) == list(plain.state_dict())
    image, shifted = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    grads = []
    for net in (plain, fast):
        x = shifted.clone().requires_grad_(True)
        logits, eps = net(image, x)
        (logits.sum() + eps.sum()).backward()
        grads.append((logits, x.grad, next(net.parameters()).grad))
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
