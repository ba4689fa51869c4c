"""What Tab offers on the input line, and how unsent text is named: the words the screen
(tui/app.py) puts on what it holds, from the view-model (tui/state.py)."""

from __future__ import annotations

from collections.abc import Iterable

from prompt_toolkit.buffer import Buffer
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from p2pchat.tui.commands import COMMANDS, IRC_COMMANDS, canonical, complete, secret_start
from p2pchat.tui.conversation import Conversation, conversation_label
from p2pchat.tui.files import path_completions
from p2pchat.tui.sanitize import clean
from p2pchat.tui.state import ChatState


class InputCompleter(Completer):
    """/commands; names, blocked names or nearby people after the commands that take one."""

    def __init__(self, state: ChatState) -> None:
        self._state = state

    def get_completions(self, document: Document,
                        complete_event: CompleteEvent) -> Iterable[Completion]:
        typed = document.text_before_cursor
        if not typed.startswith("/") and not complete_event.completion_requested:
            return  # in a message, names complete on Tab only: no menu while typing
        for text, start in completions(self._state, typed):
            yield Completion(text, start_position=start, display=text.rstrip(" ") or text,
                             display_meta=_what_it_does(text) if " " not in typed else "")


def _what_it_does(command: str) -> str:
    """A command's help beside it in the menu: the list reads as a short /help."""
    spec = (COMMANDS | IRC_COMMANDS).get(canonical(command.strip()))
    return spec.help if spec is not None else ""


def completions(state: ChatState, text: str) -> list[tuple[str, int]]:
    convs = list(state.conversations.values())
    names = [c.name for c in convs]
    if canonical(text.partition(" ")[0]) in EITHER_KIND:  # never a name Enter refuses
        names = addressed(convs, text.partition(" ")[2].lstrip()[:1])
    strangers = [n for n in state.nearby + state.nearby_now if not n.get("contact")]
    offered = [str(n.get(field) or "") for n in strangers for field in ("name", "fingerprint")]
    # Heard on the network: only what is already safe to show (and to type) is offered.
    nearby = [text for text in offered if text and clean(text) == text]
    verb, space, typed = text.partition(" ")
    paths = path_completions(typed.lstrip()) if space and verb == "/file" else []
    groups = [c for c in convs if c.kind == "group"]
    current = state.current  # /group invite: only those not in it yet (trial 6, B16)
    in_group = current.member_fps if current is not None and current.kind == "group" \
        else frozenset()
    options = complete(text, names, {
        "blocked": state.blocked, "nearby": nearby, "path": paths,
        "contacts": [c.name for c in convs if c.kind != "group" and c.state == "contact"
                     and c.id not in in_group],
        "invited": [c.name for c in groups if c.state == "invited"],
        "ended": [c.name for c in groups if c.state in ("left", "removed")]})
    # A request under a NEW KEY in a verified contact's name is never offered first (trial 12).
    suspect = {c.name for c in convs if c.impostor_of}
    return sorted(options, key=lambda option: option[0].rstrip(" ") in suspect)


# The commands whose NAME may be a contact's or a group's: a name both have is ambiguous there
# (conversation.find_conversation); the others take a contact's (tui/contact_only.py).
EITHER_KIND = ("/msg", "/j")


def addressed(convs: list[Conversation], mark: str = "") -> list[str]:
    """The conversations' names as /msg takes them: "@carol" and "#carol" where a contact and
    a group are both called carol, as find_conversation would refuse the bare name (trial
    13c, B11: "/msg ca" Tab gave "carol", which Enter refused). With `mark` ("#" or "@")
    typed first, every group's (or contact's) name under it, as find_conversation takes them
    too (trial 14a, B9: "/msg #b" Tab completed nothing)."""
    by_name: dict[str, list[Conversation]] = {}
    for conv in convs:
        by_name.setdefault(conv.name.casefold(), []).append(conv)
    names: list[str] = []
    for named in by_name.values():
        if len({c.kind for c in named}) > 1:  # a removed contact's history yields, as there
            named = [c for c in named if c.state != "removed" or c.kind == "group"]
        if len({c.kind for c in named}) > 1:
            names += [("#" if c.kind == "group" else "@") + c.name for c in named]
        else:
            names += [c.name for c in named]
    kind = {"#": "group", "@": "dm"}.get(mark)
    return names + [mark + c.name for c in convs if c.kind == kind] if kind else names


def conversation_name(state: ChatState, conv_id: str) -> str:
    """How a question names a conversation (a draft's): as the list and /msg tell it apart."""
    conv = state.conversations.get(conv_id)
    if conv is None:
        return "a conversation now gone" if conv_id else "the input"
    return conversation_label(state.conversations.values(), conv)  # trial 14a, B15


def listed(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def complete_now(state: ChatState, buffer: Buffer) -> None:
    """Complete from what is typed right now, not from a background run that may lag a
    quick typist: one match is inserted, several open the menu."""
    before = buffer.document.text_before_cursor
    # A word typed here would be a passphrase (`/network join NAME `, or inside one): nothing
    # there is a name, so Tab is a gap (trial 14c, B2: a Tab glued the passphrase to the
    # name, unstarred, into the history and out as a message).
    options = [] if secret_start(before + " x") is not None else completions(state, before)
    if not options and before and not before[-1].isspace():
        # Nothing to complete: a gap, so a tab-separated paste without bracketed paste (each
        # tab a Tab key) keeps its words apart, and the mask sees the passphrase.
        buffer.insert_text(" ")
    elif len(options) == 1:
        text, start = options[0]
        buffer.delete_before_cursor(-start)
        buffer.insert_text(text)
        if text.endswith(" ") and completions(state, buffer.document.text_before_cursor):
            buffer.start_completion(select_first=False)  # a whole word: now its arguments
    elif options:
        buffer.start_completion(select_first=True)
