"""The notice row's rows: the newest notice shown from its start, older ones above it, each
from its start too (notes/s31/trial2.md 18, B9: the row showed the tail of a long notice, cut
into fragments such as "  asked again"). A notice too long for its rows ends in "…"."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prompt_toolkit.formatted_text import StyleAndTextTuples

from p2pchat.tui import render
from p2pchat.tui.conversation import Notice

INDENT = 2  # continuation rows of a wrapped notice
MAX_WHOLE_ROWS = 8  # a notice meant to be read whole (/id), when it is the newest


def _rows(lines: Iterable[tuple[str, str]], width: int) -> list[StyleAndTextTuples]:
    rows: list[StyleAndTextTuples] = []
    for style, text in lines:
        rows += [list(row) for row in render.wrap([(style, text)], width, INDENT)]
    return rows


def _cut(rows: list[StyleAndTextTuples], width: int, limit: int) -> list[StyleAndTextTuples]:
    """The first `limit` rows; the last one says with "…" that there is more."""
    if len(rows) <= limit:
        return rows
    kept = rows[:limit]
    last = kept[-1]
    style = last[-1][0] if last else ""
    text = "".join(fragment[1] for fragment in last)
    # One ellipsis: fit() puts its own when it cuts (trial 4, B8 saw "……").
    kept[-1] = [(style, render.fit(text + " …", width) if len(text) + 2 <= width
                 else render.fit(text + "…", width))]
    return kept


def said_together(notices: Iterable[Notice]) -> list[list[Notice]]:
    """Notices grouped as they were said: a multi-line notice is one group."""
    groups: list[list[Notice]] = []
    for notice in notices:
        if notice.part == 0 or not groups:
            groups.append([notice])
        else:
            groups[-1].append(notice)
    return groups


def _standing(group: list[Notice]) -> bool:
    """A request, or a NEW KEY warning: it stays until answered, and is said again as the
    newest notice (news.requests_again)."""
    return group[0].key.startswith("request:")


def _fresh(group: list[Notice], seen_at: float) -> bool:
    """An answer, a warning or an error said since the user last acted (typed a line or
    switched): what they are looking for now."""
    first = group[0]
    return first.at >= seen_at and (first.answer or first.kind in ("warning", "error")
                                   or first.key.startswith("passing"))


def notice_rows(notices: Iterable[Notice], question: str | None, width: int,
                limit: int, seen_at: float = float("inf"),
                shown: set[int] | None = None) -> list[StyleAndTextTuples]:
    """At most `limit` rows: a pending question alone, else the newest notices. A standing
    request or NEW KEY warning always keeps a row, the top one, cut with "…" if need be
    (trial 14b, B1: group joins, /id's answer, "not answered" lines pushed it off the row for
    minutes while the request was pending); the rest goes below it: first the newest answer,
    warning or error said since `seen_at` (when the user last typed a line or switched), from
    its start (trial 14a, B11; 14b, B8: "unblocked bob (324TGN6): a request again" never
    showed under the 2-row warning), then the newest other notices while rows last. Once the
    user acts again, the newest notices show below it as before; the warning as the newest,
    nothing said since, shows whole. A notice `displaced` once is not shown again; `shown`
    gets the id of each notice group shown (for `displaced`). A question takes the rows, the
    standing request or warning keeping one above it (trial 14c, B8: /block's question hid
    the NEW KEY warning)."""
    groups = [g for g in said_together(notices) if not g[0].displaced]
    standing = [g for g in groups if _standing(g)]
    if question is not None:
        asked = _cut(_rows([("class:notice.warning", question)], width), width, limit)
        return (_newest(standing, width, 1) if limit >= 2 else []) + asked
    if not standing or limit < 2:
        return _newest(groups, width, limit, shown=shown)
    others = [g for g in groups if not _standing(g)]
    fresh = [g for g in others if _fresh(g, seen_at)]
    if not fresh and _standing(groups[-1]):  # the newest: whole, its commands in view
        return _newest(groups, width, limit, shown=shown)
    below = _newest(fresh[-1:], width, limit - 1, shown=shown) if fresh else []
    if len(below) < limit - 1:  # rows left: the newest of the rest above it
        rest = [g for g in others if not fresh or g is not fresh[-1]]
        below = _newest(rest, width, limit - 1 - len(below), whole=not below,
                        shown=shown) + below
    return _newest(standing, width, max(1, limit - len(below)), shown=shown) + below


def row_lines(notices: Iterable[Notice], question: str | None, width: int, limit: int,
              seen_at: float) -> list[StyleAndTextTuples]:
    """The row as `notice_rows` makes it, the notices it displaces marked so."""
    shown: set[int] = set()
    rows = notice_rows(notices, question, width, limit, seen_at, shown)
    displaced(notices, shown)
    return rows


def displaced(notices: Iterable[Notice], shown: set[int]) -> None:
    """Mark the notices off the row while a newer one is on it (`shown`, from notice_rows):
    they never come back to the row when the newer ones go (trial 14c, B7: "bob joined
    (crew)" and "left club; networks: none" came back a minute after they had left it). A
    standing request or warning is not displaced: it keeps its line; nor an invitation,
    which waits for its answer."""
    groups = said_together(notices)
    newest = max((i for i, g in enumerate(groups) if id(g[0]) in shown), default=-1)
    for group in groups[:newest]:
        if id(group[0]) not in shown and not _standing(group) and group[0].kind != "request":
            for notice in group:  # in place: the notice keeps its identity (answers_pass)
                object.__setattr__(notice, "displaced", True)


def _newest(groups: list[list[Notice]], width: int, limit: int,
            whole: bool = True, shown: set[int] | None = None) -> list[StyleAndTextTuples]:
    """The newest of `groups` first, each from its start, older ones above while rows last;
    `whole`: the newest meant to be read whole (/id) may take more rows."""
    rows_shown: list[StyleAndTextTuples] = []
    if limit <= 0:
        return rows_shown
    for group in reversed(groups):
        if shown is not None:
            shown.add(id(group[0]))
        rows = _rows(((f"class:notice.{n.kind}", n.text) for n in group), width)
        if not rows_shown:
            rows_shown = _cut(rows, width, max(limit, min(len(rows), MAX_WHOLE_ROWS))
                              if group[0].whole and whole else limit)
        else:  # an older one above, from its start, cut to the rows left
            rows_shown = _cut(rows, width, limit - len(rows_shown)) + rows_shown
        if len(rows_shown) >= limit:
            break
    return rows_shown


def said_lines(said: Iterable[tuple[float, str, str]]) -> list[str]:
    """The /notices page: each notice whole, with the time it was said (trial 4, B9: "...no
    member can ……" could not be read to its end)."""
    lines: list[str] = []
    for when, _kind, text in said:
        stamp = time.strftime("%H:%M", time.localtime(when))
        lines += [f"{stamp} {line}" if i == 0 else f"      {line}"
                  for i, line in enumerate(text.split("\n"))]
    return lines or ["No notices yet."]
