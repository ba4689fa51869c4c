"""Test agent run inside a namespace: a relay client that runs an end-to-end session with a peer.

    python -m tests.netns.relay_agent --relay HOST:PORT#FINGERPRINT --seed HEX --peer HEX
                                      (--initiate | --answer) --say TEXT

Attaches to the relay (IK), prints {"event": "attached"}; then runs the peer link of
docs/protocol.md sections 2-7 with `--peer` inside relay frames (stream 1): the initiator
starts an IK handshake, the other answers. Each side sends TEXT as one record once the session is
up and prints {"event": "got", "text": ...} for the record it receives, then exits. Anything
unexpected prints {"event": "error", "reason": ...} and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from p2pchat.core.identity import Identity, parse_fingerprint
from p2pchat.core.relay_messages import MAX_DATA, Deliver
from p2pchat.core.session import Closed, Established, RecordReceived, Session
from p2pchat.net.addresses import parse_addr
from tests.relay_client import RelayClient

WAIT = 20.0


def emit(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--relay", required=True)
    parser.add_argument("--seed", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--say", required=True)
    role = parser.add_mutually_exclusive_group(required=True)
    role.add_argument("--initiate", action="store_true")
    role.add_argument("--answer", action="store_true")
    args = parser.parse_args()
    address, fingerprint = args.relay.split("#", 1)
    host, port = parse_addr(address)
    me, peer = Identity.from_seed(bytes.fromhex(args.seed)), bytes.fromhex(args.peer)
    client = await RelayClient(me).connect(host, port, relay_key=parse_fingerprint(fingerprint))
    emit({"event": "attached"})
    loop = asyncio.get_running_loop()
    session = Session(identity=me, initiator=args.initiate, now=loop.time(),
                      remote_key=peer if args.initiate else None, ik_timestamp=time.time_ns())

    def push() -> None:
        data = session.data_to_send()
        for start in range(0, len(data), MAX_DATA):
            client.send(peer, data[start : start + MAX_DATA])

    push()
    sent = False
    while True:  # bounded: every wait below times out after WAIT
        record = await client.next_record(WAIT)
        if not isinstance(record, Deliver) or record.sender != peer:
            emit({"event": "error", "reason": f"unexpected {record!r}"[:200]})
            return 1
        for event in session.receive_data(record.data, loop.time()):
            if isinstance(event, Established) and not sent:
                session.send_record(args.say.encode(), loop.time())
                sent = True
            elif isinstance(event, RecordReceived):
                emit({"event": "got", "text": event.record.decode()})
                push()
                await client.close()  # the transport sends what it holds before it closes
                return 0
            elif isinstance(event, Closed):
                emit({"event": "error", "reason": event.reason})
                return 1
        push()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
