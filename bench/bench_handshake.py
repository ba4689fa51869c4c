"""Handshakes per second in the pure core, both sides in one process (the `handshake` object).

    .venv/bin/python bench/bench_handshake.py [--quick]

`xx_per_s`: two `core.session.Session` objects from nothing to Established over Noise XX (all
three messages, msgpack payloads, Ed25519 -> X25519 checks, key split), counted once per pair.
`ik_per_s`: the same over IK (the initiator knows the responder's key; two messages, then the
initiator's first transport frame that confirms the keys to the responder). Baselines in the
same run: the bare Noise XX and IK handshakes (`core.noise.HandshakeState`, empty payloads), and
one X25519 (`crypto_scalarmult`). Rates are per CPU second (process_time; the median of several
repeats of a bounded loop), since on a shared machine wall time also counts other processes'
turns; the wall-time rates are reported next to them. Prints one JSON object; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import nacl.bindings as sodium
from _common import emit, per_op, ratio
from bench_crypto import scalarmult, xx_handshake

from p2pchat.core.identity import Identity
from p2pchat.core.noise import HandshakeState
from p2pchat.core.session import IK_PROTOCOL, XX_PROTOCOL, Session

TARGET_PER_S = 1000.0
IK_PROLOGUE = b"p2pchat/1 " + IK_PROTOCOL.encode()


def session_pair(alice: Identity, bob: Identity, ik: bool, stamp: int) -> None:
    a = Session(identity=alice, initiator=True, now=0.0,
                remote_key=bob.public_key if ik else None, ik_timestamp=stamp)
    b = Session(identity=bob, initiator=False, now=0.0)
    for _ in range(4):  # XX: 3 messages; IK: 2 and the confirming frame
        if data := a.data_to_send():
            b.receive_data(data, 0.0)
        if data := b.data_to_send():
            a.receive_data(data, 0.0)
        if a.established and b.established:
            return
    if not (a.established and b.established):
        raise RuntimeError(f"{'IK' if ik else 'XX'} session handshake did not complete")


def sessions(n: int, alice: Identity, bob: Identity, ik: bool, counter: list[int]) -> None:
    for _ in range(n):
        counter[0] += 1  # IK timestamps must rise
        session_pair(alice, bob, ik, counter[0])


def noise_ik(n: int, s_i: bytes, s_r: bytes, rs: bytes) -> None:
    for _ in range(n):
        i = HandshakeState(IK_PROTOCOL, True, IK_PROLOGUE, s=s_i, rs=rs)
        r = HandshakeState(IK_PROTOCOL, False, IK_PROLOGUE, s=s_r)
        r.read_message(i.write_message(b""))
        i.read_message(r.write_message(b""))
        i.split()
        r.split()


def run(quick: bool) -> dict[str, Any]:
    repeats = 5 if quick else 9
    n = 100 if quick else 400
    alice, bob = Identity.generate(), Identity.generate()
    s_i, s_r = os.urandom(32), os.urandom(32)
    rs = sodium.crypto_scalarmult_base(s_r)
    sk, pk = os.urandom(32), sodium.crypto_scalarmult_base(os.urandom(32))
    counter = [0]
    xx = per_op(lambda k: sessions(k, alice, bob, False, counter), n, repeats)
    ik = per_op(lambda k: sessions(k, alice, bob, True, counter), n, repeats)
    bare_xx = per_op(lambda k: xx_handshake(k, s_i, s_r), n, repeats)
    bare_ik = per_op(lambda k: noise_ik(k, s_i, s_r, rs), n, repeats)
    dh = per_op(lambda k: scalarmult(k, sk, pk), n * 10, repeats)

    def per_s(timing: dict[str, float]) -> float:
        # Per CPU second: on a shared machine wall time also counts other processes' turns.
        return round(1 / timing["cpu_median_s"], 1)

    out: dict[str, Any] = {
        "xx_per_s": per_s(xx),
        "ik_per_s": per_s(ik),
        "baseline_noise_xx_per_s": per_s(bare_xx),
        "baseline_noise_ik_per_s": per_s(bare_ik),
        "baseline_x25519_per_s": per_s(dh),
        "ratio_xx_to_noise_xx": ratio(per_s(xx), per_s(bare_xx)),
        "ratio_ik_to_noise_ik": ratio(per_s(ik), per_s(bare_ik)),
        "xx_per_wall_s": round(1 / xx["wall_median_s"], 1),
        "ik_per_wall_s": round(1 / ik["wall_median_s"], 1),
        "what": "core Session pairs to Established, both sides in one process, per CPU second;"
                f" {XX_PROTOCOL} / {IK_PROTOCOL}",
        "repeats": repeats,
        "handshakes_per_repeat": n,
    }
    out["targets"] = {"xx_per_s >= 1000": out["xx_per_s"] >= TARGET_PER_S,
                      "ik_per_s >= 1000": out["ik_per_s"] >= TARGET_PER_S}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer handshakes")
    emit(run(parser.parse_args().quick))


if __name__ == "__main__":
    main()
