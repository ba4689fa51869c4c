"""CPU cost of the cryptography on a link: the Noise XX handshake, one transport record, one
Session record round trip, each next to a libsodium baseline measured in the same run.

    .venv/bin/python bench/bench_crypto.py [--quick]

Prints one JSON object. Times are seconds per operation: the median of several repeats of a
bounded loop, CPU time (time.process_time) and wall time (time.perf_counter).
"""

from __future__ import annotations

import argparse
import os
import struct
from typing import Any

import nacl.bindings as sodium
from _common import emit, environment, per_op, ratio, versions

from p2pchat.core.identity import Identity
from p2pchat.core.noise import CipherState, HandshakeState
from p2pchat.core.session import XX_PROTOCOL, RecordReceived, Session, SessionConfig

TARGET_XX_S = 1e-3  # full XX handshake, both sides, CPU
TARGET_ENC_DEC_S = 15e-6  # encrypt + decrypt of one 100-byte record through CipherState
RECORD = bytes(range(100))
PROLOGUE = b"p2pchat/1 " + XX_PROTOCOL.encode()
# X25519 operations in one XX handshake, both sides together: each side derives its static
# public key (HandshakeState.__init__) and its ephemeral public key (base-point
# multiplications), then computes ee, es and se (variable-base multiplications).
XX_BASE_MULTS = 4
XX_VAR_MULTS = 6


def xx_handshake(n: int, s_i: bytes, s_r: bytes) -> None:
    for _ in range(n):
        i = HandshakeState(XX_PROTOCOL, True, PROLOGUE, s=s_i)
        r = HandshakeState(XX_PROTOCOL, False, PROLOGUE, s=s_r)
        r.read_message(i.write_message(b""))
        i.read_message(r.write_message(b""))
        r.read_message(i.write_message(b""))
        i.split()
        r.split()


def session_handshake(n: int, alice: Identity, bob: Identity) -> None:
    """Two Session objects through XX to Established (msgpack payloads, identity checks)."""
    for _ in range(n):
        a = Session(identity=alice, initiator=True, now=0.0)
        b = Session(identity=bob, initiator=False, now=0.0)
        b.receive_data(a.data_to_send(), 0.0)
        a.receive_data(b.data_to_send(), 0.0)
        b.receive_data(a.data_to_send(), 0.0)
        a.data_to_send()
        if not (a.established and b.established):
            raise RuntimeError("session handshake did not complete")


def scalarmult(n: int, sk: bytes, pk: bytes) -> None:
    f = sodium.crypto_scalarmult
    for _ in range(n):
        f(sk, pk)


def scalarmult_base(n: int, sk: bytes) -> None:
    f = sodium.crypto_scalarmult_base
    for _ in range(n):
        f(sk)


def cipherstate_enc_dec(n: int, key: bytes) -> None:
    send, recv = CipherState(key), CipherState(key)
    enc, dec = send.encrypt_with_ad, recv.decrypt_with_ad
    for _ in range(n):
        if dec(b"", enc(b"", RECORD)) is None:  # never; keeps the result used
            raise RuntimeError
    if recv.n != n:
        raise RuntimeError("nonces out of step")


def raw_enc_dec(n: int, key: bytes) -> None:
    """The same AEAD through PyNaCl's public bindings, nonce built per message as we do."""
    enc = sodium.crypto_aead_chacha20poly1305_ietf_encrypt
    dec = sodium.crypto_aead_chacha20poly1305_ietf_decrypt
    pack = struct.Struct("<4xQ").pack
    for i in range(n):
        nonce = pack(i)
        if dec(enc(RECORD, b"", nonce, key), b"", nonce, key) != RECORD:
            raise RuntimeError("round trip failed")


def cffi_enc_dec(n: int, key: bytes) -> None:
    """The floor: libsodium called straight through PyNaCl's cffi module (no checks)."""
    from nacl._sodium import ffi, lib

    ct = ffi.new("unsigned char[]", len(RECORD) + 16)
    pt = ffi.new("unsigned char[]", len(RECORD))
    pack = struct.Struct("<4xQ").pack
    for i in range(n):
        nonce = pack(i)
        lib.crypto_aead_chacha20poly1305_ietf_encrypt(
            ct, ffi.NULL, RECORD, len(RECORD), b"", 0, ffi.NULL, nonce, key)
        if lib.crypto_aead_chacha20poly1305_ietf_decrypt(
                pt, ffi.NULL, ffi.NULL, ct, len(RECORD) + 16, b"", 0, nonce, key) != 0:
            raise RuntimeError("round trip failed")


def established_pair(alice: Identity, bob: Identity) -> tuple[Session, Session]:
    # Rekey on the default schedule (every 10 000 messages): its cost is part of the average.
    config = SessionConfig()
    a = Session(identity=alice, initiator=True, now=0.0, config=config)
    b = Session(identity=bob, initiator=False, now=0.0, config=config)
    b.receive_data(a.data_to_send(), 0.0)
    a.receive_data(b.data_to_send(), 0.0)
    b.receive_data(a.data_to_send(), 0.0)
    a.data_to_send()
    b.data_to_send()
    assert a.established and b.established
    return a, b


def session_round_trip(n: int, a: Session, b: Session) -> None:
    send, take, receive = a.send_record, a.data_to_send, b.receive_data
    for _ in range(n):
        send(RECORD, 1.0)
        events = receive(take(), 1.0)
        if not (len(events) == 1 and type(events[0]) is RecordReceived):
            raise RuntimeError(f"unexpected events {events!r}")


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def run(quick: bool = False) -> dict[str, Any]:
    scale = 0.2 if quick else 1.0
    repeats = 5 if quick else 7

    def n(base: int) -> int:
        return max(10, int(base * scale))

    s_i, s_r = os.urandom(32), os.urandom(32)
    sk, pk = os.urandom(32), sodium.crypto_scalarmult_base(os.urandom(32))
    key = os.urandom(32)
    alice, bob = Identity.generate(), Identity.generate()

    x25519 = per_op(lambda k: scalarmult(k, sk, pk), n(3000), repeats)
    x25519_base = per_op(lambda k: scalarmult_base(k, sk), n(3000), repeats)
    xx = per_op(lambda k: xx_handshake(k, s_i, s_r), n(300), repeats)
    sess_hs = per_op(lambda k: session_handshake(k, alice, bob), n(200), repeats)
    cs = per_op(lambda k: cipherstate_enc_dec(k, key), n(50_000), repeats)
    raw = per_op(lambda k: raw_enc_dec(k, key), n(50_000), repeats)
    floor = per_op(lambda k: cffi_enc_dec(k, key), n(50_000), repeats)
    a, b = established_pair(alice, bob)
    rt = per_op(lambda k: session_round_trip(k, a, b), n(30_000), repeats)

    x_cpu = x25519["cpu_median_s"]
    dh_floor = XX_VAR_MULTS * x_cpu + XX_BASE_MULTS * x25519_base["cpu_median_s"]
    results: dict[str, Any] = {
        "benchmark": "crypto",
        "environment": {**environment(), **versions()},
        "units": "microseconds per operation (CPU median unless *_wall_)",
        "x25519": {
            "what": "one crypto_scalarmult (variable base), nacl.bindings",
            "cpu_us": _us(x_cpu),
            "wall_us": _us(x25519["wall_median_s"]),
            "base_point_cpu_us": _us(x25519_base["cpu_median_s"]),
            "timing": x25519,
        },
        "xx_handshake": {
            "what": f"{XX_PROTOCOL}, both sides, 3 messages + split, empty payloads",
            "cpu_us": _us(xx["cpu_median_s"]),
            "wall_us": _us(xx["wall_median_s"]),
            "baseline": "one X25519 (crypto_scalarmult)",
            "baseline_cpu_us": _us(x_cpu),
            "ratio_to_one_x25519": ratio(xx["cpu_median_s"], x_cpu),
            "dh_floor_cpu_us": _us(dh_floor),
            "dh_floor_what": f"{XX_VAR_MULTS} scalarmult + {XX_BASE_MULTS} scalarmult_base",
            "ratio_to_dh_floor": ratio(xx["cpu_median_s"], dh_floor),
            "target_cpu_us": _us(TARGET_XX_S),
            "pass": xx["cpu_median_s"] <= TARGET_XX_S,
            "timing": xx,
        },
        "session_xx_handshake": {
            "what": "two Session objects to Established over XX (payloads, key conversions)",
            "cpu_us": _us(sess_hs["cpu_median_s"]),
            "wall_us": _us(sess_hs["wall_median_s"]),
            "ratio_to_noise_xx": ratio(sess_hs["cpu_median_s"], xx["cpu_median_s"]),
            "timing": sess_hs,
        },
        "enc_dec_100B": {
            "what": "CipherState.encrypt_with_ad + decrypt_with_ad of 100 bytes",
            "cpu_us": _us(cs["cpu_median_s"]),
            "wall_us": _us(cs["wall_median_s"]),
            "baseline": "nacl.bindings crypto_aead_chacha20poly1305_ietf_encrypt + decrypt",
            "baseline_cpu_us": _us(raw["cpu_median_s"]),
            "ratio_to_baseline": ratio(cs["cpu_median_s"], raw["cpu_median_s"]),
            "libsodium_cffi_floor_cpu_us": _us(floor["cpu_median_s"]),
            "ratio_to_cffi_floor": ratio(cs["cpu_median_s"], floor["cpu_median_s"]),
            "target_cpu_us": _us(TARGET_ENC_DEC_S),
            "pass": cs["cpu_median_s"] <= TARGET_ENC_DEC_S,
            "timing": cs,
            "baseline_timing": raw,
        },
        "session_round_trip_100B": {
            "what": "Session.send_record -> data_to_send -> peer receive_data, 100 bytes",
            "cpu_us": _us(rt["cpu_median_s"]),
            "wall_us": _us(rt["wall_median_s"]),
            "baseline": "CipherState enc+dec of 100 bytes (above)",
            "baseline_cpu_us": _us(cs["cpu_median_s"]),
            "ratio_to_baseline": ratio(rt["cpu_median_s"], cs["cpu_median_s"]),
            "ratio_to_raw_libsodium": ratio(rt["cpu_median_s"], raw["cpu_median_s"]),
            "records_per_cpu_second": round(1 / rt["cpu_median_s"]),
            "timing": rt,
        },
    }
    results["targets"] = {
        "xx_handshake_cpu_le_1ms": results["xx_handshake"]["pass"],
        "enc_dec_100B_cpu_le_15us": results["enc_dec_100B"]["pass"],
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    emit(run(quick=parser.parse_args().quick))


if __name__ == "__main__":
    main()
