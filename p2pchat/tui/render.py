"""The view-model as styled text (prompt_toolkit's (style, text) fragments), one pane at a time.

No terminal needed: the app draws these, and tests read them. All text here was sanitised when
it entered the state.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime

from prompt_toolkit.utils import get_cwidth

from p2pchat.core.contact_words import ASKED, NOT_DELIVERED, OFFLINE, asked_header, contact_presence
from p2pchat.core.text import group_size
from p2pchat.tui.conversation import Conversation, Message, Page, invitation_words
from p2pchat.tui.files import line as file_line
from p2pchat.tui.lookalike import lookalike_words
from p2pchat.tui.reach_watch import relay_words
from p2pchat.tui.state import ChatState

Fragments = list[tuple[str, str]]

# Distinct on dark and light terminals; own messages have their own colour.
AUTHOR_COLOURS = ("ansicyan", "ansigreen", "ansimagenta", "ansiyellow", "ansiblue", "ansired",
                  "#ff8700", "#5fafff", "#d75fd7", "#87d700")
OWN_STYLE = "class:own"
# Quiet marks: a clock-like dot while waiting, one tick sent, two ticks delivered.
STATUS_MARKS = {"queued": "·", "sent": "✓", "delivered": "✓✓"}

STYLE_RULES = {
    "conv": "",
    "conv.selected": "reverse",
    "conv.request": "ansiyellow",
    "online": "ansigreen",
    "offline": "ansibrightblack",
    "unread": "bold ansibrightred",
    "time": "ansibrightblack",
    "own": "bold",  # the terminal's own colour: readable on dark and light backgrounds
    "mark": "ansibrightblack",
    "mark.delivered": "ansigreen",
    "status": "reverse",
    "status.warn": "reverse ansired",
    "notice.info": "",
    "notice.error": "ansired",
    "notice.warning": "bold ansired",
    "notice.request": "ansiyellow",
    "title": "bold",
    "empty": "ansibrightblack italic",
    "separator": "ansibrightblack",
    "header": "bold",
    "day": "ansibrightblack",
    "newline": "ansired",
    "more": "reverse ansiyellow",
    "found": "reverse ansiyellow",  # what /search found
}


def author_style(author: str, own: bool) -> str:
    if own:
        return OWN_STYLE
    # crc32, not hash(): the same person keeps the same colour across runs.
    return "bold fg:" + AUTHOR_COLOURS[zlib.crc32(author.encode()) % len(AUTHOR_COLOURS)]


def fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells, with an ellipsis when cut."""
    if get_cwidth(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = get_cwidth(ch)
        if used + w > width - 1:
            break
        out += ch
        used += w
    return out + "…"


def local_time(sent_at: str, today: date | None = None) -> str:
    """HH:MM in local time; with the date when it is not today."""
    try:
        when = datetime.fromisoformat(sent_at).astimezone()
    except (ValueError, OverflowError):  # OverflowError: 9999-12-31 moved east of UTC
        return "??:??"
    if when.date() == (today or datetime.now().astimezone().date()):
        return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def conversation_list(state: ChatState, width: int) -> Fragments:
    out: Fragments = [("class:title", fit(" Conversations", width) + "\n")]
    order = state.order()
    if not order:
        out.append(("class:empty", " none yet: /add\n"))
    digits = len(str(len(order)))
    for number, conv in enumerate(order, 1):
        out += _conversation_row(conv, conv.id == state.selected, width,
                                 f"{number:>{digits}}")
    return out


def row_mark(conv: Conversation) -> tuple[str, str]:
    """The mark before a conversation's name, and its style. A new kind of conversation adds
    its case here."""
    if conv.kind == "group" and conv.state == "invited":  # waiting for /group accept
        return "?", "class:conv.request"
    if conv.kind == "group":  # lit while any member is linked to us
        return "#", "class:online" if conv.online else "class:offline"
    if conv.state == "request" and conv.impostor_of:  # a new key under a verified name
        return "!", "class:notice.warning"
    if conv.state == "request":
        return "?", "class:conv.request"
    if conv.state == "blocked":  # listed in its place, blocked here or before the screen
        return "×", "class:offline"
    if conv.state == "removed":  # its kept history, read-only, in its place (trial 4, 9)
        return "~", "class:offline"
    if conv.online:
        return "●", "class:online"
    return "○", "class:offline"


def _conversation_row(conv: Conversation, selected: bool, width: int,
                      number: str = "") -> Fragments:
    """One row: its number (Alt+number opens it), mark, name and unread count."""
    base = "class:conv.selected" if selected else "class:conv"
    dot, dot_style = row_mark(conv)
    badge = f" ({conv.unread})" if conv.unread else ""
    lead = f" {number}" if number else ""
    used = 3 + len(lead)
    # A group we left or were removed from reads as `p2pchat group` lists it (trial 9, B16).
    removed = " (removed)" if conv.state == "removed" else \
        " (left)" if conv.kind == "group" and conv.state == "left" else ""
    mark = "#" * (conv.kind == "group" and conv.state == "invited")  # "?" alone: a request's
    label = fit(mark + conv.name + removed, max(1, width - used - get_cwidth(badge)))
    pad = " " * max(0, width - used - get_cwidth(label) - get_cwidth(badge))
    name_style = base + (" class:conv.request" if conv.state == "request" else
                         " class:offline" if removed else "")
    return [
        (f"{base} class:time", lead), (base, " "), (f"{base} {dot_style}", dot), (base, " "),
        (name_style, label), (base + " class:unread", badge), (base, pad + "\n"),
    ]


QUOTED_WHOLE = 24  # a quoted command up to this long is never broken across rows


def wrap(fragments: Iterable[tuple[str, str]], width: int, indent: int = 0) -> list[Fragments]:
    """One logical line as screen rows of `width` cells, broken at spaces when it can be;
    continuation rows start with `indent` spaces (a hanging indent under the text)."""
    width = max(1, width)
    indent = indent if indent < width // 2 else 0
    tokens: list[list[tuple[str, str]]] = []
    for style, text in fragments:
        for ch in text:
            if tokens and not (ch != " " and tokens[-1][-1][1] == " "):
                tokens[-1].append((style, ch))
            else:
                tokens.append([(style, ch)])
    tokens = [piece for token in _quoted_whole(tokens, width - indent)
              for piece in _hyphen_pieces(token, width - indent)]
    rows: list[Fragments] = []
    row: Fragments = []
    used = 0
    for token in tokens:
        word = token[:len("".join(c for _, c in token).rstrip(" "))]  # spaces within count
        word_width = sum(get_cwidth(c) for _, c in word)
        if used and used + word_width > width and word_width <= width - indent:
            rows.append(row)
            row, used = [("", " " * indent)] if indent else [], indent
        for style, ch in token:
            w = get_cwidth(ch)
            if used + w > width:
                if ch == " ":
                    continue  # spaces at the end of a row are not carried over
                rows.append(row)
                row, used = [("", " " * indent)] if indent else [], indent
            row.append((style, ch))
            used += w
    rows.append(row)
    return [_merge(_rstrip(r)) for r in rows]


def _quoted_whole(tokens: list[list[tuple[str, str]]],
                  room: int) -> list[list[tuple[str, str]]]:
    """A short quoted command ('kill 3667') as one word: a row never ends inside it
    (trial 4, B14). Longer quotes (a message) wrap as prose."""
    out: list[list[tuple[str, str]]] = []
    i = 0
    while i < len(tokens):
        glued, j = list(tokens[i]), i
        if "".join(c for _, c in glued).startswith("'"):
            while j + 1 < len(tokens) and not "".join(c for _, c in glued).rstrip(" ") \
                    .endswith("'") and len(glued) <= min(room, QUOTED_WHOLE):
                j += 1
                glued += tokens[j]
        if j > i and "".join(c for _, c in glued).rstrip(" ").endswith("'") \
                and len(glued) <= min(room, QUOTED_WHOLE):
            out.append(glued)
            i = j + 1
        else:
            out.append(list(tokens[i]))
            i += 1
    return out


def _hyphen_pieces(token: list[tuple[str, str]], room: int) -> list[list[tuple[str, str]]]:
    """A word wider than a row, split after its hyphens: a fingerprint breaks between its
    groups, never inside one (trial 4, B8: "...-SCETF" / "CC-B4DDGQE")."""
    if sum(get_cwidth(c) for _, c in token) <= room or not any(c == "-" for _, c in token):
        return [token]
    pieces: list[list[tuple[str, str]]] = [[]]
    for i, (style, ch) in enumerate(token):
        pieces[-1].append((style, ch))
        if ch == "-" and i + 1 < len(token) and token[i + 1][1] not in " -":
            pieces.append([])
    return pieces


def _rstrip(row: Fragments) -> Fragments:
    while row and row[-1][1] == " " and len(row) > 1:
        row = row[:-1]
    return row


def _merge(row: Fragments) -> Fragments:
    out: Fragments = []
    for style, text in row:
        if out and out[-1][0] == style:
            out[-1] = (style, out[-1][1] + text)
        else:
            out.append((style, text))
    return out


def day_label(sent_at: str) -> str:
    try:
        return datetime.fromisoformat(sent_at).astimezone().strftime("%A %d %B %Y")
    except (ValueError, OverflowError):
        return "an unknown day"


def history_rows(state: ChatState, width: int, today: date | None = None) -> list[Fragments]:
    """The main pane as screen rows: the open page, else the selected conversation."""
    if state.page is not None:
        return page_rows(state.page, width,
                         state.search_term if state.page.source == "search" else "")
    conv = state.current
    if conv is None:
        return welcome_rows(state, width)
    if conv.kind == "group" and conv.state == "invited":  # never "(loading)" (trial 13c, B6)
        rows = wrap([("class:notice.request",
                      invitation_words(state.conversations.values(), conv))], width)
        return rows + _kept_rows(state, conv, width, today)
    if conv.state == "request":
        note = f' ("{conv.note}")' if conv.note else ""
        rows = wrap([("class:notice.request", f"{conv.name} asks to connect{note}.")], width)
        rows += wrap([("", f"Fingerprint: {conv.id}")], width, 13)
        rows += wrap(lookalike_words(conv), width) if lookalike_words(conv) else []  # 14c B1
        rows += wrap([("class:notice.request",
                       f"/accept {conv.name} to chat, /block {conv.name} to refuse,"
                       f" /verify {conv.name} to check who it is.")], width)
        # asked again after /remove: the kept history shows (trial 3, 27)
        return rows + _kept_rows(state, conv, width, today)
    files = [wrap([file_line(t)], width, 9) for t in state.transfers.of(conv.id)]
    if conv.asks_again and not any(n.key == asking_key(conv.id) for n in state.notices):
        # below the kept history, where the eye is (issue 23, B4); not while /remove's answer
        # says it on the notice row just below (trial 12, B4: said twice)
        files.append([[], *wrap([("class:empty", still_asking(conv.name))], width)])
    if not conv.messages:
        loading = "" if conv.loaded else " (loading)"
        return wrap([("class:empty", f"No messages with {conv.name} yet{loading}.")], width) \
            + [row for rows in files for row in rows]
    rows = []
    for _, _, chunk in _message_rows(state, conv, width, today):
        rows += chunk
    return rows + [row for rows_ in files for row in rows_]


def _kept_rows(state: ChatState, conv: Conversation, width: int,
               today: date | None) -> list[Fragments]:
    """Below a request or an invitation: the history kept from before, if any."""
    if not conv.messages:
        return []
    rows = [[], *wrap([("class:empty", "Your history from before, kept:")], width)]
    for _, _, chunk in _message_rows(state, conv, width, today):
        rows += chunk
    return rows


def asking_key(fingerprint: str) -> str:
    """The key of /remove's answer when their node still has us: the pane says it otherwise."""
    return f"asking:{fingerprint}"


def still_asking(name: str, typed: str = "") -> str:
    """A removed contact whose node still has us (it asks again by itself), in words; `typed`:
    the name as commands take it ("@carol" when a group is called carol too)."""
    typed = typed or name
    return (f"{name}'s node still has you as a contact: /add {typed} links you again;"
            f" /block {typed} stops it asking.")


def message_row(state: ChatState, width: int, message_id: str) -> int | None:
    """The row the open conversation's message `message_id` starts at (a /search jump)."""
    conv = state.current
    if conv is None or state.page is not None or conv.state == "request":
        return None
    row = 0
    for shown, rules, chunk in _message_rows(state, conv, width, None):
        if shown == message_id:
            return row + rules
        row += len(chunk)
    return None


def _message_rows(state: ChatState, conv: Conversation, width: int,
                  today: date | None) -> Iterator[tuple[str, int, list[Fragments]]]:
    """Each message's id, how many rules (day, "new messages") come first, and its rows."""
    day = ""
    today = today or datetime.now().astimezone().date()
    for message in conv.messages:
        rows: list[Fragments] = []
        label = day_label(message.sent_at)
        if label != day:
            day = label
            rows.append(_rule(label, width, "class:day"))
        if message.id == conv.first_unread:
            rows.append(_rule("new messages", width, "class:newline"))
        rules = len(rows)
        fragments, indent = _message(message, today, RECEIPTS_STOPPED.get(conv.state, "")
                                     if conv.kind == "group" else "")
        if state.search_term:
            fragments = highlight(fragments, state.search_term, start=2)
        for line_index, line in enumerate(_split_newlines(fragments)):
            rows += wrap(([("", " " * indent)] if line_index else []) + line, width, indent)
        yield message.id, rules, rows


def highlight(fragments: Fragments, term: str, start: int = 0) -> Fragments:
    """`term` (case does not matter) marked in the fragments from index `start` on."""
    wanted = term.casefold()
    out: Fragments = list(fragments[:start])
    for style, text in fragments[start:]:
        folded = text.casefold()
        at = 0
        while wanted and len(folded) == len(text):  # casefold kept the length: safe to cut
            found = folded.find(wanted, at)
            if found < 0:
                break
            if found > at:
                out.append((style, text[at:found]))
            out.append((f"{style} class:found", text[found:found + len(term)]))
            at = found + len(term)
        if at < len(text):
            out.append((style, text[at:]))
    return out


def welcome_rows(state: ChatState, width: int) -> list[Fragments]:
    """The first screen of someone with no contacts yet: who they are and how to start."""
    me = state.me
    lines: list[tuple[str, str, int]] = [
        ("class:title", f"Welcome{', ' + me.name if me.name else ''}!", 0),
        ("", "", 0),
        ("", "Your fingerprint (give it to the people you want to chat with):", 0),
        ("class:title", "  " + (me.fingerprint or "..."), 2),
        ("", "", 0),
        ("", "To share it: /id shows it again; /verify NAME shows it as a QR code with the"
             " safety number you compare in person.", 2),
        ("", "To add someone: /nearby lists people on this network, then /add NUMBER;"
             " or /add FINGERPRINT NAME with the fingerprint they gave you.", 2)
        if state.mdns or state.discovering or state.starting else
        # /nearby finds no one with discovery off (trial 13, B15)
        ("", "To add someone: discovery is off here, so /nearby finds no one: /add FINGERPRINT"
             " NAME HOST:PORT with the fingerprint and address their /id shows (the address"
             " may be left out when you both use the same relay).", 2),
        ("", "Everything else: /help.", 0),
    ]
    if state.starting:
        lines.append(("class:empty", "Starting your node...", 0))
    rows: list[Fragments] = []
    for style, text, indent in lines:
        rows += wrap([(style, text)], width, indent)
    return rows


def _rule(label: str, width: int, style: str) -> Fragments:
    text = f" {label} "
    side = max(0, width - get_cwidth(text)) // 2
    return [(style, fit("─" * side + text + "─" * side, width))]


def _split_newlines(fragments: Fragments) -> list[Fragments]:
    lines: list[Fragments] = [[]]
    for style, text in fragments:
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if index:
                lines.append([])
            if part:
                lines[-1].append((style, part))
    return lines


def history(state: ChatState, today: date | None = None) -> tuple[Fragments, int]:
    """The selected conversation as one text (for tests and plain readers), and its rows."""
    rows = history_rows(state, 10_000, today)
    out: Fragments = []
    for index, row in enumerate(rows):
        if index:
            out.append(("", "\n"))
        out += row
    return out, len(rows)


# A group we are out of: no member's vector reaches us any more, so a count short of all is
# as it was then, and says so (trial 10, B5: "✓ 1/2" for ever though both had it).
RECEIPTS_STOPPED = {"removed": "when you were removed", "left": "when you left"}


def _message(message: Message, today: date, stopped: str = "") -> tuple[Fragments, int]:
    stamp = local_time(message.sent_at, today)
    if len(stamp) > 5:
        stamp = stamp[-5:]  # the day separator above says which day
    out: Fragments = [("class:time", stamp + " "),
                      (author_style(message.author, message.own), message.author_name),
                      ("", ": ")]
    indent = get_cwidth(stamp) + 1
    if message.system:  # what happened (a member joined): no author, quieter
        return [("class:time", stamp + " "), ("class:empty", "— " + message.text)], indent
    text = message.text
    if text.startswith("/me ") and text[4:].strip():  # an action, as IRC shows it
        out[1:] = [("", "* "), (author_style(message.author, message.own),
                                message.author_name), ("", " ")]
        text = text[4:]
    out.append(("", text))
    if message.own and message.status:
        mark_style = "class:mark.delivered" if message.status == "delivered" else "class:mark"
        mark = STATUS_MARKS.get(message.status, message.status)
        if message.delivered is not None and message.delivered[1] > 0:
            count, of = message.delivered  # a group message: ✓ 7/9, and ✓✓ 9/9 once all hold it
            done = count >= of
            if done or count:
                mark = STATUS_MARKS["delivered" if done else "sent"]
            mark = f"{mark} {count}/{of}" + (f" {stopped}" if stopped and not done else "")
            mark_style = "class:mark.delivered" if done else "class:mark"
        elif message.delivered is not None:  # a group with nobody else in it (trial 11,
            mark = "· 0/0 only you"  # B13 b: '·' for ever read as waiting to be sent)
        out.append((mark_style, " " + mark))
    return out, indent


def page_rows(page: Page, width: int, mark: str = "") -> list[Fragments]:
    """A page's lines (its title is in the header above it); `mark` is what /search found,
    marked in each result's text as in the conversation (trial 4, A25)."""
    rows: list[Fragments] = []
    for kind, text in page.lines:
        style = f"class:notice.{kind}"
        said = text.find(": ", text.find("] ")) + 2 if mark and text.find("] ") > 0 else 0
        indent = len(text) - len(text.lstrip(" "))
        gap = text.find("  ", 3)
        if text.startswith("  /") and gap > 0:  # a command: its description wraps under itself
            indent = len(text) - len(text[gap:].lstrip(" "))
            if indent >= width // 2:  # too narrow for two columns (trial 4, B10):
                rows += wrap([(style, text[:gap])], width, 4)
                text, indent = "      " + text[gap:].lstrip(" "), 6  # described below it
        else:
            indent += 2
        fragments = highlight([(style, text[:said]), (style, text[said:])], mark, start=1) \
            if said > 1 else [(style, text)]
        rows += wrap(fragments, width, min(indent, 30))
    return rows


def header(state: ChatState) -> str:
    """The main pane's title: what it shows, and how to leave a page."""
    from p2pchat.tui.conversation import conversation_label  # here: render.py is at its limit
    if state.page is not None:
        return f" {state.page.title} (Esc to close)"
    conv = state.current
    if conv is None:
        return " p2pchat"
    # In `p2pchat contacts`' words (core/contact_words.py; trial 12, B10), with more after them
    nearby = any(n.get("fingerprint") == conv.id for n in state.nearby_now)
    where = "online" if conv.online else contact_presence(
        {"state": conv.state}, nearby=nearby, asked=conv.answers == "asked")
    if where in (ASKED, NOT_DELIVERED):  # their node has it (`awaited`), or not (14a, B18)
        where = asked_header(conv.name, conv.awaited)
    if where == OFFLINE and conv.last_seen and conv.state == "contact":  # trial 9, B7
        where = f"offline (last seen {local_time(conv.last_seen)})"
    if not conv.online and conv.unreachable and conv.state == "contact":  # trial 8, B2/B5
        where = f"{where}: {conv.unreachable}"
    # Their node runs and does not link: not "offline", no "last seen" from a knock (trial 11)
    if not conv.online and conv.answers in ("awaits", "unanswered") and conv.state == "contact":
        where = f"not linked: {conv.unreachable}" if conv.unreachable else \
            f"asked, waiting for {conv.name} to accept"
    if conv.online and conv.relay:  # slower, and the relay sees when we talk (not what)
        where = f"online via relay {conv.relay.split('#')[0]}"  # its key is in /peers
    if not state.connected and conv.state == "contact":  # it cannot know (trial 12, B9)
        where = "not known while your node is stopped"
    where += " · verified" * conv.verified
    if conv.state == "request":
        where = "asks to connect"
    elif conv.state == "blocked":
        where = f"blocked (/unblock {conv.name})"
    elif conv.state == "removed" and conv.asks_again:  # quietly, not "asks to connect" (B4)
        where = f"removed; their node still has you as a contact (/add {conv.name} links you" \
            " again)"
    elif conv.state == "removed" and conv.kind != "group":
        where = "removed: the kept history, read-only (/add FINGERPRINT NAME writes again)"
    elif conv.kind == "group":
        where = {"left": "group (you left)", "removed": "group (you were removed)",
                 "invited": "group invitation"}.get(conv.state, "group")
        if conv.members and where.endswith(("group", "invitation")):  # "3 members, 1 invited"
            where += f" · {group_size(conv.members, conv.invited)}"
    return f" {conversation_label(state.conversations.values(), conv)} · {where}"  # 14b B9: #bob


def status_line(state: ChatState, width: int = 10_000) -> Fragments:
    """Name, who is online, how visible we are; shorter words when the window is narrow."""
    me = state.me
    online = sum(1 for c in state.conversations.values()
                 if c.online and c.state == "contact")
    if state.starting:
        network = ("connecting...", "connecting")
    elif state.discovering and not state.mdns:
        network = ("starting to look on this network...", "looking...")
    elif state.networks:  # only members of these networks see or reach us
        names = ", ".join(state.networks)
        network = (f"visible to network {names}" if state.mdns
                   else f"network {names}, discovery off",
                   f"net {names}" if state.mdns else f"net {names}, discovery off")  # 13b B12
    elif state.networks_waiting and not state.mdns:  # strangers are refused (trial 4, B3)
        network = (f"closed to strangers until admitted to {', '.join(state.networks_waiting)}",
                   "closed")
    elif not state.mdns:  # with a relay, the relay's words say how we are reached
        network = ("discovery off" if state.relays else "discovery off: reached by address only",
                   "discovery off")
    elif state.networks_refused:  # failed, not waiting (trial 3, 15): an advert, no entries
        names = ", ".join(state.networks_refused)
        # not "passphrase refused": nobody nearby may be in it yet (trial 11)
        network = (f"{names}: not admitted: nobody in it here, or a wrong passphrase"
                   f" (/network join {state.networks_refused[0]} again)", "not admitted")
    elif state.networks_waiting:  # an advert with no entries
        network = (f"hidden nearby until admitted to {', '.join(state.networks_waiting)}",
                   "hidden")
    elif state.presence == "private":
        network = ("visible only to contacts", "private")
    else:
        network = ("visible on this network", "visible")
    relay = relay_words(state.relays)  # trial 8, B15: a relay-only node said nothing of it
    warn = "· node stopped: reconnecting... " if not state.connected else ""
    unread = f"{state.unread_total} unread" if state.unread_total else ""
    # Not "in background": it may be a `p2pchat node` in another terminal (trial 11)
    background = (("node in another chat screen", "node in other screen")
                  if state.node_in_chat_screen else ("node runs apart", "node apart")) \
        if state.mode == "attached" else ("", "")
    # Contacts only, and it says so: a group's member who is no contact is not counted
    # (trial 10, B10: "1 online" beside a Members page with two online).
    contacts = f"{online} contact{'s' * (online != 1)} online"
    if not state.connected:  # only what is true while the node is away (trial 11)
        contacts, network, relay, background = "", ("", ""), ("", ""), ("", "")
    # Who you are is the last thing shortened: everything else has its short words first
    # (trial 11, B13 c: at 80 columns a relay down dropped the user's own fingerprint).
    you = f" {me.name} {me.fingerprint[:7]}"
    few = f"{online} on" if contacts else ""
    # Whether quitting stops the node is kept in short words down to the last but one (trial
    # 13, B14: at 80 columns "node runs apart" went first, and nothing else on screen said it).
    candidates = (
        [you, contacts, network[0], relay[0], unread, background[0]],
        [you, contacts, network[1], relay[0], unread, background[1]],
        [you, contacts, network[1], relay[1], unread, background[1]],
        [you, few, network[1], relay[1], unread, background[1]],
        [you, few, network[1], relay[1], unread],
        [f" {me.name}", few, network[1], relay[1], unread],
    )
    text = ""
    for parts in candidates:
        text = " · ".join(p for p in parts if p) + " "
        if get_cwidth(text) + get_cwidth(warn) <= width:
            break
    out: Fragments = [("class:status", fit(text, max(1, width - get_cwidth(warn))))]
    if warn:
        out.append(("class:status.warn", fit(warn, width)))
    return out


def notices(state: ChatState, limit: int) -> Fragments:
    out: Fragments = []
    for notice in list(state.notices)[-limit:]:
        if out:
            out.append(("", "\n"))
        out.append((f"class:notice.{notice.kind}", notice.text))
    return out
