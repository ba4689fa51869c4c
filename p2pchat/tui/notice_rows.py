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


def notice_rows(notices: Iterable[Notice], question: str | None, width: int,
                limit: int, seen_at: float = float("inf")) -> list[StyleAndTextTuples]:
    """At most `limit` rows: a pending question alone, else the newest notices. A warning or
    an error said after `seen_at` (when the user last typed a line or switched) is not hidden
    behind a standing request: it shows below it, from its start, the request keeping a row
    above (trial 14a, B11: "--listen --relay --no-mdns did nothing" never reached the row
    under a NEW KEY warning); once the user acts, the newest notices show as before."""
    if question is not None:
        return _cut(_rows([("class:notice.warning", question)], width), width, limit)
    groups = said_together(notices)
    fresh = [g for g in groups if not _standing(g) and g[0].kind in ("warning", "error")
             and g[0].at > seen_at]
    standing = [g for g in groups if _standing(g)]
    if fresh and standing and limit > 1:
        below = _newest(fresh, width, limit - 1)
        return _newest(standing, width, max(1, limit - len(below))) + below
    return _newest(groups, width, limit)


def _newest(groups: list[list[Notice]], width: int, limit: int) -> list[StyleAndTextTuples]:
    """The newest of `groups` first, each from its start, older ones above while rows last."""
    shown: list[StyleAndTextTuples] = []
    for group in reversed(groups):
        rows = _rows(((f"class:notice.{n.kind}", n.text) for n in group), width)
        if not shown:
            shown = _cut(rows, width, max(limit, min(len(rows), MAX_WHOLE_ROWS))
                         if group[0].whole else limit)
        else:  # an older one above, from its start, cut to the rows left
            shown = _cut(rows, width, limit - len(shown)) + shown
        if len(shown) >= limit:
            break
    return shown


def said_lines(said: Iterable[tuple[float, str, str]]) -> list[str]:
    """The /notices page: each notice whole, with the time it was said (trial 4, B9: "...no
    member can ……" could not be read to its end)."""
    lines: list[str] = []
    for when, _kind, text in said:
        stamp = time.strftime("%H:%M", time.localtime(when))
        lines += [f"{stamp} {line}" if i == 0 else f"      {line}"
                  for i, line in enumerate(text.split("\n"))]
    return lines or ["No notices yet."]
