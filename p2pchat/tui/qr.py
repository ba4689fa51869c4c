"""A QR code of a short text in half-block characters, for a phone's camera (/verify)."""

from __future__ import annotations


def qr_lines(text: str) -> list[str]:
    """`text` as a QR code in half-block characters (two rows per line), or nothing."""
    try:
        import segno
    except ImportError:
        return ["(no QR code: the segno package is missing)"]
    code = segno.make(text, error="m")
    matrix = [list(row) for row in code.matrix]
    border = 2
    size = len(matrix) + 2 * border

    def dark(y: int, x: int) -> bool:
        y, x = y - border, x - border
        return 0 <= y < len(matrix) and 0 <= x < len(matrix) and bool(matrix[y][x])

    lines = []
    for y in range(0, size, 2):
        row = ""
        for x in range(size):
            top, bottom = dark(y, x), dark(y + 1, x)
            row += {(False, False): "█", (True, False): "▄", (False, True): "▀",
                    (True, True): " "}[(top, bottom)]
        lines.append("  " + row)
    return lines
