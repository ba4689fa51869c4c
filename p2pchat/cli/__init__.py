"""The `p2pchat` command.

Commands that work on the identity (init, id) run in `identity.py`. Commands that need the
network (contacts, group, send, log, peers, status, ...) talk to the running node over its
control socket (`remote.py`); `node`, `chat` and `relay` run until stopped (`serve.py`). The
parser is in `parser.py`, and this module turns its result into a call and an exit status.
Heavy imports (asyncio, zeroconf, prompt_toolkit) happen inside the commands that need them, so
`--help`, `--version`, `id` and `safety` start fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from p2pchat.cli.output import UserError, print_json
from p2pchat.cli.parser import build_parser
from p2pchat.home import resolve_home
from p2pchat.tui.sanitize import clean

__all__ = ["main"]


def _error_code(exc: Exception) -> str:
    from p2pchat.storage.keystore import KeystoreError, PassphraseNeeded, WrongPassphrase

    if isinstance(exc, WrongPassphrase):
        return "wrong_passphrase"
    if isinstance(exc, PassphraseNeeded):
        return "passphrase_needed"
    if isinstance(exc, KeystoreError):
        return "identity"
    return "failed"


def _for_the_user(exc: Exception) -> bool:
    """An error the user can act on, told in one line (anything else is a bug: a traceback).
    The keystore's errors can only come from a command that loaded the keystore, so it is
    looked up rather than imported: `p2pchat send` has no use for Argon2id."""
    keystore = sys.modules.get("p2pchat.storage.keystore")
    return isinstance(exc, UserError) or (
        keystore is not None and isinstance(exc, keystore.KeystoreError))


def _reader_gone() -> int:
    """Standard output was closed early (`p2pchat id --qr | head -1`): what was wanted was
    read, so stop quietly; stdout goes to /dev/null so the exit flush raises nothing more."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    args.home = resolve_home(args.home)
    try:
        status = int(args.handler(args))
        sys.stdout.flush()  # a reader that went away is found here, not at exit
        return status
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:
        if not _for_the_user(exc):
            raise
        message = str(exc)
        if message.startswith(f"no identity in {args.home}"):
            message = (f"no identity in {args.home}: create one with"
                       f" 'p2pchat --home {args.home} init'")
        if getattr(args, "json", False):
            # Scripts asked for JSON: the error is JSON too, on stdout, with the exit status.
            print_json({"error": {"code": _error_code(exc), "message": message}})
        print(f"p2pchat: {clean(message)}", file=sys.stderr)  # may quote what a peer chose
        return 1
    except KeyboardInterrupt:
        print("p2pchat: interrupted", file=sys.stderr)
        return 130
