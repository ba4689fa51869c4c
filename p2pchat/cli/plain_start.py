"""What a plain start (`p2pchat node` or `chat`, no options) would use: the home's settings,
else what the last run kept, else the defaults (cli/serve.py's rule), in words for `settings`
and for `status` with no node running (trial 11: both said nothing of where it would listen,
so bob and carol restarted with explicit options)."""

from __future__ import annotations

import argparse
from pathlib import Path

from p2pchat import settings

DEFAULT_LISTEN = "[::]:0"  # every interface, any port: serve.py's default


def plain_start(home: Path) -> str:
    """"A plain start listens on 127.0.0.1:45455 (as last run) and looks for people on
    127.0.0.1 only (as last run); options and 'p2pchat settings' change it." """
    from p2pchat.cli.serve import _with_settings
    from p2pchat.net.addresses import format_addr, parse_addr

    typed = argparse.Namespace(home=home, listen=None, relay=None, no_mdns=False,
                               no_found_relays=False,
                               mdns_interface=None, presence=None)
    merged = _with_settings(typed)
    listen = merged.listen or [DEFAULT_LISTEN]
    try:
        host, port = parse_addr(listen[0])
    except ValueError:  # settings.check keeps only good ones; said as kept, if not
        return f"A plain start listens on {listen[0]}."
    port = port or settings.last_run(home).port
    shown, wide = format_addr((host, 0)).rsplit(":", 1)[0], host in ("::", "0.0.0.0")
    where = (f"{shown}:{port}" + (" (every interface)" if wide else "")) if port else \
        f"a free port on {'every interface' if wide else shown}"
    more = f" and {len(listen) - 1} more" if len(listen) > 1 else ""
    looks = "does not look for people nearby" if merged.no_mdns else \
        f"looks for people on {', '.join(merged.mdns_interface)} only" \
        if merged.mdns_interface else "looks for people on every network"
    return (f"A plain start listens on {where}{more}{settings.said_from(merged.listen_from)}"
            f" and {looks}{settings.said_from(merged.mdns_from)}{_relays(merged.relay)};"
            " options and 'p2pchat settings' change it.")


def _relays(kept: object) -> str:
    """The kept relays a plain start attaches to (trial 13, B10: `status` with no node said
    where it listens and looks, not that dan's start would go through his relay), in the
    farewell's words ("relay 127.0.0.1:17931"): where it is, its key is in `settings`."""
    if not isinstance(kept, list) or not kept:
        return ""
    shown = ", ".join(str(r).split("#")[0] for r in kept)
    return f", and attaches to relay {shown} (from 'p2pchat settings')"
