"""The cacophony Noise test vectors (25519 + ChaChaPoly, every pattern and hash they cover).

Format: each vector has the keys of both sides and a list of messages. The first messages are
the handshake (initiator first, alternating); the rest are transport messages that keep
alternating direction for interactive patterns, and all go initiator -> responder for the
one-way patterns (N, K, X and their psk variants).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from p2pchat.core.noise import HandshakeState, x25519_public

VECTORS_FILE = Path(__file__).parent / "data" / "noise_vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())["vectors"]
ONE_WAY = {"N", "K", "X"}


def _key(vector: dict[str, Any], name: str) -> bytes | None:
    value = vector.get(name)
    return None if value is None else bytes.fromhex(value)


def _side(vector: dict[str, Any], prefix: str, initiator: bool) -> HandshakeState:
    return HandshakeState(
        vector["protocol_name"],
        initiator,
        prologue=bytes.fromhex(vector[f"{prefix}_prologue"]),
        s=_key(vector, f"{prefix}_static"),
        e=_key(vector, f"{prefix}_ephemeral"),
        rs=_key(vector, f"{prefix}_remote_static"),
        psks=[bytes.fromhex(p) for p in vector.get(f"{prefix}_psks", [])],
    )


def _base_pattern(protocol_name: str) -> str:
    section = protocol_name.split("_")[1]
    return section.split("psk")[0]


def test_vector_file_covers_the_suites() -> None:
    names = {v["protocol_name"] for v in VECTORS}
    assert len(VECTORS) == len(names) == 236
    for hash_name in ("BLAKE2b", "BLAKE2s", "SHA256", "SHA512"):
        for pattern in ("NN", "NK", "XX", "XK", "IK", "NNpsk0", "XXpsk3"):
            assert f"Noise_{pattern}_25519_ChaChaPoly_{hash_name}" in names
    # The psk0 placement our network handshakes use (XXpsk0, IKpsk0; their interop is in
    # test_noise_interop.py): the token first in message one, with e then mixed as a key.
    for pattern in ("NNpsk0", "NKpsk0", "KNpsk0", "KKpsk0"):
        assert f"Noise_{pattern}_25519_ChaChaPoly_BLAKE2b" in names


@pytest.mark.parametrize("vector", VECTORS, ids=[v["protocol_name"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    initiator = _side(vector, "init", True)
    responder = _side(vector, "resp", False)
    messages = vector["messages"]
    one_way = _base_pattern(vector["protocol_name"]) in ONE_WAY

    i = 0
    while not initiator.complete:
        sender, receiver = (initiator, responder) if i % 2 == 0 else (responder, initiator)
        payload = bytes.fromhex(messages[i]["payload"])
        ciphertext = bytes.fromhex(messages[i]["ciphertext"])
        assert sender.write_message(payload) == ciphertext, f"handshake message {i}"
        assert receiver.read_message(ciphertext) == payload, f"handshake message {i}"
        i += 1
    assert responder.complete
    expected_hash = bytes.fromhex(vector["handshake_hash"])
    assert initiator.handshake_hash == expected_hash
    assert responder.handshake_hash == expected_hash
    assert initiator.remote_static == _remote_public(vector, "resp")
    assert responder.remote_static == _remote_public(vector, "init")

    init_send, init_recv = initiator.split()
    resp_recv, resp_send = responder.split()
    assert i < len(messages), "vector has transport messages"
    for j in range(i, len(messages)):
        payload = bytes.fromhex(messages[j]["payload"])
        ciphertext = bytes.fromhex(messages[j]["ciphertext"])
        from_initiator = one_way or j % 2 == 0
        send, recv = (init_send, resp_recv) if from_initiator else (resp_send, init_recv)
        assert send.encrypt_with_ad(b"", payload) == ciphertext, f"transport message {j}"
        assert recv.decrypt_with_ad(b"", ciphertext) == payload, f"transport message {j}"


def _remote_public(vector: dict[str, Any], peer: str) -> bytes | None:
    """The peer's static public key, if the pattern has one for it."""
    private = _key(vector, f"{peer}_static")
    return None if private is None else x25519_public(private)
