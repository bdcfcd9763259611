"""Registry of network builders: ``create_net(name, **overrides)``, ``list_nets()``.

Modelled on timm's ``register_model`` / ``create_model``: each builder is a plain function that
takes keyword overrides and returns an ``nn.Module`` exposing ``in_channels``, ``out_channels`` and
``size_multiple``. Overrides whose value is ``None`` are ignored, so unset command-line flags never
clobber a builder's defaults.

This module imports none of the families: :mod:`autodip.nets` imports them after it, so their
``@register_net`` decorators have run before anyone can reach the registry (importing
``autodip.nets.registry`` runs ``autodip/nets/__init__.py`` first).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from difflib import get_close_matches
from typing import Any

from torch import nn

from autodip.errors import UnknownNetOptionError as UnknownNetOptionError

NetBuilder = Callable[..., nn.Module]

_REGISTRY: dict[str, NetBuilder] = {}
_SUMMARIES: dict[str, str] = {}


def register_net(name: str, summary: str) -> Callable[[NetBuilder], NetBuilder]:
    """Decorator: register ``builder`` under ``name`` with a one-line ``summary``."""

    def decorate(builder: NetBuilder) -> NetBuilder:
        if name in _REGISTRY:
            raise ValueError(f"network {name!r} is already registered")
        _REGISTRY[name] = builder
        _SUMMARIES[name] = summary
        return builder

    return decorate


def list_nets() -> dict[str, str]:
    """Registered network names mapped to their one-line summaries, sorted by name."""
    return {name: _SUMMARIES[name] for name in sorted(_REGISTRY)}


def create_net(name: str, **overrides: Any) -> nn.Module:
    """Build the network registered as ``name``; ``None``-valued overrides are dropped.

    Raises
    ------
    KeyError
        If ``name`` is not registered; the message lists close matches and all names.
    UnknownNetOptionError
        A ``TypeError`` naming an override the network does not have.
    """
    if name not in _REGISTRY:
        close = get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown network {name!r}.{hint} Available: {', '.join(sorted(_REGISTRY))}")
    kwargs = {key: value for key, value in overrides.items() if value is not None}
    try:
        net = _REGISTRY[name](**kwargs)
    except TypeError as error:
        unknown = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        if unknown is None or unknown.group(1) not in kwargs:  # a fault of the builder itself
            raise
        raise UnknownNetOptionError(name, unknown.group(1)) from None
    net.registry_name = name  # what messages call it (the class may serve several names)
    return net


def net_label(net: nn.Module) -> str:
    """The name ``net`` was registered under, or its class name if it was built directly."""
    return str(getattr(net, "registry_name", type(net).__name__))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
