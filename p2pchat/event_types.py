"""The events a node reports, as types: one place for what the node's parts build, what
control.py sends as `{"event": ...}` lines and what the chat screen reads (docs/api.md).

Each is a `TypedDict` tagged by its `type`. A screen attached to a running node gets them as
JSON from another process, maybe an older or newer one: it reads them with `.get` and cleans
every value before it is drawn (tui/sanitize.py), so the types say what a node of this version
sends, not what a reader may assume without checking.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class MessageEvent(TypedDict):
    """A message sent or received, as `log` shows it too (node/views.py builds it)."""

    type: Literal["message"]
    id: str  # 32 hex digits of the envelope's hash
    conversation: str  # the contact's fingerprint, or the group's id (hex)
    author: str  # fingerprint
    author_name: str
    seq: NotRequired[int]
    text: str
    sent_at: str  # ISO 8601 UTC
    own: bool
    status: NotRequired[str | None]  # own messages: queued, sent or delivered
    group: NotRequired[str]  # a group message: the group's title
    notice: NotRequired[str]  # a line the node adds to a log ("equivocation")
    equivocation: NotRequired[EquivocationEvent]


class DeliveryEvent(TypedDict):
    """A contact acknowledged one of our messages."""

    type: Literal["delivery"]
    id: str
    status: Literal["delivered"]
    fingerprint: str


class ContactRequestEvent(TypedDict):
    """Someone not a contact asks to be one."""

    type: Literal["contact_request"]
    fingerprint: str
    name: str
    note: str
    same_name_as: NotRequired[str]  # a contact with that name: maybe them, maybe not
    same_name_verified: NotRequired[bool]
    same_name_announced: NotRequired[bool]  # the name is the one that contact calls itself
    after_removal: NotRequired[bool]  # a contact we removed, its node still having us


class RequestsDroppedEvent(TypedDict):
    type: Literal["requests_dropped"]
    count: int
    reason: str


class PeerRenamedEvent(TypedDict):
    """A linked peer sent a Hello with a new name of its own."""

    type: Literal["peer_renamed"]
    fingerprint: str
    name: str  # what we call them
    their_name: str  # what they call themselves
    state: NotRequired[str]  # contact, request or blocked ("": none): a /rename only for a contact
    yours: NotRequired[bool]  # their new name is our own
    namesake: NotRequired[str]  # our name for the other contact called so (ours or their own)
    namesake_verified: NotRequired[bool]


class KeyMismatchEvent(TypedDict):
    """We dialled a contact and another key answered."""

    type: Literal["key_mismatch"]
    address: str
    name: str
    expected: str
    presented: str


class LinkUpEvent(TypedDict):
    type: Literal["link_up"]
    fingerprint: str
    name: str
    contact: bool
    address: str
    path: Literal["direct", "relay"]
    relay: str | None


class LinkDownEvent(TypedDict):
    type: Literal["link_down"]
    fingerprint: str
    name: str
    reason: str
    online: bool  # still linked (a newer link replaced this one)


class StorageEvent(TypedDict):
    type: Literal["storage"]
    state: Literal["failing", "ok"]
    error: NotRequired[str | None]


class NetworksChangedEvent(TypedDict):
    type: Literal["networks_changed"]
    networks: list[str]
    waiting: list[str]  # joined, still asking members to admit us
    refused: list[str]  # no node asked admitted us: none in it, or a wrong passphrase (10.7)


class AdmissionGuessesEvent(TypedDict):
    """Wrong network passphrases from one address, past its free tries (said once per
    address); `cleared`: it proved the passphrase after all."""

    type: Literal["admission_guesses"]
    source: str
    failed: int
    cleared: bool


class AdmissionWaitingEvent(TypedDict):
    """Why a join still waits: `reason` "limited" (every node that answered limits guesses
    from our address for `seconds` more) or "none_heard" (no node with a network is heard)."""

    type: Literal["admission_waiting"]
    network: str
    reason: str
    seconds: int
    heard: int
    limiting: int


class NearbyChangedEvent(TypedDict):
    type: Literal["nearby_changed"]


class SelfRenamedEvent(TypedDict):
    """Our own name changed (`rename_self`: `p2pchat nick` or another screen's /nick): an open
    chat screen follows it (trial 11, B13 e)."""

    type: Literal["self_renamed"]
    name: str


class RelaysChangedEvent(TypedDict):
    """A relay attached or was lost: `status`'s `relays` are read again (issue 23, 18)."""

    type: Literal["relays_changed"]


class ReadChangedEvent(TypedDict):
    """A read position moved (any client): unread counts are read again."""

    type: Literal["read_changed"]
    conversation: str  # a contact's fingerprint or a group's id


class EquivocationEvent(TypedDict):
    """A member signed two versions of one message (node/equivocations.py)."""

    type: Literal["equivocation"]
    group: str
    title: str
    author: str
    author_name: str
    seq: int
    found_at: str
    text: str
    versions: list[dict[str, Any]]


class GroupEvent(TypedDict, total=False):
    """A group as `groups.list` shows it, with what changed (node/group*.py build these)."""

    type: Literal["group_joined", "group_changed", "group_invited", "group_updated"]
    group: str  # id (hex)
    title: str
    role: str  # owner, member, invited, left or removed
    members: int  # everyone in it, the invited included
    invited: int  # of those, added but not seen to accept yet
    online: int
    by: str  # group_joined: whose invitation we accepted; group_changed "add": who invited
    by_name: str
    invited_by_name: str  # group_invited
    change: str  # group_changed: add, join, remove, leave, transfer, admin, unadmin
    member: str
    member_name: str
    member_contact: bool  # group_changed: false for a member not a contact ("~name")
    you: bool
    number: int  # the op's number (join: the add's); lines "change-N", "join-N" in `log`
    text: str  # group_changed: the line as `log` shows it
    declined: bool  # a leave before the member accepted
    sent_at: str  # group_changed "join": when (ISO), just before its first message if seen so


class GroupInvitationClosedEvent(TypedDict):
    type: Literal["group_invitation_closed"]
    group: str
    title: str
    reason: Literal["accepted", "declined", "expired"]


class LaggedEvent(TypedDict):
    """Said by control.py to a subscriber that fell behind: it re-reads everything."""

    type: Literal["lagged"]


NodeEvent = (
    MessageEvent
    | DeliveryEvent
    | ContactRequestEvent
    | RequestsDroppedEvent
    | PeerRenamedEvent
    | KeyMismatchEvent
    | LinkUpEvent
    | LinkDownEvent
    | StorageEvent
    | NetworksChangedEvent
    | AdmissionGuessesEvent
    | NearbyChangedEvent
    | RelaysChangedEvent
    | SelfRenamedEvent
    | ReadChangedEvent
    | EquivocationEvent
    | GroupEvent
    | GroupInvitationClosedEvent
    | LaggedEvent
)
