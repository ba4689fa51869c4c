"""The core is pure: importing it must not pull in I/O frameworks."""

import subprocess
import sys

import pytest

FORBIDDEN = ("asyncio", "sqlite3", "zeroconf", "prompt_toolkit", "socket", "selectors")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=30)
    return set(out.stdout.split())


def test_core_imports_no_io_frameworks() -> None:
    code = "import pkgutil, importlib, p2pchat.core as c\n" \
           "[importlib.import_module('p2pchat.core.' + m.name) " \
           "for m in pkgutil.iter_modules(c.__path__)]"
    loaded = _modules_after(code)
    assert "p2pchat.core.identity" in loaded  # the probe really imported the core
    leaked = {m for m in loaded if m.split(".")[0] in FORBIDDEN}
    assert not leaked, f"p2pchat.core pulled in {sorted(leaked)}"


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["id", "--help"],
                                  ["safety", "--help"]])
def test_fast_commands_stay_light(argv: list[str]) -> None:
    code = "import sys\nfrom p2pchat.cli import main\n" \
           f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert "p2pchat.cli" in loaded
    # PyNaCl too: loading it made `p2pchat --help` 8.6x bare Python (session 33).
    heavy = {m for m in loaded
             if m.split(".")[0] in ("asyncio", "zeroconf", "prompt_toolkit", "nacl")}
    assert not heavy, f"{argv} imported {sorted(heavy)}"


def test_commands_to_a_running_node_do_not_load_the_node() -> None:
    """`p2pchat send`, `status` and friends only talk to the control socket: loading the node
    itself (storage, network, groups) as well tripled their start-up time."""
    code = ("import tempfile\nfrom p2pchat.cli import main\n"
            "main(['--home', tempfile.mkdtemp(), 'status'])  # no node: one line, status 1")
    loaded = _modules_after(code)
    assert "p2pchat.control_client" in loaded  # it did try to reach the node
    heavy = {m for m in loaded if m.startswith(("p2pchat.node", "p2pchat.control",
                                                "p2pchat.storage", "nacl.pwhash"))
             and m != "p2pchat.control_client"}
    assert not heavy, f"a command to the node imported {sorted(heavy)}"


def test_the_parser_loads_no_codec_or_relay_state() -> None:
    """Every command builds the whole parser, `relay --help`'s defaults included: loading the
    relay's records and msgpack for them cost each command about 20 ms; its RelayLimits
    dataclass (dataclasses, inspect) about 7 ms more (session 33)."""
    loaded = _modules_after("from p2pchat.cli.parser import build_parser\nbuild_parser()")
    heavy = {m for m in loaded if m in ("msgpack", "p2pchat.core.codec", "p2pchat.core.relay",
                                        "p2pchat.core.relay_messages",
                                        "p2pchat.core.relay_limits", "dataclasses")}
    assert not heavy, f"building the parser imported {sorted(heavy)}"

