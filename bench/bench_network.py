"""What a network passphrase costs: deriving the key (Argon2id, the documented costs), and the
handshakes of a node in networks, whose responder tries each network's PSK on the first message.

    .venv/bin/python bench/bench_network.py [--quick]

Prints one JSON object; times are seconds per operation (median of repeats, CPU and wall). The
baseline of every handshake is the plain Session handshake measured in the same run.
"""

from __future__ import annotations

import argparse
from typing import Any

from _common import emit, environment, per_op, ratio, versions

from p2pchat.core import network as net
from p2pchat.core.identity import Identity
from p2pchat.core.session import Session

MAX_PSKS = net.MAX_NETWORKS


def psks(count: int) -> tuple[bytes, ...]:
    return tuple(net.handshake_psk(bytes([i]) * 32) for i in range(count))


def handshake(n: int, alice: Identity, bob: Identity, *, ik: bool,
              initiator_psk: tuple[bytes, ...], responder_psks: tuple[bytes, ...]) -> None:
    """Two Sessions to Established (or to the refusal, for an outsider)."""
    for _ in range(n):
        a = Session(identity=alice, initiator=True, now=0.0, psks=initiator_psk,
                    remote_key=bob.public_key if ik else None, ik_timestamp=1)
        b = Session(identity=bob, initiator=False, now=0.0, psks=responder_psks,
                    allow_plain=not responder_psks)
        for _ in range(4):  # bounded: XX is three messages, IK two and a key confirmation
            out = a.data_to_send()
            if out:
                b.receive_data(out, 0.0)
            back = b.data_to_send()
            if back:
                a.receive_data(back, 0.0)
            if not out and not back:
                break


def derive(n: int) -> None:
    for i in range(n):
        net.derive_key("class", f"blue-otter-{i}".encode())


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


def run(quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 5
    n = 20 if quick else 100
    alice, bob = Identity.generate(), Identity.generate()
    all_psks = psks(MAX_PSKS)
    last = (all_psks[-1],)  # the worst case: the responder tries every other PSK first
    outsider = (net.handshake_psk(b"\xff" * 32),)
    kdf = per_op(derive, 1, repeats)
    cases = {
        "plain_xx": per_op(lambda k: handshake(k, alice, bob, ik=False, initiator_psk=(),
                                               responder_psks=()), n, repeats),
        "plain_ik": per_op(lambda k: handshake(k, alice, bob, ik=True, initiator_psk=(),
                                               responder_psks=()), n, repeats),
        "xxpsk0_1_network": per_op(lambda k: handshake(
            k, alice, bob, ik=False, initiator_psk=last, responder_psks=last), n, repeats),
        "xxpsk0_8_networks_last": per_op(lambda k: handshake(
            k, alice, bob, ik=False, initiator_psk=last, responder_psks=all_psks), n, repeats),
        "ikpsk0_8_networks_last": per_op(lambda k: handshake(
            k, alice, bob, ik=True, initiator_psk=last, responder_psks=all_psks), n, repeats),
        "outsider_xx_refused_8_networks": per_op(lambda k: handshake(
            k, alice, bob, ik=False, initiator_psk=outsider, responder_psks=all_psks),
            n, repeats),
        "outsider_ik_refused_8_networks": per_op(lambda k: handshake(
            k, alice, bob, ik=True, initiator_psk=outsider, responder_psks=all_psks),
            n, repeats),
    }
    plain_xx = cases["plain_xx"]["cpu_median_s"]
    plain_ik = cases["plain_ik"]["cpu_median_s"]
    return {
        "benchmark": "network",
        "environment": {**environment(), **versions()},
        "units": "milliseconds per operation (CPU median unless *_wall_)",
        "derive_key": {
            "what": f"Argon2id t={net.OPSLIMIT} m={net.MEMLIMIT >> 20} MiB p=1, 32 bytes"
                    " (one guess of an offline attacker costs the same)",
            "cpu_ms": _ms(kdf["cpu_median_s"]), "wall_ms": _ms(kdf["wall_median_s"]),
            "timing": kdf,
        },
        "handshakes": {
            name: {
                "cpu_ms": _ms(t["cpu_median_s"]), "wall_ms": _ms(t["wall_median_s"]),
                "ratio_to_plain": ratio(t["cpu_median_s"],
                                        plain_ik if "ik" in name else plain_xx),
                "timing": t,
            } for name, t in cases.items()
        },
        "note": "both sides of the handshake in one process; an outsider's handshake includes"
                " its own side's work and ends at the responder's refusal",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    emit(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
