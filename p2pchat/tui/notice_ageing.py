"""How long a notice stays in the notice row (README, "The chat screen"), as weechat and
Signal users expect: what happened (a join, a removal, a new name, "you joined") is news for a
while, and the conversation's own lines keep the record; a warning, a question or a request
stays until it is answered or no longer true.

- an informational notice goes once it is EVENT_LIFETIME old AND the user has typed a line or
  switched conversations since it was said (someone away from the screen still finds it);
- any informational notice about nothing still going on goes after INFO_LIFETIME regardless;
- an error in answer to a command ("no contact named 'nobody'") is a one-off answer: it goes at
  the next command typed or conversation switched to (`answers_pass`, the controller);
- an answer to a y/n question ("not quitting", "bob not blocked") goes at the next command or
  key that does something, and after ANSWER_LIFETIME even when nothing is done (trial 11,
  18 f: "not quitting" stayed 3½ minutes with nothing typed);
- what a command said ("left club; networks: none", "you joined hikers: opened it") goes
  after INFO_LIFETIME, or once another command runs a while later, whatever its key
  (`answers_pass` marks it; notes/s34/trial12.md B7b: keyed answers stayed for minutes);
- other errors go ERROR_LIFETIME after the next line typed (the controller);
- warnings and requests stay until what they are about changes (keyed notices);
- a notice tied to a state goes as soon as that state ends, whatever its kind: "the node
  stopped" when the node is back (notes/s33/trial9.md B3: it stayed for minutes); why a
  contact seems offline goes when the reach watch reads that the node links to them (a link
  coming up is not enough: it may be a knock their node closes, tui/reach_watch.py);
- /add's "the link comes up when they are online" becomes "you are linked" when it has
  (`linked_now`), and from then on ages as the answer it is.

Time comes from `ChatState.clock` (a monotonic clock; tests pass their own)."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import TYPE_CHECKING

from p2pchat.tui.conversation import Notice

if TYPE_CHECKING:
    from p2pchat.tui.state import ChatState

EVENT_LIFETIME = 60.0  # seconds an informational notice stays once the user acted since
INFO_LIFETIME = 120.0  # seconds an unkeyed informational notice stays when nothing happens
ANSWER_LIFETIME = 20.0  # seconds a passing answer ("not quitting") stays when nothing happens
# The key prefix of a one-off answer ("nothing unread", a refusal): it goes at the next command
# or key that does something (notes/s31/trial3.md 18, notes/s32/trial5.md 18: they lingered).
PASSING = "passing"
# "they see a request until they add you too", "the link comes up when they are online": true
# until the link comes up, which drops them (ChatState)
ONGOING = ("pending:", "linking:")
NODE_DOWN = "node:down"  # "the node stopped; reconnecting when it is back"
# The words of a refusal while the node is stopped (tui/refusals.py), in its key (tui/app.py
# keys refusals by their words): untrue once reconnected
NODE_STOPPED_KEY = "your node is stopped"
REACH = "reach:"  # why a contact seems offline (tui/reach_watch.py): one per contact


def user_acted(state: ChatState) -> None:
    """A line typed or a conversation switched to: what was said before it has been seen."""
    state.acted_at = state.clock()


def _still_going_on(state: ChatState, notice: Notice) -> bool:
    if notice.key.startswith(ONGOING):
        return True
    # "waiting to be admitted to club" is true while the node waits
    return notice.key.startswith("admission:") \
        and notice.key.removeprefix("admission:") in state.networks_waiting


def no_longer_true(state: ChatState, notice: Notice) -> bool:
    """The state this notice says has ended."""
    if notice.key == NODE_DOWN or NODE_STOPPED_KEY in notice.key:
        return state.connected  # trial 12: "not sent: your node is stopped" beside "reconnected"
    # A REACH notice ("dave's node no longer knows you", "closes the connection unanswered")
    # is not ended by a link coming up: our node knocks on such a contact (net/dialer.py),
    # and each knock is a link that their node closes at once; the notice went at each knock
    # and was said again at the watch's next read. The watch, reading the node, drops it.
    return False


def _aged(state: ChatState, notice: Notice, now: float) -> bool:
    if notice.kind != "info" or _still_going_on(state, notice):
        return False
    if notice.key.startswith(PASSING) and now - notice.at >= ANSWER_LIFETIME:
        return True  # a one-off answer read at once, or never needed again
    if notice.answer and now - notice.at >= INFO_LIFETIME:
        return True  # what a command said, even keyed (trial 12, B7b)
    seen = state.acted_at > notice.at and now - notice.at >= EVENT_LIFETIME
    return seen or (not notice.key and now - notice.at >= INFO_LIFETIME)


def age_notices(state: ChatState) -> bool:
    """Drop the notices that are no news any more; whether any went."""
    now = state.clock()
    kept = [n for n in state.notices
            if not _aged(state, n, now) and not no_longer_true(state, n)]
    if len(kept) == len(state.notices):
        return False
    state.notices = deque(kept, maxlen=state.notices.maxlen)
    return True


def _answered(state: ChatState, notice: Notice) -> Notice:
    """`notice`, said while a command ran, as that command's answer."""
    if notice.kind == "error" and not notice.key:
        return dataclasses.replace(notice, key=f"{PASSING}:answer")
    if notice.kind == "info" and not notice.answer and not _still_going_on(state, notice) \
            and not notice.key.startswith(REACH):  # why a contact seems offline: while true
        return dataclasses.replace(notice, answer=True)
    return notice


LINK_WAIT = "you can chat (the link comes up when they are online)"  # "added carol; ..." (linking:)
LINKED = "you are linked: you can chat"
LINKED_KEY = "linked:"  # /add's answer that says they are linked: untrue at link down


def linked_now(state: ChatState, fingerprint: str) -> None:
    """The link to `fingerprint` is up: "added carol; they had added you too, so you can chat
    (the link comes up when they are online)" says it is, and stays as /add's answer for its
    time (notes/s35/trial13a.md 18 b: the wait stayed 9 minutes beside the link; 18 f: the
    answer went within 3 s when the link dropped it)."""
    _reword(state, f"linking:{fingerprint}", LINK_WAIT, LINKED, answer=True)
    _reword(state, f"{LINKED_KEY}{fingerprint}", LINK_WAIT, LINKED)


def link_lost(state: ChatState, fingerprint: str) -> None:
    """The link to `fingerprint` went down: /add's "you are linked" says "the link comes up
    when they are online" again, still the answer ageing as one, and `linked_now` says it
    is linked when it is again (trial 14a, B12: re-adding a fellow member, their group link
    closed to link again as contacts, and the answer went at that flap)."""
    _reword(state, f"{LINKED_KEY}{fingerprint}", LINKED, LINK_WAIT)


def _reword(state: ChatState, key: str, old: str, new: str, *, answer: bool = False) -> None:
    """The notice keyed `key` with `old` said as `new`, keyed as a linked answer."""
    if not any(n.key == key and old in n.text for n in state.notices):
        return
    fingerprint = key.split(":", 1)[1]
    state.notices = deque((dataclasses.replace(n, text=n.text.replace(old, new),
                                               key=f"{LINKED_KEY}{fingerprint}",
                                               answer=answer or n.answer)
                           if n.key == key else n
                           for n in state.notices), maxlen=state.notices.maxlen)


def answers_pass(state: ChatState, before: list[Notice]) -> None:
    """The errors said since `before` (the notices when a command started) answer that
    command: they pass at the next one, whichever handler said them (trial 5, 18); its
    information goes after INFO_LIFETIME (trial 12, B7b), or at once when a newer command
    says something. Warnings, requests and what is still going on keep their own rules."""
    earlier = {id(n) for n in before}
    said = [n for n in state.notices if id(n) not in earlier]
    if not said:
        return
    marked = [n if id(n) in earlier else _answered(state, n) for n in state.notices]
    if any(n.kind in ("info", "error") for n in said):
        # A newer command's answer replaces the older ones (trial 14b, B11: "accepted alice:
        # opened alice's conversation" stayed beside /add carol's answer)
        marked = [n for n in marked if id(n) not in earlier or not n.answer]
    state.notices = deque(marked, maxlen=state.notices.maxlen)
