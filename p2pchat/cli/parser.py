"""The `p2pchat` argument parser: every command, option and help text, and which function
runs each command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from p2pchat.cli.files import add_file_arguments, add_file_node_options, cmd_file
from p2pchat.cli.identity import PASSPHRASE_ENV, cmd_id, cmd_init
from p2pchat.cli.remote import (
    cmd_contacts,
    cmd_group,
    cmd_log,
    cmd_network,
    cmd_nick,
    cmd_peers,
    cmd_safety,
    cmd_send,
    cmd_status,
)
from p2pchat.cli.search import cmd_search
from p2pchat.cli.serve import cmd_chat, cmd_node, cmd_relay
from p2pchat.home import HOME_ENV
from p2pchat.version import version_action


def _add_passphrase_file(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase-file", metavar="FILE",
        help=f"read the passphrase from the first line of FILE (else ${PASSPHRASE_ENV}, else ask)",
    )


def _add_node_options(parser: argparse.ArgumentParser) -> None:
    """How a node runs: shared by `node` and by `chat`, which runs one when none is running."""
    parser.add_argument("--listen", action="append", metavar="HOST:PORT",
                        help="address to accept links on; repeatable; port 0 picks a fresh"
                        " one (default: the home's setting, else last run's host and port, else"
                        " every interface on a free port)")
    parser.add_argument("--no-mdns", action="store_true",
                        help="don't advertise or look for nodes on the local network (default:"
                        " the home's setting, else as last run)")
    parser.add_argument("--mdns-interface", action="append", metavar="ADDR",
                        help="announce and browse only on the interface with this address"
                        " (repeatable; default: the home's setting, else as last run, else every"
                        " non-loopback interface)")
    parser.add_argument("--presence", choices=("public", "private"),
                        help="public: announce your name and fingerprint; private: only people"
                        " who know your key can recognise and reach you (default: the home's"
                        " setting, else public)")
    parser.add_argument("--relay", action="append", metavar="HOST:PORT[#FINGERPRINT]",
                        help="a relay to attach to, for contacts you cannot reach directly"
                        " (repeatable; the line 'p2pchat relay' prints; with a fingerprint"
                        " the relay must prove that key). Relays found by mDNS are used too")
    parser.add_argument("--no-found-relays", action="store_true",
                        help="don't use relays other people advertise on the local network,"
                        " only those given with --relay (default: the home's setting, else use"
                        " them)")
    add_file_node_options(parser)
    _add_passphrase_file(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2pchat",
        description="Serverless, end-to-end encrypted chat for a local network.",
        epilog=f"The home holds your identity and messages; default: ${HOME_ENV} or the"
        " platform's user data directory.",
    )
    parser.add_argument("--version", action=version_action())
    parser.add_argument("--home", metavar="DIR", help="data directory of this node")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], help: str,
                **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, **kwargs)
        # --home is accepted after the command too; SUPPRESS keeps it from hiding the global one.
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")
        sub.set_defaults(handler=handler)
        return sub

    init = command("init", cmd_init, "create your identity in the home")
    init.add_argument("--name", help="your display name (default: your login name)")
    init.add_argument("--no-passphrase", action="store_true",
                      help="store the key unprotected (for relays and tests)")
    _add_passphrase_file(init)

    ident = command("id", cmd_id, "show your name and fingerprint")
    ident.add_argument("--json", action="store_true", help="print a JSON object")
    ident.add_argument("--qr", action="store_true", help="draw the fingerprint as a QR code")
    _add_passphrase_file(ident)

    nick = command("nick", cmd_nick, "change your own name (what your contacts see)")
    nick.add_argument("name", help="your new name")
    nick.add_argument("--json", action="store_true", help="print a JSON object")

    safety = command("safety", cmd_safety,
                     "show the safety number you share with someone, to compare in person")
    safety.add_argument("who", nargs="+", metavar="FINGERPRINT|NAME",
                        help="their fingerprint (spaces allowed) or a contact's name")
    safety.add_argument("--json", action="store_true", help="print a JSON object")
    _add_passphrase_file(safety)

    node = command("node", cmd_node, "run your node in the foreground (Ctrl-C stops it)")
    _add_node_options(node)
    node.add_argument("-v", "--verbose", action="count", default=0, help="log more")
    node.add_argument("-q", "--quiet", action="count", default=0, help="log only warnings")

    chat = command("chat", cmd_chat, "open the chat screen (runs your node too if none is"
                   " running for this home)")
    _add_node_options(chat)

    from p2pchat.cli.stop import STOP_WAIT, cmd_stop

    stop = command("stop", cmd_stop, "stop the node running in the background (the one"
                   " 'p2pchat chat' left running, or 'p2pchat node')")
    stop.add_argument("--timeout", type=float, default=STOP_WAIT, metavar="SECONDS",
                      help=f"how long to wait for it to exit (default {STOP_WAIT:.0f})")
    status = command("status", cmd_status, "show the running node: fingerprint, ports, links")
    status.add_argument("--json", action="store_true", help="print a JSON object")

    contacts = command("contacts", cmd_contacts, "add, list, accept, block or remove contacts"
                       " (no ACTION: list)")
    # No ACTION lists, as `git remote` does; with --json too (trial 3, B5).
    contacts.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                          help="no ACTION: the list as JSON")
    actions = contacts.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help, description=help)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")
        return sub

    action("list", "list contacts and requests")
    add = action("add", "add a contact by fingerprint")
    add.add_argument("fingerprint", nargs="+", metavar="FINGERPRINT",
                     help="their fingerprint (from 'p2pchat id'; spaces allowed)")
    add.add_argument("--name", required=True, help="what you call them")
    add.add_argument("--addr", action="append", metavar="HOST:PORT",
                     help="where to reach them, if mDNS can't find them (repeatable)")
    addr = action("addr", "set where to reach a contact, if mDNS can't find them (none: let"
                  " discovery find them)")
    addr.add_argument("who", help="their name or fingerprint")
    addr.add_argument("addr", nargs="*", metavar="HOST:PORT",
                      help="their addresses, replacing the ones you typed before")
    accept = action("accept", "accept someone who asked to connect")
    accept.add_argument("who", help="their name or fingerprint")
    accept.add_argument("--name", help="rename them as you accept")
    accept.add_argument("--anyway", action="store_true",
                        help="accept a NEW KEY asking under the name of a contact you verified"
                        " (refused without it: compare safety numbers first)")
    block = action("block", "refuse all links and requests from someone")
    block.add_argument("who", help="their name or fingerprint (a fingerprint blocks a key"
                       " you hold nothing of, such as a removed contact's)")
    remove = action("remove", "forget a contact (your history is kept; they may ask again:"
                    " block refuses them for good)")
    remove.add_argument("who", help="their name or fingerprint")
    unblock = action("unblock", "let a blocked contact reach you again")
    unblock.add_argument("who", help="their name or fingerprint")
    verify = action("verify", "mark a contact verified: you compared safety numbers in person"
                    " ('p2pchat safety NAME') and they matched")
    verify.add_argument("who", help="their name or fingerprint")
    verify.add_argument("--undo", action="store_true", help="not verified any more")
    rename = action("rename", "call a contact (or a request) something else")
    rename.add_argument("who", help="their name or fingerprint")
    rename.add_argument("new_name", metavar="NEW_NAME", help="the new name")

    group = command("group", cmd_group, "create groups, invite, remove, leave, list members"
                    " (no ACTION: list)")
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                       help="no ACTION: the list as JSON")
    group_actions = group.add_subparsers(dest="action", metavar="ACTION")

    def group_action(name: str, help: str, *positional: tuple[str, str]
                     ) -> argparse.ArgumentParser:
        sub = group_actions.add_parser(name, help=help, description=help)
        for arg, arg_help in positional:
            sub.add_argument(arg, help=arg_help)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                         help="data directory of this node")
        return sub

    which = ("group", "the group's name or id")
    create = group_action("create", "start a group you own, inviting the contacts named after"
                          " it (each must be a contact, else nothing is created)",
                          ("name", "what to call the group (quote a name with spaces)"))
    create.add_argument("contacts", nargs="*", metavar="CONTACT",
                        help="contacts to invite: their names or fingerprints"
                             " (with commas, commas separate them: bob, Carol S)")
    group_action("invite", "add a contact to a group you own or are an admin of", which,
                 ("contact", "their name or fingerprint"))
    group_action("remove", "remove a member (owner or admin; they get no new key)", which,
                 ("member", "their name or fingerprint"))
    group_action("admin", "make a member an admin, who may invite and remove (owner only)",
                 which, ("member", "their name or fingerprint"))
    group_action("unadmin", "make an admin an ordinary member again (owner only)", which,
                 ("member", "their name or fingerprint"))
    group_action("transfer", "hand the group to another member, who becomes its owner"
                 " (owner only)", which, ("member", "their name or fingerprint"))
    group_action("leave", "leave a group (its history stays with you)", which)
    group_action("list", "list your groups")
    group_action("members", "list a group's members and who is online", which)
    group_action("accept", "join a group you were invited to (see 'group list')", which)
    group_action("decline", "say no to an invitation to a group", which)
    forget = group_action("forget", "remove a group you have left, and all its history"
                          " (asks first)", which)
    forget.add_argument("--yes", action="store_true", help="do not ask (for scripts)")

    send = command("send", cmd_send, "send a message; prints its id once it is safely queued")
    send.add_argument("to", help="a contact's or a group's name (or fingerprint, group id)")
    send.add_argument("text", nargs="?",
                      help="the message; - reads one message, line breaks and all, from"
                           " standard input")
    send.add_argument("--lines", action="store_true",
                      help="send each non-blank line of standard input as a message, in order"
                           " (many lines share one commit); prints one id per line")
    send.add_argument("--split", action="store_true",
                      help="a message over the 16 KiB limit goes as several, split at line"
                           " ends (or words), in order; prints one id per part")
    send.add_argument("--json", action="store_true", help="print a JSON object")

    log_cmd = command("log", cmd_log, "show the conversation with a contact or a group, oldest"
                      " first")
    log_cmd.add_argument("who", help="a contact's or a group's name (or fingerprint, group id)")
    log_cmd.add_argument("--limit", type=int, metavar="N", help="only the last N messages")
    log_cmd.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_passphrase_file(log_cmd)

    search = command("search", cmd_search, "find messages that contain TEXT: in every"
                     " conversation, or with WHO only")
    search.add_argument("terms", nargs="+", metavar="[WHO] TEXT",
                        help="TEXT alone: every conversation; WHO TEXT: a contact's or a group's"
                        " (name, fingerprint or group id); quote a TEXT with spaces; case does"
                        " not matter")
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    _add_passphrase_file(search)

    peers = command("peers", cmd_peers, "show live links, nearby nodes and contact requests")
    peers.add_argument("--json", action="store_true", help="print a JSON object")

    files = command("file", cmd_file, "send files to a contact or a group; list, accept,"
                    " decline or cancel transfers")
    add_file_arguments(files)

    from p2pchat.network_command import add_network_arguments

    network = command("network", cmd_network, "join, leave or list networks: a passphrase"
                      " that decides who can see and reach you (docs/privacy.md)")
    add_network_arguments(network, lambda sub: sub.add_argument(
        "--home", metavar="DIR", default=argparse.SUPPRESS, help="data directory of this node"))

    from p2pchat.cli.settings_command import add_settings_arguments, cmd_settings

    kept = command("settings", cmd_settings, "show or change what the home keeps about how your"
                   " node runs (relay, listen, mdns...); typed options still win")
    add_settings_arguments(kept)

    from p2pchat.relay.command import add_relay_arguments

    relay = command("relay", cmd_relay, "run a relay on a spare machine: it joins nodes that"
                    " cannot reach each other and forwards only ciphertext (docs/relay.md)")
    add_relay_arguments(relay)

    from p2pchat.cli.share import add_share_arguments, cmd_share_app

    share = command("share-app", cmd_share_app, "let people nearby install p2pchat from this"
                    " machine, with no internet: serves a page and the wheels over HTTP"
                    " (docs/share-app.md)")
    add_share_arguments(share)

    return parser
