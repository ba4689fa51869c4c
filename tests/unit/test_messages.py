"""The record codec: round trips, canonical form, and ProtocolError for every malformed input."""

from __future__ import annotations

import hashlib
import unicodedata

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from p2pchat.core.errors import ProtocolError
from p2pchat.core.messages import (
    MAX_BODY_LEN,
    MAX_RECORD_LEN,
    MAX_SENT_AT,
    MAX_TEXT_BYTES,
    MAX_VECTOR_AUTHORS,
    ZERO_HASH,
    ContactAccept,
    ContactRequest,
    Envelope,
    Hello,
    Record,
    SyncRequest,
    SyncVector,
    decode_record,
    decode_text,
    dm_conversation_id,
    encode_record,
    encode_text,
    envelope_hash,
)
from p2pchat.core.record_fields import REVISION_3_RECORD_LEN
from p2pchat.core.text import name_problem

SETTINGS = settings(derandomize=True, deadline=None, database=None, max_examples=300)

CONV = bytes(range(16))
ALICE = b"A" * 32
BOB = b"B" * 32


def _env(**over: object) -> Envelope:
    fields: dict[str, object] = {
        "conv": CONV,
        "author": ALICE,
        "seq": 2,
        "lamport": 5,
        "sent_at": 1_700_000_000_000,
        "prev": b"\x07" * 32,
        "body": encode_text("hi"),
    }
    fields.update(over)
    return Envelope(**fields)  # type: ignore[arg-type]


# --- strategies ---------------------------------------------------------------------------------

u63 = st.integers(min_value=0, max_value=2**63 - 1)
pos63 = st.integers(min_value=1, max_value=2**63 - 1)
# Free text: no control characters (Cc) and no surrogates, which the codec refuses.
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\u202e"),
    max_size=64,
)
# Names follow the name rule too: NFC, trimmed, not empty (see core/text.py).
name_text = safe_text.map(lambda s: unicodedata.normalize("NFC", s).strip()).filter(
    lambda s: name_problem(s) is None
)


@st.composite
def envelopes(draw: st.DrawFn) -> Envelope:
    seq = draw(pos63)
    return Envelope(
        conv=draw(st.binary(min_size=16, max_size=16)),
        author=draw(st.binary(min_size=32, max_size=32)),
        seq=seq,
        lamport=draw(pos63),
        sent_at=draw(st.integers(min_value=0, max_value=MAX_SENT_AT)),
        prev=ZERO_HASH if seq == 1 else draw(st.binary(min_size=32, max_size=32)),
        body=draw(st.binary(max_size=2048)),
        sig=draw(st.sampled_from([b"", b"\x01" * 64])),
    )


@st.composite
def sync_requests(draw: st.DrawFn) -> SyncRequest:
    first = draw(st.integers(min_value=1, max_value=2**63 - 1024))
    return SyncRequest(
        conv=draw(st.binary(min_size=16, max_size=16)),
        author=draw(st.binary(min_size=32, max_size=32)),
        first=first,
        last=first + draw(st.integers(min_value=0, max_value=1023)),
    )


records: st.SearchStrategy[Record] = st.one_of(
    st.builds(Hello, name=name_text, software=safe_text, knows_you=st.booleans(),
              ports=st.lists(st.integers(1, 65535), max_size=8).map(tuple)),
    st.builds(ContactRequest, name=name_text, note=safe_text),
    st.builds(ContactAccept, name=name_text),
    envelopes(),
    st.builds(
        SyncVector,
        conv=st.binary(min_size=16, max_size=16),
        vector=st.dictionaries(st.binary(min_size=32, max_size=32), u63, max_size=20),
    ),
    sync_requests(),
)

# Arbitrary msgpack-able values, including the shapes a record has, to fuzz the field checks.
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=10)
        | st.dictionaries(st.text(max_size=8) | st.binary(max_size=33), inner, max_size=5)
    ),
    max_leaves=30,
)


# --- round trips --------------------------------------------------------------------------------


@SETTINGS
@given(records)
def test_every_record_round_trips(record: Record) -> None:
    data = encode_record(record)
    assert decode_record(data) == record
    assert encode_record(decode_record(data)) == data


@pytest.mark.parametrize(
    "record",
    [
        Hello("alice", "p2pchat/0.1"),
        ContactRequest("bob", "we met at the\nmeetup"),
        ContactAccept("carol"),
        _env(),
        _env(seq=1, prev=ZERO_HASH, sig=b"\x02" * 64, body=b""),
        _env(seq=2**63 - 1, lamport=2**63 - 1, sent_at=MAX_SENT_AT, body=b"\0" * MAX_BODY_LEN),
        SyncVector(CONV, {ALICE: 3, BOB: 0}),
        SyncVector(CONV, {}),
        SyncRequest(CONV, ALICE, 1, 1024),
    ],
)
def test_examples_round_trip(record: Record) -> None:
    data = encode_record(record)
    assert len(data) <= MAX_RECORD_LEN
    assert decode_record(data) == record


def test_wire_shape_is_a_positional_array() -> None:
    env = _env()
    assert msgpack.unpackb(encode_record(env), raw=False) == [
        16, env.conv, env.author, env.seq, env.lamport, env.sent_at, env.prev, env.body, b"",
    ]  # fmt: skip
    assert msgpack.unpackb(encode_record(Hello("a", "b")), raw=False) == [1, "a", "b", False, []]


def test_sync_vector_encoding_is_order_independent() -> None:
    a = SyncVector(CONV, {ALICE: 1, BOB: 2})
    b = SyncVector(CONV, {BOB: 2, ALICE: 1})
    assert encode_record(a) == encode_record(b)


def test_sync_vector_copies_its_map() -> None:
    source = {ALICE: 1}
    vec = SyncVector(CONV, source)
    source[BOB] = 2
    assert vec.vector == {ALICE: 1}


# --- hashes and signing bytes -------------------------------------------------------------------


def test_envelope_hash_and_signing_bytes_are_stable() -> None:
    env = _env(seq=1, prev=ZERO_HASH, body=encode_text("hello"), sent_at=1234, lamport=1)
    data = encode_record(env)
    # Pinned: a change here breaks every stored prev-hash and every signature.
    # Array of 9; code 16; bin8 conv; bin8 author; seq 1; lamport 1; uint16 1234; bin8 prev;
    # bin8 body ({"text": "hello"}); empty bin sig.
    assert data.hex() == (
        "9910c410000102030405060708090a0b0c0d0e0f"
        "c420" + "41" * 32 + "0101cd04d2"
        "c420" + "00" * 32 + "c40c81a474657874a568656c6c6f"
        "c400"
    )
    assert envelope_hash(env).hex() == (
        "fbe1be00330ecf37042edb187efbe6707067ded35f39cb0693b7fb555ec0e0bd"
    )
    expected = hashlib.blake2b(data, digest_size=32, person=b"p2pchat-env-v1").digest()
    assert envelope_hash(env) == expected
    assert len(envelope_hash(env)) == 32
    assert env.signing_bytes() == data  # sig already empty


def test_signing_bytes_ignore_the_signature_but_the_hash_does_not() -> None:
    unsigned = _env()
    signed = _env(sig=b"\x09" * 64)
    assert signed.signing_bytes() == unsigned.signing_bytes() == encode_record(unsigned)
    assert envelope_hash(signed) != envelope_hash(unsigned)
    assert envelope_hash(_env(body=b"x")) != envelope_hash(_env(body=b"y"))


def test_dm_conversation_id() -> None:
    cid = dm_conversation_id(ALICE, BOB)
    assert len(cid) == 16
    assert cid == dm_conversation_id(BOB, ALICE)
    assert cid != dm_conversation_id(ALICE, b"C" * 32)
    with pytest.raises(ProtocolError):
        dm_conversation_id(ALICE, b"short")


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over",
    [
        {"conv": b"x" * 15},
        {"author": b"x" * 33},
        {"seq": 0},
        {"seq": -1},
        {"seq": 2**63},
        {"seq": True},
        {"lamport": 0},
        {"sent_at": -1},
        {"sent_at": MAX_SENT_AT + 1},  # after the year 9999: no calendar can show it
        {"sent_at": 2**63 - 1},
        {"sent_at": 1.5},
        {"prev": b"x" * 31},
        {"seq": 1, "prev": b"x" * 32},
        {"body": b"x" * (MAX_BODY_LEN + 1)},
        {"body": "text"},
        {"sig": b"x" * 10},
        {"conv": bytearray(16)},
    ],
)
def test_invalid_envelope_fields_raise_protocol_error(over: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        _env(**over)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Hello("x" * 65, "s"),
        lambda: Hello("a\x1b[31m", "s"),  # terminal escape in a name
        lambda: Hello("\u202eevil", "s"),  # bidi override
        lambda: Hello("a\nb", "s"),
        lambda: Hello("\ud800", "s"),  # lone surrogate
        lambda: Hello("a\x9b31m", "s"),  # C1 CSI
        lambda: Hello("", "s"),  # the name rule: not empty,
        lambda: Hello(" alice", "s"),  # trimmed,
        lambda: Hello("e\u0301", "s"),  # and NFC
        lambda: ContactRequest("\u202eevil", "n"),
        lambda: ContactAccept("bob "),
        lambda: ContactRequest("a", "n" * 281),
        lambda: ContactAccept(b"name"),  # type: ignore[arg-type]
        lambda: SyncVector(CONV, {bytes([i]) * 32: 1 for i in range(256)} | {b"\xff" * 31: 1}),
        lambda: SyncVector(CONV, {ALICE: -1}),
        lambda: SyncVector(CONV, [(ALICE, 1)]),  # type: ignore[arg-type]
        lambda: SyncRequest(CONV, ALICE, 0, 1),
        lambda: SyncRequest(CONV, ALICE, 5, 4),
        lambda: SyncRequest(CONV, ALICE, 1, 1025),
    ],
)
def test_invalid_records_raise_protocol_error(make: object) -> None:
    assert callable(make)
    with pytest.raises(ProtocolError):
        make()


def test_limits_accept_their_maximum() -> None:
    ContactRequest("n" * 64, "n" * 280)
    SyncVector(CONV, {i.to_bytes(32, "big"): i for i in range(MAX_VECTOR_AUTHORS)})
    with pytest.raises(ProtocolError):
        SyncVector(CONV, {i.to_bytes(32, "big"): i for i in range(MAX_VECTOR_AUTHORS + 1)})


def _pack(obj: object) -> bytes:
    data = msgpack.packb(obj, use_bin_type=True)
    assert isinstance(data, bytes)
    return data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "malformed"),
        (encode_record(Hello("a", "b")) + b"\x00", "trailing"),
        (_pack([99, "a"]), "unknown type"),
        (_pack([]), "non-empty array"),
        (_pack({"a": 1}), "non-empty array"),
        (_pack(["1", "a", "b"]), "type code"),
        (_pack([1, "a"]), "expected 4 fields"),
        (_pack([1, "a", "b", "c"]), "expected 4 fields"),
        (_pack([1, "a", "b", 1, []]), "knows_you"),
        (_pack([1, "a", "b", True, [0]]), "not a port"),
        (_pack([18, CONV, ALICE, 1, -5]), "SyncRequest.last"),
        (_pack([18, CONV, ALICE, 1, 2**64 - 1]), "SyncRequest.last"),
        (_pack([1, b"a", "b", False, []]), "Hello.name"),
        (_pack([17, CONV, {"k": 1}]), "SyncVector author"),
        (_pack([17, CONV, {BOB: 1, ALICE: 1}]), "non-canonical"),  # unsorted keys
        (b"\x95\x01\xd9\x01a\xa1b\xc2\x90", "non-canonical"),  # str8 where fixstr fits
        (b"\x95\xcc\x01\xa1a\xa1b\xc2\x90", "non-canonical"),  # uint8 type code 1
        (b"\x95\x01\xa2\xff\xfe\xa1b\xc2\x90", "malformed"),  # invalid UTF-8
        (b"\x95\x01\xc7\x01\x05x\xa1b\xc2\x90", "malformed"),  # ext type
        (b"\x91" * 2000, "malformed"),  # deep nesting
        (b"\xdc\xff\xff" + b"\x01" * 100, "malformed"),  # array bigger than allowed
        (b"\xc4" + b"\x00" * (MAX_RECORD_LEN + 1), "exceeds the limit"),
        # Past revision 3's cap only the records that grow with a group (revision 4)...
        (_pack([2, "n", "x" * (REVISION_3_RECORD_LEN)]), "for its type"),
        # ... and never more arrays and maps than any honest record holds.
        (_pack([33, *[[[]] * 2048] * 5]), "arrays and maps"),
    ],
)
def test_malformed_records(data: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode_record(data)


def test_decode_refuses_non_bytes() -> None:
    with pytest.raises(ProtocolError):
        decode_record(bytearray(b"\x91\x01"))  # type: ignore[arg-type]


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_protocol_error(data: bytes) -> None:
    try:
        record = decode_record(data)
    except ProtocolError:
        return
    assert encode_record(record) == data


@SETTINGS
@given(
    st.integers(min_value=-3, max_value=20) | st.sampled_from([16, 17, 18]),
    st.lists(msgpack_values, max_size=9),
)
def test_random_msgpack_values_only_raise_protocol_error(code: int, fields: list[object]) -> None:
    for obj in ([code, *fields], fields, *fields):
        try:
            record = decode_record(_pack(obj))
        except ProtocolError:
            continue
        assert encode_record(record) == _pack(obj)


@settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(records, st.data())
def test_mutated_records_only_raise_protocol_error(record: Record, data: st.DataObject) -> None:
    raw = bytearray(encode_record(record))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        pos = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw[pos] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        try:
            decoded = decode_record(candidate)
        except ProtocolError:
            continue
        assert encode_record(decoded) == candidate


# --- text bodies --------------------------------------------------------------------------------


@SETTINGS
@given(st.text(max_size=500))
def test_text_round_trips(text: str) -> None:
    assert decode_text(encode_text(text)) == text


def test_text_limits() -> None:
    big = "é" * (MAX_TEXT_BYTES // 2)  # exactly 16 KiB of UTF-8
    assert decode_text(encode_text(big)) == big
    with pytest.raises(ProtocolError):
        encode_text(big + "x")
    with pytest.raises(ProtocolError):
        decode_text(_pack({"text": "x" * (MAX_TEXT_BYTES + 1)}))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        _pack("just a string"),
        _pack({"text": b"bytes"}),
        _pack({"text": "a", "extra": 1}),
        _pack({"txt": "a"}),
        _pack(["text", "a"]),
        _pack({"text": "a"}) + b"\x00",
        b"\x81\xa4text\xa2\xff\xfe",
    ],
)
def test_malformed_text_bodies(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_text(body)


@SETTINGS
@given(st.binary(max_size=200) | msgpack_values.map(_pack))
def test_random_text_bodies_only_raise_protocol_error(body: bytes) -> None:
    try:
        text = decode_text(body)
    except ProtocolError:
        return
    assert decode_text(encode_text(text)) == text


def test_group_joins_round_trip_and_refuse_bad_members() -> None:
    """GroupJoins (protocol 8.17): 1..100 distinct 32-byte keys in ascending order."""
    from p2pchat.core.messages import GroupJoins, decode_record, encode_record

    record = GroupJoins(group=b"g" * 16, members=(b"a" * 32, b"b" * 32))
    assert decode_record(encode_record(record)) == record
    assert msgpack.unpackb(encode_record(record)) == [44, b"g" * 16, [b"a" * 32, b"b" * 32]]
    for members in ((), (b"b" * 32, b"a" * 32), (b"a" * 32, b"a" * 32), (b"a" * 31,),
                    tuple(bytes([i]) * 32 for i in range(101))):
        with pytest.raises(ProtocolError):
            GroupJoins(group=b"g" * 16, members=members)
