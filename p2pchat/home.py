"""Where a node keeps its files: `--home DIR`, else $P2PCHAT_HOME, else the platform's data dir."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "P2PCHAT_HOME"
SOCKET_NAME = "control.sock"


def resolve_home(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit).expanduser().absolute()
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Path(from_env).expanduser().absolute()
    import platformdirs  # only here: most commands are given a home and skip this import

    return Path(platformdirs.user_data_dir("p2pchat", appauthor=False))


def ensure_home(home: Path) -> Path:
    """Create the home private to this user; an existing one is tightened to 0700."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if home.stat().st_mode & 0o077:
        home.chmod(0o700)
    return home


def socket_path(home: Path) -> Path:
    """The running node's control socket (here, not in p2pchat.control, so that a client of it
    does not import the whole node: `p2pchat send` starts in half the time)."""
    return home / SOCKET_NAME


def stop_command(home: Path) -> str:
    """The command that stops the node of `home`, as the chat's notes print it."""
    import shlex

    try:
        default = resolve_home(None)
    except Exception:  # no platform data dir: name the home
        default = None
    return "p2pchat stop" if default == home else f"p2pchat --home {shlex.quote(str(home))} stop"
