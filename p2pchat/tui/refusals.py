"""Lines the open conversation cannot take, refused before they leave the input: the text
stays there to be sent elsewhere or copied (trial 4, B13: typed into a group you left, it was
emptied)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from prompt_toolkit.buffer import Buffer

from p2pchat.core.typed_name import first_quoted
from p2pchat.tui.commands import (
    COMMANDS,
    IRC_COMMANDS,
    canonical,
    holds_secret,
    masked,
    secret_without_slash,
)
from p2pchat.tui.conversation import Conversation
from p2pchat.tui.notice_ageing import NODE_STOPPED_KEY, PASSING
from p2pchat.tui.state import ChatState


def refusal(state: ChatState, text: str, behind: bool = False) -> str | None:
    """Why `text` (a message, not a command) cannot go to the open conversation, or None;
    `behind` lines still to run, it goes where they leave the screen, so it is not judged
    by the conversation open now (trial 6, B1: `/msg alice` then a line, typed in a group
    left, kept the line in that group's input)."""
    if not state.connected:
        return node_stopped(text)
    conv = state.current
    if behind:
        return None
    if conv is None or not text.strip() or (text.startswith("/") and not text.startswith("//")):
        return None
    if conv.kind == "group" and conv.state in ("left", "removed"):
        how = "you left" if conv.state == "left" else "you were removed from"
        return (f"not sent: {how} {conv.name}, nobody there gets it (your text stays in the"
                f" input; /group forget {conv.name} takes it off the list)")
    if conv.state == "removed":  # a removed contact's kept history (trial 4, 9)
        return (f"not sent: {conv.name} is no longer a contact (your text stays in the input;"
                f" /add {conv.name} adds them again)")  # as the header says (trial13a B7)
    return None


SWITCH_AND_SEND = frozenset({"/msg"})  # canonical: /to, /query


def secret_refusal(text: str, here: str | None) -> str | None:
    """Why `text`, entered with `here` open (or leaving as a message to `here`), does not go:
    it holds what the input stars as a passphrase, and only `/network join` may carry one
    (trial 14a, B2). None: it may go. A command unknown (a typo) is refused as one, and a
    slashless `network join` has its own words (`secret_without_slash`)."""
    if not holds_secret(text):
        return None
    who = here or "the open conversation"
    if text.startswith("/") and not text.startswith("//"):
        verb = canonical(text.split(maxsplit=1)[0])
        if verb == "/network" or (verb not in COMMANDS and verb not in IRC_COMMANDS):
            return None
        if verb == "/j":  # `/join #class KEY`, IRC's channel key (s36 hunt1 F5)
            return ("not run: /j takes a conversation's name only; the words after it (the"
                    " stars, a channel key?) have no use here: remove them")
        if verb in SWITCH_AND_SEND:  # the name as typed: `/msg "Carol S" ...`, `/msg @bob ...`
            rest = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
            quoted = first_quoted(rest)
            who = quoted[0] if quoted is not None else (rest.split() or [who])[0].lstrip("@#")
        elif verb != "/me":
            who = f"whoever {verb} tells"
    return secret_words(who)


def passphrase_refusal(state: ChatState, text: str) -> str | None:
    """Why `text`, entered now, stays in the input: it holds a passphrase the input stars,
    which would leave in clear (trial 9 B12, trial 14a B1, B2). None: it may go."""
    if secret_without_slash(text):
        before = text[:text.lower().find("network")] if "network" in text.lower() else text
        what = ("that is /network join without its \"/\"" if not before.strip()
                else f"that is /network join with {before.strip()!r} for its \"/\""
                if before.strip() and not any(ch.isalnum() for ch in before)
                else "the line holds /network join after other text")
        return (f"not sent: {what}, and the passphrase would go out in clear. Type /network"
                " join NAME PASSPHRASE alone to join")
    return secret_refusal(text, state.current.name if state.current is not None else None)


def secret_words(who: str) -> str:
    """The refusal of a message holding a passphrase, going to `who`."""
    return (f"not sent: it holds a network passphrase (the stars), which would go out in clear"
            f" to {who}; remove it to send the rest")


# Commands the screen answers on its own, without the node.
LOCAL_COMMANDS = frozenset({"/help", "/quit", "/q", "/notices"})


def node_stopped(text: str) -> str | None:
    """Not connected to the node (it stopped; the screen reconnects when it is back): a line
    that needs it stays in the input (trial 6, B17: the message was cleared and lost)."""
    if not text.strip():
        return None
    if text.startswith("/") and not text.startswith("//"):
        if text.split()[0].casefold() in LOCAL_COMMANDS:
            return None
        return (f"not done: {NODE_STOPPED_KEY} (the command stays here; Enter again once"
                " reconnected; /help, /notices and /quit still work)")
    return f"not sent: {NODE_STOPPED_KEY} (it stays here; Enter again once reconnected)"


def unsendable(state: ChatState, conv: Conversation | None, text: str) -> str | None:
    """Why a message, as it runs, cannot go to `conv` (the conversation open then), or None.
    A line typed behind a command was not judged as typed (`refusal`, behind): refused here,
    it is quoted, so nothing typed is lost without a trace."""
    if conv is None:
        return "no conversation open: /msg NAME, or /add someone"
    shown = masked(text) if len(text) <= 200 else masked(text)[:200] + "…"
    if holds_secret(text):  # the last step before a message leaves, whatever its path (B2)
        return f"{secret_words(conv.name)} (your line: {shown!r})"
    if conv.state in ("request", "blocked"):
        return f"{conv.name} is blocked: /unblock {conv.name}" if conv.state == "blocked" \
            else f"{conv.name} is not a contact yet: /accept {conv.name}"
    why = refusal(state, text) if state.connected else None
    if why is None:
        return None
    return why.replace("your text stays in the input", f"your line: {shown!r}")


class _Input(Protocol):
    text: str
    buffer: Buffer


class _Quoting(Protocol):
    state: ChatState

    def quote_unsent(self, line: str, why: str) -> None: ...

    def on_change(self) -> None: ...


def hand_back(into: _Input, controller: _Quoting, line: str, why: str) -> None:
    """A line that left the input and could not run (the node went before it did): back in
    the input if nothing was typed since, as a line typed while the node is stopped stays
    there; else quoted in the notice, so nothing typed is lost without a trace."""
    if into.text:
        controller.quote_unsent(line, why)
    else:
        into.text = line
        into.buffer.cursor_position = len(line)
        if why:  # else said already (a command refused for its name)
            controller.state.notice("error", why, key=f"{PASSING}:refused:{why}")
    controller.on_change()


def offer(into: _Input, line: str) -> bool:
    """A refusal's corrected command in the input, the cursor at its end, not run; False
    when something was typed since (it is not overwritten)."""
    if into.text:
        return False
    into.text = line
    into.buffer.cursor_position = len(line)
    return True


class _Handing(_Quoting, Protocol):
    hand_back: Callable[[str, str], None]
    offer: Callable[[str], bool]


def into_input(into: Callable[[], _Input], controller: _Handing) -> None:
    """On the screen (`into`: its input, once made), a line that could not run comes back to
    the input (`hand_back`), and a refusal's corrected command is put there (`offer`)."""
    controller.hand_back = lambda line, why: hand_back(into(), controller, line, why)
    controller.offer = lambda line: offer(into(), line)
