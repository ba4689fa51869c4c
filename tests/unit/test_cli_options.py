"""What `chat` passes on to the node it starts in the background (cli/serve.py). Only parsed:
no address here is ever dialled."""

from __future__ import annotations

import argparse

from p2pchat.cli.parser import _add_node_options, build_parser
from p2pchat.cli.serve import node_arguments

TYPED = ["--listen", "192.0.2.1:7331", "--listen", "[::1]:0", "--no-mdns",
         "--mdns-interface", "192.0.2.7", "--presence", "private",
         "--relay", "192.0.2.2:9000#FINGERPRINT", "--relay", "192.0.2.3:9000",
         "--no-found-relays"]


def node_option_names() -> set[str]:
    """Every option `node` and `chat` share, read from the parser itself."""
    probe = argparse.ArgumentParser()
    _add_node_options(probe)
    return {action.dest for action in probe._actions if action.dest != "help"}


def test_the_background_node_gets_every_node_option_chat_was_given() -> None:
    parser = build_parser()
    chat = parser.parse_args(["chat", *TYPED])
    node = parser.parse_args(["node", *node_arguments(chat)])
    names = node_option_names() - {"passphrase_file"}  # the passphrase goes through stdin
    assert {name: getattr(node, name) for name in names} == \
        {name: getattr(chat, name) for name in names}
    assert node.relay == ["192.0.2.2:9000#FINGERPRINT", "192.0.2.3:9000"]  # was dropped


def test_defaults_pass_on_as_defaults() -> None:
    parser = build_parser()
    chat = parser.parse_args(["chat"])
    node = parser.parse_args(["node", *node_arguments(chat)])
    names = node_option_names() - {"passphrase_file"}
    assert {name: getattr(node, name) for name in names} == \
        {name: getattr(chat, name) for name in names}
