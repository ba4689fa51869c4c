"""Your identity on disk: reading the passphrase, unlocking and creating the identity, and the
commands `init` and `id`, which need no node."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from p2pchat.cli.output import fail, print_json
from p2pchat.home import ensure_home

PASSPHRASE_ENV = "P2PCHAT_PASSPHRASE"


def _read_passphrase(args: argparse.Namespace, *, confirm: bool) -> bytes | None:
    """From --passphrase-file, else $P2PCHAT_PASSPHRASE, else a prompt on a terminal."""
    if getattr(args, "passphrase_file", None):
        try:
            text = Path(args.passphrase_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read the passphrase file {args.passphrase_file}: {exc}")
        lines = text.splitlines()
        passphrase = lines[0] if lines else ""
    elif os.environ.get(PASSPHRASE_ENV):
        passphrase = os.environ[PASSPHRASE_ENV]
    elif sys.stdin.isatty() and confirm:
        return _choose_passphrase()
    elif sys.stdin.isatty():
        passphrase = getpass.getpass("Passphrase of your identity: ")
    else:
        return None
    if confirm and not passphrase:
        fail("an empty passphrase protects nothing: choose one, or use --no-passphrase")
    return passphrase.encode("utf-8")


PASSPHRASE_TRIES = 3
CHOOSE = "Choose a passphrase for your identity: "
CHOOSE_AGAIN = "Choose a passphrase for your identity (or Enter again for none): "
EMPTY = ("Empty: no passphrase would protect your identity on this machine (anyone who can read"
         " its files could use it). Type one, or press Enter again to go without (as"
         " --no-passphrase does).")


def _choose_passphrase() -> bytes | None:
    """A new passphrase typed twice at a terminal; None: the user chose none, by pressing Enter
    at two prompts in a row, told what that means between them. A slip asks both again, never
    the name (trial 13c, B8: an empty one exited, losing the name typed before)."""
    differed = 0
    empty = False  # the last prompt got Enter alone, and EMPTY was said
    while differed < PASSPHRASE_TRIES:
        passphrase = getpass.getpass(CHOOSE_AGAIN if empty else CHOOSE)
        if not passphrase and empty:
            return None
        empty = not passphrase
        if empty:
            print(EMPTY)  # beside the prompts, as the mismatch line is
            continue
        if getpass.getpass("The same passphrase again: ") == passphrase:
            return passphrase.encode("utf-8")
        differed += 1
        print("The two passphrases differ; once more.")
    fail("the two passphrases differed three times; nothing was written")


def load_identity(home: Path, args: argparse.Namespace) -> Any:
    """Unlock the identity in `home`, asking for the passphrase only if the file is sealed."""
    return unlock_identity(home, args)[0]


def unlock_identity(home: Path, args: argparse.Namespace) -> tuple[Any, bytes | None]:
    """The unlocked identity and the passphrase that opened it. A passphrase typed at a
    terminal may be retyped up to three times; one from a file or the environment is not."""
    from p2pchat.storage import keystore

    header = keystore.read_header(home)
    if not header.sealed:
        return keystore.load(home, None), None
    interactive = not getattr(args, "passphrase_file", None) and not os.environ.get(
        PASSPHRASE_ENV) and sys.stdin.isatty()
    for attempt in range(1, PASSPHRASE_TRIES + 1):
        passphrase = _read_passphrase(args, confirm=False)
        if passphrase is None:  # no file, no variable, no terminal to ask at
            option = getattr(args, "passphrase_option", "--passphrase-file")
            raise keystore.PassphraseNeeded(
                "this identity is protected by a passphrase: type it when asked, or set"
                f" {PASSPHRASE_ENV}, or pass {option} FILE")
        try:
            return keystore.load(home, passphrase), passphrase
        except keystore.WrongPassphrase:
            if not interactive or attempt == PASSPHRASE_TRIES:
                raise
            print("Wrong passphrase; try again.", file=sys.stderr)
    raise AssertionError("unreachable")  # the loop returns or raises


# ---------------------------------------------------------------- identity commands


def cmd_init(args: argparse.Namespace) -> int:
    from p2pchat.storage import keystore

    home = ensure_home(args.home)
    if keystore.exists(home):
        fail(f"an identity already exists in {home}; not overwriting it")
    create_identity(home, args)
    return 0


def _ask_name() -> str:
    """On a first run at a terminal: the name contacts will see (not the login name, which is
    often `root` or a machine's account)."""
    from p2pchat.storage import keystore

    for _ in range(PASSPHRASE_TRIES):
        # Not input(): at a terminal it writes its prompt to stderr, which may be a log file.
        sys.stdout.write("Your name, as your contacts will see it: ")
        sys.stdout.flush()
        line = sys.stdin.readline(4096)
        if not line:
            fail("no name given; nothing was written")
        typed = line.strip()
        try:
            return keystore.validate_name(typed)
        except keystore.KeystoreError as exc:
            print(f"p2pchat: {exc}", file=sys.stderr)
    fail("no usable name given; nothing was written")


def create_identity(home: Path, args: argparse.Namespace) -> tuple[Any, bytes | None]:
    """Create the identity in `home` (asking what is missing); returns it, unlocked, and the
    passphrase, so a first `chat` does not ask for it again."""
    from p2pchat.core.identity import Identity
    from p2pchat.storage import keystore

    no_passphrase = getattr(args, "no_passphrase", False)
    if getattr(args, "name", None):
        name = keystore.validate_name(args.name)
    elif sys.stdin.isatty():
        name = _ask_name()
    else:
        name = keystore.validate_name(getpass.getuser())
    asked = sys.stdin.isatty() and not getattr(args, "passphrase_file", None) \
        and not os.environ.get(PASSPHRASE_ENV)  # None from the prompt: the user chose none
    passphrase = None if no_passphrase else _read_passphrase(args, confirm=True)
    if passphrase is None and not no_passphrase and not asked:
        fail(
            "a passphrase is needed to protect your identity: run this in a terminal, set"
            f" {PASSPHRASE_ENV}, pass --passphrase-file FILE, or choose --no-passphrase"
        )
    identity = Identity.generate()
    keystore.create(home, identity, name, passphrase)
    print(f"Created identity for {name} in {home}")
    if passphrase is None:
        print("It is stored without a passphrase: anyone who can read this home can use it.")
    print(f"Your fingerprint: {identity.fingerprint}")
    return keystore.StoredIdentity(identity, name, passphrase is not None), passphrase


def public_identity(home: Path) -> Any:
    """Name and public key: readable without the passphrase (the fingerprint is public)."""
    from p2pchat.storage import keystore

    return keystore.read_header(home)


def _reachable(home: Path) -> list[str] | None:
    """Where the running node can be reached, as the chat's /id says; None: no node runs."""
    from p2pchat.control_client import ControlClient, ControlError
    from p2pchat.tui.reach import local_addresses, reachable

    try:
        with ControlClient(home, timeout=5.0) as client:
            status = client.call("status")
    except (ControlError, OSError):
        return None
    listen = status.get("listen") if isinstance(status, dict) else None
    return reachable([str(a) for a in listen or []], local_addresses())


def cmd_id(args: argparse.Namespace) -> int:
    from p2pchat.core.identity import fingerprint

    header = public_identity(args.home)
    shown = fingerprint(header.public_key)
    addrs = _reachable(args.home)
    if args.json:
        print_json({
            "name": header.name,
            "fingerprint": shown,
            "public_key": header.public_key.hex(),
            "passphrase_protected": header.sealed,
            "home": str(args.home),
            **({"reachable": addrs} if addrs is not None else {}),
        })
        return 0
    print(f"Name:        {header.name}")
    print(f"Fingerprint: {shown}")
    if addrs:
        print(f"Reachable:   {', '.join(addrs[:4])} (for 'contacts add --addr' where discovery"
              " does not find you)")
    if not header.sealed:
        print("Note:        this identity is stored without a passphrase")
    if args.qr:
        import segno

        segno.make(shown, error="m").terminal(compact=True)
    return 0
