"""Commands that can only mean a contact find the name among contacts only (notes/s33/
trial8.md, B7): with a group and a contact both called bob, `/verify bob` was refused as
ambiguous though a group cannot be verified, renamed or given an address.

Each command here picks the contact (written `@NAME`, as find_conversation takes it) and hands
the line on to ContactCommands, which does the work."""

from __future__ import annotations

from p2pchat.tui.contact_commands import ContactCommands
from p2pchat.tui.state import ChatState


def the_contact(state: ChatState, rest: str) -> str:
    """`rest` (NAME, then maybe more) with NAME written `@NAME` when it is a contact's name
    and a group's too; else as typed (a fingerprint, a name of one only, an unknown one)."""
    words = rest.split(" ")
    contacts = {c.name.casefold() for c in state.conversations.values() if c.kind != "group"}
    groups = {c.name.casefold() for c in state.conversations.values() if c.kind == "group"}
    for cut in range(len(words), 0, -1):  # the longest name that fits, as split_name does
        name = " ".join(words[:cut]).strip().casefold()
        if name in contacts:
            return "@" + rest.lstrip() if name in groups else rest
    return rest


class ContactOnly:
    """/verify, /safety, /rename and /addr: NAME is a contact's, never a group's."""

    def __init__(self, state: ChatState, commands: ContactCommands) -> None:
        self._state = state
        self._commands = commands  # they do the work

    async def cmd_verify(self, rest: str) -> None:
        await self._commands.cmd_verify(the_contact(self._state, rest))

    async def cmd_safety(self, rest: str) -> None:
        await self._commands.cmd_safety(the_contact(self._state, rest))

    async def cmd_rename(self, rest: str) -> None:
        await self._commands.cmd_rename(the_contact(self._state, rest))

    async def cmd_addr(self, rest: str) -> None:
        await self._commands.cmd_addr(the_contact(self._state, rest))
