"""How a safety number is laid out, the same in the CLI and in the chat screen.

Both screens must show the number the same way, or people comparing them in person look for a
difference that is only layout: three rows of four groups of five digits.
"""

from __future__ import annotations

GROUPS_PER_ROW = 4


def safety_rows(number: str) -> list[str]:
    groups = number.split()
    return ["  ".join(groups[row:row + GROUPS_PER_ROW])
            for row in range(0, len(groups), GROUPS_PER_ROW)]
