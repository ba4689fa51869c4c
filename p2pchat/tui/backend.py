"""The one interface the UI talks to, and its two implementations.

`NodeBackend` drives a Node in this process; `ControlBackend` drives a running node over its
control socket. Both return the same dicts (docs/api.md) and raise BackendError with the node's
error code, so the UI cannot tell them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from p2pchat.control_client import ControlError
from p2pchat.node import CommandError, Node
from p2pchat.storage.store import StoreError
from p2pchat.tui.client import AsyncControlClient


class BackendError(Exception):
    """A command that failed; the message is for people (it becomes a notice line)."""

    def __init__(self, code: str, message: str, *, corrected: str = "") -> None:
        """`corrected`: the command line the message offers instead ("carol is now called
        'Carol S': ..."): the screen puts it in the input, not run (trial 14a, B17)."""
        super().__init__(message)
        self.code = code
        self.corrected = corrected


class EventStream(Protocol):
    """The node's events, in order. Ends after a {"type": "lagged"} event or when the node goes."""

    def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]: ...

    async def aclose(self) -> None: ...


class ChatBackend(Protocol):
    mode: str  # "in-process" or "attached": shown in the status line

    async def status(self) -> dict[str, Any]: ...
    async def peers(self) -> dict[str, Any]: ...
    async def contacts(self) -> list[dict[str, Any]]: ...
    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]: ...
    async def send(self, who: str, text: str) -> dict[str, Any]: ...
    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]: ...
    async def accept(self, who: str, anyway: bool = False) -> dict[str, Any]: ...
    async def block(self, who: str) -> dict[str, Any]: ...
    async def remove(self, who: str) -> dict[str, Any]: ...
    async def unblock(self, who: str) -> dict[str, Any]: ...
    async def rename(self, who: str, name: str) -> dict[str, Any]: ...
    async def verify(self, who: str, verified: bool) -> dict[str, Any]: ...
    async def set_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]: ...
    async def rekey(self) -> dict[str, Any]: ...
    async def rename_self(self, name: str) -> dict[str, Any]: ...
    async def mark_read(self, who: str, message_id: str) -> None: ...
    async def unread(self) -> dict[str, int]: ...
    async def network(self, action: str, name: str = "",
                      passphrase: str = "", via: str = "") -> dict[str, Any]: ...
    async def groups(self) -> list[dict[str, Any]]: ...
    async def create_group(self, title: str) -> dict[str, Any]: ...
    async def invite(self, group: str, who: str) -> dict[str, Any]: ...
    async def remove_member(self, group: str, member: str) -> dict[str, Any]: ...
    async def manage_member(self, action: str, group: str, member: str) -> dict[str, Any]: ...
    async def leave_group(self, group: str) -> dict[str, Any]: ...
    async def group_consent(self, action: str, group: str) -> dict[str, Any]: ...
    async def group_members(self, group: str) -> list[dict[str, Any]]: ...
    async def files(self) -> list[dict[str, Any]]: ...
    async def send_files(self, who: str, paths: list[str]) -> list[dict[str, Any]]: ...
    async def file_action(self, action: str, id_text: str) -> dict[str, Any]: ...
    async def subscribe(self) -> EventStream: ...
    async def close(self) -> None: ...


class _QueueStream:
    """Events from an asyncio.Queue, ended by None.

    The node's EventBus puts None when a subscriber falls behind; the control client puts None
    when the connection ends. `none_is_lag` says which, so the stream can end with a "lagged"
    event the way the control API does.
    """

    def __init__(self, queue: asyncio.Queue[Mapping[str, Any] | None]
                 | asyncio.Queue[dict[str, Any] | None],
                 on_close: Callable[[], Awaitable[None] | None], *, none_is_lag: bool) -> None:
        self._queue = queue
        self._on_close = on_close
        self._none_is_lag = none_is_lag
        self._done = False

    def __aiter__(self) -> AsyncIterator[Mapping[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Mapping[str, Any]]:
        while not self._done:
            event = await self._queue.get()
            if event is None:
                self._done = True
                if self._none_is_lag:
                    yield {"type": "lagged"}
                return
            if event.get("type") == "lagged":
                self._done = True  # the node sends nothing more on this subscription
            yield event

    async def aclose(self) -> None:
        self._done = True
        result = self._on_close()
        if result is not None:
            await result


@contextlib.contextmanager
def _node_errors() -> Iterator[None]:
    """The node's own errors, as BackendError: the UI shows them as notices."""
    try:
        yield
    except CommandError as exc:
        raise BackendError(exc.code, str(exc)) from None
    except StoreError as exc:
        raise BackendError("storage", str(exc)) from None


class NodeBackend:
    """A Node in this process: commands are method calls, events its EventBus."""

    mode = "in-process"

    def __init__(self, node: Node) -> None:
        self.node = node

    async def status(self) -> dict[str, Any]:
        return self.node.status()

    async def peers(self) -> dict[str, Any]:
        with _node_errors():
            return self.node.peers()

    async def contacts(self) -> list[dict[str, Any]]:
        with _node_errors():
            return self.node.list_contacts()

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        with _node_errors():
            return self.node.history(who, limit, changes=changes)

    async def send(self, who: str, text: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.send(who, text)

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        with _node_errors():
            return await self.node.add_contact(fingerprint, name, addrs)

    async def accept(self, who: str, anyway: bool = False) -> dict[str, Any]:
        with _node_errors():
            return await self.node.accept_contact(who, anyway=anyway)

    async def block(self, who: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.block_contact(who)

    async def remove(self, who: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.remove_contact(who)

    async def unblock(self, who: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.unblock_contact(who)

    async def rename(self, who: str, name: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.rename_contact(who, name)

    async def verify(self, who: str, verified: bool) -> dict[str, Any]:
        with _node_errors():
            return self.node.verify_contact(who, verified)

    async def rekey(self) -> dict[str, Any]:
        with _node_errors():
            return self.node.rekey()

    async def set_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]:
        with _node_errors():
            return await self.node.set_contact_addrs(who, addrs)

    async def rename_self(self, name: str) -> dict[str, Any]:
        with _node_errors():
            return self.node.rename_self(name)

    async def mark_read(self, who: str, message_id: str) -> None:
        with _node_errors():
            self.node.mark_read(who, message_id)

    async def unread(self) -> dict[str, int]:
        with _node_errors():
            return self.node.unread()

    async def network(self, action: str, name: str = "",
                      passphrase: str = "", via: str = "") -> dict[str, Any]:
        with _node_errors():
            if action == "join":
                return await self.node.networks.join(name, passphrase, via)
            if action == "leave":
                return await self.node.networks.leave(name)
            return self.node.networks.view()

    async def groups(self) -> list[dict[str, Any]]:
        with _node_errors():
            return self.node.list_groups()

    async def create_group(self, title: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.create_group(title)

    async def invite(self, group: str, who: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.invite_to_group(group, who)

    async def remove_member(self, group: str, member: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.remove_from_group(group, member)

    async def manage_member(self, action: str, group: str, member: str) -> dict[str, Any]:
        """admin, unadmin or transfer (the owner's commands, issue 24)."""
        command = {"admin": self.node.admin_group, "unadmin": self.node.unadmin_group,
                   "transfer": self.node.transfer_group}[action]
        with _node_errors():
            return await command(group, member)

    async def leave_group(self, group: str) -> dict[str, Any]:
        with _node_errors():
            return await self.node.leave_group(group)

    async def group_consent(self, action: str, group: str) -> dict[str, Any]:
        """accept, decline (an invitation) or forget (a group left)."""
        calls = {"accept": self.node.accept_group, "decline": self.node.decline_group,
                 "forget": self.node.forget_group}
        with _node_errors():
            return await calls[action](group)

    async def group_members(self, group: str) -> list[dict[str, Any]]:
        with _node_errors():
            return self.node.group_members(group)

    async def files(self) -> list[dict[str, Any]]:
        with _node_errors():
            return self.node.files.listing()

    async def send_files(self, who: str, paths: list[str]) -> list[dict[str, Any]]:
        with _node_errors():
            return await self.node.file_send(who, paths)

    async def file_action(self, action: str, id_text: str) -> dict[str, Any]:
        with _node_errors():
            result: dict[str, Any] = await getattr(self.node, f"file_{action}")(id_text)
            return result

    async def subscribe(self) -> EventStream:
        queue = self.node.events.subscribe()
        return _QueueStream(queue, lambda: self.node.events.unsubscribe(queue), none_is_lag=True)

    async def close(self) -> None:
        """The node belongs to whoever started it; nothing to release here."""


class ControlBackend:
    """A running node over its control socket: one connection for commands, one for events.

    Events get their own connection because the node subscribes a connection only once: after
    a lag the stream is re-opened on a fresh connection.
    """

    mode = "attached"

    def __init__(self, home: Path, client: AsyncControlClient, timeout: float = 30.0) -> None:
        self.home = home
        self._client = client
        self._timeout = timeout
        self._event_clients: set[AsyncControlClient] = set()

    @classmethod
    async def connect(cls, home: Path, timeout: float = 30.0) -> ControlBackend:
        try:
            client = await AsyncControlClient.connect(home, timeout)
        except ControlError as exc:
            raise BackendError(exc.code, str(exc)) from None
        return cls(home, client, timeout)

    async def _call(self, method: str, **params: Any) -> Any:
        try:
            return await self._client.call(method, **params)
        except ControlError as exc:
            raise BackendError(exc.code, str(exc)) from None

    async def status(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("status")
        return result

    async def peers(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("peers")
        return result

    async def contacts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("contacts.list")
        return result

    async def history(self, who: str, limit: int | None = None, *,
                      changes: bool = False) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"with": who}
        if limit is not None:
            params["limit"] = limit
        if changes:  # a group's joins, leaves and removals as lines too
            params["changes"] = True
        result: list[dict[str, Any]] = await self._call("log", **params)
        return result

    async def send(self, who: str, text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("send", to=who, text=text)
        return result

    async def add_contact(self, fingerprint: str, name: str,
                          addrs: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "contacts.add", fingerprint=fingerprint, name=name, addrs=addrs)
        return result

    async def accept(self, who: str, anyway: bool = False) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.accept", who=who, anyway=anyway)
        return result

    async def block(self, who: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.block", who=who)
        return result

    async def remove(self, who: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.remove", who=who)
        return result

    async def unblock(self, who: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.unblock", who=who)
        return result

    async def rename(self, who: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.rename", who=who, name=name)
        return result

    async def verify(self, who: str, verified: bool) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.verify", who=who, verified=verified)
        return result

    async def rekey(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("rekey")
        return result

    async def set_addrs(self, who: str, addrs: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("contacts.addr", who=who, addrs=addrs)
        return result

    async def rename_self(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("rename_self", name=name)
        return result

    async def mark_read(self, who: str, message_id: str) -> None:
        await self._call("read", id=message_id, **{"with": who})

    async def unread(self) -> dict[str, int]:
        result: dict[str, int] = await self._call("unread")
        return result

    async def network(self, action: str, name: str = "",
                      passphrase: str = "", via: str = "") -> dict[str, Any]:
        params = {"join": {"name": name, "passphrase": passphrase, **({"via": via} if via else {})},
                  "leave": {"name": name}}.get(action, {})
        result: dict[str, Any] = await self._call(f"network.{action}", **params)
        return result

    async def groups(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("groups.list")
        return result

    async def create_group(self, title: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("groups.create", title=title)
        return result

    async def invite(self, group: str, who: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("groups.invite", group=group, who=who)
        return result

    async def remove_member(self, group: str, member: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("groups.remove", group=group, member=member)
        return result

    async def manage_member(self, action: str, group: str, member: str) -> dict[str, Any]:
        """admin, unadmin or transfer (the owner's commands, issue 24)."""
        result: dict[str, Any] = await self._call(f"groups.{action}", group=group,
                                                  member=member)
        return result

    async def leave_group(self, group: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("groups.leave", group=group)
        return result

    async def group_consent(self, action: str, group: str) -> dict[str, Any]:
        """accept, decline (an invitation) or forget (a group left)."""
        result: dict[str, Any] = await self._call(f"groups.{action}", group=group)
        return result

    async def group_members(self, group: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("groups.members", group=group)
        return result

    async def files(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("file.list")
        return result

    async def send_files(self, who: str, paths: list[str]) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("file.send", to=who, paths=paths)
        return result

    async def file_action(self, action: str, id_text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(f"file.{action}", id=id_text)
        return result

    async def subscribe(self) -> EventStream:
        try:
            client = await AsyncControlClient.connect(self.home, self._timeout)
            await client.subscribe()
        except ControlError as exc:
            raise BackendError(exc.code, str(exc)) from None
        except OSError as exc:
            raise BackendError("no_node", str(exc)) from None
        self._event_clients.add(client)

        async def close() -> None:
            self._event_clients.discard(client)
            await client.close()

        return _QueueStream(client.events, close, none_is_lag=False)

    async def reconnect(self) -> None:
        """A fresh command connection, after the node went away and came back."""
        with contextlib.suppress(Exception):
            await self._client.close()
        try:
            self._client = await AsyncControlClient.connect(self.home, self._timeout)
        except (ControlError, OSError) as exc:
            raise BackendError("no_node", str(exc)) from None

    async def close(self) -> None:
        for client in list(self._event_clients):
            with contextlib.suppress(Exception):
                await client.close()
        self._event_clients.clear()
        await self._client.close()
