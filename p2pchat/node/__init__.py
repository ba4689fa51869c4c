"""The node: one user's running chat, as a façade (`Node`) over a few parts with one job each.

See docs/architecture.md for what each module owns.
"""

from p2pchat.node.config import CommandError, NodeConfig
from p2pchat.node.node import Node

__all__ = ["CommandError", "Node", "NodeConfig"]
