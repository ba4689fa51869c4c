"""The old name of `Backlog` (node/backlog.py), kept only because node/group_state.py still
imports it: the group part is being recomposed on another branch (issue 29); once it lands, its
one import becomes `from p2pchat.node.backlog import Backlog` and this module goes."""

from p2pchat.node.backlog import Backlog as Sender

__all__ = ["Sender"]
