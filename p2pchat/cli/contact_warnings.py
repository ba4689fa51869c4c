"""The CLI's warning for a contact request under the name of a contact you verified: listed by
`contacts`, and `contacts accept` refuses it without --anyway (trial 4, B2)."""

from __future__ import annotations

import argparse
import contextlib
import shlex
from typing import Any

from p2pchat.cli.output import fail
from p2pchat.tui.sanitize import clean


def _namesake(request: dict[str, Any], contacts: list[dict[str, Any]]) -> str:
    """The name of the contact whose name `request` asked under ("" if none is listed)."""
    return next((clean(c["name"]) for c in contacts
                 if c.get("fingerprint") == request.get("same_name_as")), "")


def impostor_warning(request: dict[str, Any], contacts: list[dict[str, Any]]) -> str:
    """The chat's `!` warning, in words, for a request under a VERIFIED contact's name (trial
    4, B2: the CLI listed and accepted it without a word)."""
    if request.get("state") != "request" or request.get("same_name_verified") is not True:
        return ""
    namesake = _namesake(request, contacts)
    return (f"WARNING: a NEW KEY under the name of {namesake or 'a contact'}, whom you VERIFIED:"
            f" it may not be them. Compare safety numbers in person (p2pchat safety"
            f" {shlex.quote(clean(request['name']))}) before you accept.")


def lookalike_note(request: dict[str, Any], contacts: list[dict[str, Any]]) -> str:
    """A request that asked under the name of a contact not verified, whatever it calls itself
    now (the node keeps the flag, trial 14c B1): "not your contact carol: another key"."""
    if request.get("state") == "request" and request.get("same_name_yours") is True:
        return (f"note: not you: another key, that asked under your name (p2pchat safety"
                f" {shlex.quote(clean(request['name']))} to check)")
    if request.get("state") != "request" or request.get("same_name_verified") is not False:
        return ""
    namesake = _namesake(request, contacts)
    return (f"note: not your contact {namesake}: another key, that asked under their name"
            f" (p2pchat safety {shlex.quote(clean(request['name']))} to check)"
            if namesake else "")


def check_accept(args: argparse.Namespace, contacts: list[dict[str, Any]]) -> None:
    """`contacts accept` of a request flagged as a new key under a verified name: the node
    refused it (`new_key`) without --anyway, and this says so in the CLI's words (trial 4,
    B2); nothing is said if the request is no longer flagged."""
    if getattr(args, "anyway", False):
        return
    # Here, not at the top: core.identity loads PyNaCl, which `p2pchat --help` and every
    # other command parsed through cli/remote.py would pay for (session 33: 8.6x bare Python).
    from p2pchat.core.identity import FingerprintError, fingerprint, parse_fingerprint

    wanted = {str(args.who).casefold()}
    with contextlib.suppress(FingerprintError):  # a fingerprint however typed (spaces, case)
        wanted.add(fingerprint(parse_fingerprint(str(args.who))).casefold())
    request = next((c for c in contacts if c.get("state") == "request" and wanted & {
        str(c.get("name", "")).casefold(), str(c.get("fingerprint", "")).casefold()}), None)
    warning = impostor_warning(request or {}, contacts)
    if warning:
        fail(f"not accepted. {warning} If they match: p2pchat contacts accept"
             f" {shlex.quote(str(args.who))} --anyway")

