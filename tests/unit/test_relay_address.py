"""`--relay HOST:PORT[#FINGERPRINT]`: what a user pastes from `p2pchat relay`."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2pchat.core.identity import Identity
from p2pchat.net.relay_connection import RelayAddress, RelayAddressError, parse_relay
from tests.cli import assert_clean_failure, run


def test_the_pasted_line_round_trips() -> None:
    key = Identity.generate().public_key
    relay = parse_relay(str(RelayAddress(("192.168.1.5", 7000), key)))
    assert relay == RelayAddress(("192.168.1.5", 7000), key)
    assert parse_relay("[fe80::1]:7000") == RelayAddress(("fe80::1", 7000), None)


@pytest.mark.parametrize("text", ["", "host", "1.2.3.4:0", "1.2.3.4:99999", "1.2.3.4:70#",
                                  "1.2.3.4:70#not-a-fingerprint", "#abc"])
def test_bad_relay_addresses_are_refused(text: str) -> None:
    with pytest.raises(RelayAddressError):
        parse_relay(text)


def test_a_bad_relay_option_is_a_clean_error(tmp_path: Path) -> None:
    run(tmp_path, "init", "--name", "a", "--no-passphrase", check=True)
    proc = run(tmp_path, "node", "--no-mdns", "--relay", "127.0.0.1:70#zzz")
    assert_clean_failure(proc)
    assert "--relay" in proc.stderr
