"""What `group create` and `group accept` did, and what to do next, in a sentence (issue 23),
not a `group list` row."""

from __future__ import annotations

import shlex
import sys
from typing import Any

from p2pchat.core.group_words import and_invited
from p2pchat.core.text import group_size
from p2pchat.tui.sanitize import clean


def said_group(action: str, result: dict[str, Any]) -> None:
    """What `group create` and `group accept` did, and what to do next, in words."""
    title = clean(result["title"])
    # '#' only where a contact shares the name (the node's note says so) or the bare title
    # would read as a marked one; else as typed (trial 4, B17: '#climbing' for no reason).
    marked = bool(result.get("note")) or title.startswith(("#", "@"))
    name = shlex.quote(("#" if marked else "") + title)
    if action == "create" and result.get("invitees"):
        print(f"Created the group {title} (id {result['group']}); you are its owner"
              f"{and_invited([clean(n) for n in result['invitees']])}.")
    elif action == "create":
        print(f"Created the group {title} (id {result['group']}); you are its owner and its only"
              f" member. Invite contacts with: p2pchat group invite {name} CONTACT")
    else:  # in words, as `group decline` says it (trial 2, B11)
        size = group_size(result["members"], result.get("invited", 0), result["online"])
        print(f"You joined {title} ({size}): the members you"
              f" reach bring you its messages; p2pchat send {name} TEXT writes to it.")
    if result.get("note"):  # e.g. a group named like a contact
        print(f"Note: {clean(result['note'])}", file=sys.stderr)


def said_member(action: str, who: str, result: dict[str, Any]) -> None:
    """What `group invite` and `group remove` did, in a sentence with the group's size (trial
    13b, B11: a `group list` row alone said nothing of carol)."""
    title = clean(result["title"])
    size = group_size(result["members"], result.get("invited", 0), result.get("online"))
    print(f"Invited {who} to {title}: they join when they accept ({size})." if action == "invite"
          else f"Removed {who} from {title} ({size}).")
