r"""K networks of one architecture computed as one: grouped convolutions over stacked channels.

Member :math:`k` of a group owns channels :math:`[kC, (k+1)C)` of every feature map. A convolution
:math:`C_{in} \to C_{out}` with ``groups = g`` becomes :math:`KC_{in} \to KC_{out}` with
``groups = Kg`` (the members' weights concatenated along the output axis); a batch norm over
:math:`C` channels becomes one over :math:`KC` (its statistics are per channel, so per member);
element-wise and per-channel layers (activations, padding, pooling, bilinear and FIR up-sampling)
are unchanged. Channel concatenation inside a network is done per member
(:func:`cat_members`), which the hourglass does when its ``members`` attribute is above 1.

One grouped step costs less than K single steps where one network leaves the machine idle (small
images, narrow layers, a GPU); ``benchmarks/batched_members.py`` measures by how much here.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from autodip.nets.upsample import FIRUpsample

#: Layers without parameters that act element-wise or per channel: valid on stacked members.
_PER_CHANNEL = (
    nn.LeakyReLU,
    nn.ReLU,
    nn.ELU,
    nn.Identity,
    nn.Sigmoid,
    nn.ReflectionPad2d,
    nn.ZeroPad2d,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.Upsample,
    FIRUpsample,
)


def cat_members(parts: Sequence[torch.Tensor], members: int) -> torch.Tensor:
    """Concatenate feature maps along channels member by member.

    With ``members = 1`` this is ``torch.cat(parts, dim=1)``; with K members each part holds K
    blocks of channels, and the result holds, for each member, its block of every part in order.
    """
    if members == 1:
        return torch.cat(list(parts), dim=1)
    batch, _, height, width = parts[0].shape
    blocks = [p.reshape(batch, members, p.shape[1] // members, height, width) for p in parts]
    return torch.cat(blocks, dim=2).reshape(batch, -1, height, width)


def group_members(nets: Sequence[nn.Module]) -> nn.Module:
    """One network that computes every network of ``nets`` at once, on stacked channels.

    Parameters
    ----------
    nets
        K networks of one architecture (same class and parameter shapes); their parameters and
        batch-norm statistics are copied, so member ``k`` starts where ``nets[k]`` is.

    Returns
    -------
    nn.Module
        Maps a ``1×(K·in_channels)×H×W`` code to ``1×(K·out_channels)×H×W``; its attributes
        ``members`` (K), ``in_channels`` and ``out_channels`` (per member) say how.

    Raises
    ------
    ValueError
        For networks of different shapes, or a layer that mixes channels in a way this cannot
        stack (anything but convolutions, batch norms and per-channel layers).

    Examples
    --------
    >>> from autodip.nets import create_net
    >>> nets = [create_net("hourglass", width=4) for _ in range(3)]
    >>> group_members(nets)(torch.rand(1, 3 * nets[0].in_channels, 8, 8)).shape
    torch.Size([1, 9, 8, 8])
    """
    first = nets[0]
    shapes = [{k: v.shape for k, v in n.state_dict().items()} for n in nets]
    if any(type(n) is not type(first) or s != shapes[0] for n, s in zip(nets, shapes, strict=True)):
        raise ValueError("members must be networks of one architecture")
    members = len(nets)
    grouped = copy.deepcopy(first)
    for name, module in list(grouped.named_modules()):
        if isinstance(module, nn.Conv2d):
            _replace(grouped, name, _grouped_conv([n.get_submodule(name) for n in nets]))
        elif isinstance(module, nn.BatchNorm2d):
            _replace(grouped, name, _grouped_norm([n.get_submodule(name) for n in nets]))
        elif hasattr(module, "members"):
            module.members = members
        elif not isinstance(module, (*_PER_CHANNEL, nn.Sequential)) and any(
            True for _ in module.parameters(recurse=False)
        ):
            raise ValueError(f"cannot stack members through {type(module).__name__} ({name})")
    grouped.members = members
    return grouped


def _replace(root: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent_name) if parent_name else root, child, module)


def _grouped_conv(convs: Sequence[nn.Conv2d]) -> nn.Conv2d:
    c = convs[0]
    k = len(convs)
    grouped = nn.Conv2d(
        k * c.in_channels,
        k * c.out_channels,
        c.kernel_size,
        c.stride,
        c.padding,
        c.dilation,
        groups=k * c.groups,
        bias=c.bias is not None,
        padding_mode=c.padding_mode,
    )
    with torch.no_grad():
        grouped.weight.copy_(torch.cat([m.weight for m in convs], dim=0))
        if c.bias is not None:
            grouped.bias.copy_(torch.cat([m.bias for m in convs], dim=0))
    return grouped.to(c.weight.device)


def _grouped_norm(norms: Sequence[nn.BatchNorm2d]) -> nn.BatchNorm2d:
    n = norms[0]
    grouped = nn.BatchNorm2d(
        len(norms) * n.num_features, n.eps, n.momentum, n.affine, n.track_running_stats
    )
    with torch.no_grad():
        for attr in ("weight", "bias", "running_mean", "running_var"):
            if getattr(n, attr) is not None:
                getattr(grouped, attr).copy_(torch.cat([getattr(m, attr) for m in norms]))
    return grouped.to(n.weight.device if n.affine else "cpu")
