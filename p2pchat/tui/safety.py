"""How a safety number is laid out, the same in the CLI and in the chat screen.

Both screens must show the number the same way, or people comparing them in person look for a
difference that is only layout: two rows of six groups of five digits, one per key, in the
number's own (canonical, protocol 1.2) order, each labelled with whose key gave it. Your own row
is the same in every safety number you have (trial 2: an impostor's number started like the real
one's), so the page says to compare all of it, and their row above all.
"""

from __future__ import annotations

from p2pchat.core.identity import safety_half

GROUPS_PER_ROW = 6  # one key's half per row

SAFETY_NOTE = ("Compare all twelve groups. Your row (\"you\") is the same in every safety"
               " number you have; it is their row that tells an impostor apart.")


def safety_rows(number: str, mine: bytes | None = None, their_name: str = "them") -> list[str]:
    """The number's rows; with our key `mine`, each row says whose half it is."""
    groups = number.split()
    rows = [" ".join(groups[row:row + GROUPS_PER_ROW])
            for row in range(0, len(groups), GROUPS_PER_ROW)]
    if mine is None or len(rows) != 2:
        return rows
    first_is_mine = "".join(groups[:GROUPS_PER_ROW]) == safety_half(mine)
    if first_is_mine and "".join(groups[GROUPS_PER_ROW:]) == safety_half(mine):
        return rows  # our own key twice: no "theirs" to tell apart
    labels = ("you", their_name) if first_is_mine else (their_name, "you")
    return [f"{row}   {label}" for row, label in zip(rows, labels, strict=True)]
