import pytest
import torch

from autodip.core.geometry import check_min_size, pad_to_multiple, padding_for


@pytest.mark.parametrize("size", [(37, 31), (32, 32), (1, 1), (5, 3), (64, 17), (33, 65)])
@pytest.mark.parametrize("multiple", [1, 4, 32])
def test_pad_then_crop_is_exact(size, multiple):
    x = torch.rand(1, 3, *size)
    padded, pad = pad_to_multiple(x, multiple)
    assert padded.shape[-2] % multiple == 0 and padded.shape[-1] % multiple == 0
    assert padded.shape[-2] - size[0] < multiple and padded.shape[-1] - size[1] < multiple
    assert torch.equal(pad.crop(padded), x)


def test_padding_is_reflection_where_possible():
    x = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 6, 6).contiguous()
    padded, pad = pad_to_multiple(x, 8)
    assert (pad.left, pad.right) == (1, 1)
    assert padded[0, 0, 0, 0] == x[0, 0, 0, 1]  # reflected, not replicated
    assert padded[0, 0, 0, -1] == x[0, 0, 0, -2]


def test_padding_falls_back_to_replication_on_tiny_sides():
    x = torch.rand(1, 1, 3, 3)
    padded, pad = pad_to_multiple(x, 32)
    assert padded.shape[-2:] == (32, 32)
    assert torch.equal(padded[..., 0, 0], x[..., 0, 0])  # corner replicated
    assert torch.equal(pad.crop(padded), x)


def test_padding_is_centred():
    pad = padding_for(37, 31, 8)
    assert (pad.top, pad.bottom, pad.left, pad.right) == (1, 2, 0, 1)


def test_no_padding_returns_input():
    x = torch.rand(1, 1, 16, 16)
    padded, _ = pad_to_multiple(x, 16)
    assert padded is x


def test_min_size_message_names_the_minimum():
    with pytest.raises(ValueError, match=r"at least 32×32"):
        check_min_size(20, 40, 32, "dip-skip")
    check_min_size(32, 32, 32)
