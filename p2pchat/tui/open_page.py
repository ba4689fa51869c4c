"""An open page (contacts, nearby, groups, a group's members) follows the node's events: it is
drawn again from the node when an event changes what it shows (notes/s32/trial4.md 7: carol's
open Members page kept her as a member after she was removed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from p2pchat.tui.receipts import RECEIPTS

if TYPE_CHECKING:
    from p2pchat.tui.contact_commands import ContactCommands
    from p2pchat.tui.group_commands import GroupCommands
    from p2pchat.tui.state import ChatState

LINK_EVENTS = frozenset({"link_up", "link_down"})  # who is online
GROUP_EVENTS = frozenset({"group_joined", "group_changed", "group_invited", "group_updated",
                          "group_invitation_closed", "group_created",
                          "group_forgotten"})
MEMBERS = "members:"  # a group's members page: "members:" + the group's id


async def follow_open_page(state: ChatState, contacts: ContactCommands, groups: GroupCommands,
                           event: Mapping[str, Any], refresh: set[str]) -> None:
    """Draw the open page again if `event` (with what `ChatState.apply` asked to re-read)
    changes it."""
    page = state.page
    if page is None:
        return
    kind = event.get("type")
    about_groups = kind in GROUP_EVENTS or kind in LINK_EVENTS or "groups" in refresh
    # "nearby" too: the page says who discovery sees (trial 12, B10), as `p2pchat contacts`
    if page.source == "contacts" and ("contacts" in refresh or "nearby" in refresh
                                      or kind in LINK_EVENTS):
        await contacts.cmd_contacts("")
    elif page.source == "nearby" and "nearby" in refresh:
        await contacts.cmd_nearby("")
    elif page.source == "groups" and about_groups:
        await groups.cmd_group("list")
    elif page.source.startswith(MEMBERS) and about_groups and state.current is not None \
            and page.source == MEMBERS + state.current.id:
        await groups.cmd_group("members")  # the open group's, as the page shows
    elif page.source.startswith(RECEIPTS) and (kind == "delivery" or about_groups):
        await groups.follow_receipts(page.source)
