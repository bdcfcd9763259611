"""Network families for the Deep Image Prior and their registry."""

from autodip.nets.registry import count_parameters, create_net, list_nets, register_net

__all__ = ["count_parameters", "create_net", "list_nets", "register_net"]
