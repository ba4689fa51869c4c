"""Which p2pchat this is: the version of the installed distribution, from its metadata.

`p2pchat --version` says what pip installed (what `share-app` serves to others), not what a
source file claims; `p2pchat.__version__` is only the fallback for a source tree that was never
installed.
"""

from __future__ import annotations

DISTRIBUTION = "p2pchat"


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        from p2pchat import __version__

        return f"{__version__} (not installed: running from a source tree)"


def version_action() -> type:
    """An argparse action for `--version` that reads the metadata only when asked: every other
    command builds the same parser and has no use for importlib.metadata."""
    import argparse

    class _Version(argparse.Action):
        def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
            super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                             help="print the installed version and exit")

        def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
            print(f"p2pchat {installed_version()}")  # stdout, as argparse's own does
            parser.exit()

    return _Version
