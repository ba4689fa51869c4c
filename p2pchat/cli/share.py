"""`p2pchat share-app`: let people nearby install p2pchat from this machine (p2pchat/share)."""

from __future__ import annotations

import argparse

from p2pchat.cli.output import fail


def add_share_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", metavar="HOST:PORT",
                        help="address to serve on (default [::]:7745: every interface, IPv6 and"
                        " IPv4; port 0 picks a free one)")
    parser.add_argument("--no-mdns", action="store_true",
                        help="don't advertise the share on the local network")
    parser.add_argument("--prepare", action="store_true",
                        help="(online) first fetch the wheels for Windows, macOS and Linux with"
                        " Python 3.11-3.13 into the home, so they are served too; then exit")


def cmd_share_app(args: argparse.Namespace) -> int:
    from p2pchat.home import ensure_home
    from p2pchat.net.addresses import parse_addr
    from p2pchat.share.main import DEFAULT_LISTEN, ShareError, load_catalog

    try:
        listen = parse_addr(args.listen or DEFAULT_LISTEN)
    except ValueError as exc:
        fail(f"--listen: {exc}")
    home = ensure_home(args.home)
    try:
        if args.prepare:
            from p2pchat.share.main import run_prepare

            failed = run_prepare(home)
            print("Now run 'p2pchat share-app' (offline is fine) to serve them.")
            return 1 if failed else 0
        catalog = load_catalog(home)
    except ShareError as exc:
        fail(str(exc))

    import asyncio

    from p2pchat.logsetup import configure_logging
    from p2pchat.share.main import serve_share

    configure_logging(0)
    try:
        asyncio.run(serve_share(catalog, listen, mdns=not args.no_mdns))
    except OSError as exc:
        fail(f"cannot serve on {args.listen or DEFAULT_LISTEN}: {exc.strerror or exc}"
             " (choose another with --listen HOST:PORT)")
    return 0
