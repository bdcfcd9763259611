"""Network families for the Deep Image Prior and their registry."""

from autodip.nets.registry import count_parameters, create_net, list_nets, register_net

# The built-in families register themselves when imported (timm's pattern): after the registry,
# before anyone can call it.
from autodip.nets import families  # noqa: F401  # isort: skip

__all__ = ["count_parameters", "create_net", "list_nets", "register_net"]
