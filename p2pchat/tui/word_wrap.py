"""The input wraps at spaces, as the conversation pane does (trial 13a, B17: a long message
in the input broke "word18" into "word1" / "8"). prompt_toolkit's window wraps at the last
column; spaces put before a word that would be cut move it whole to the next row."""

from __future__ import annotations

from prompt_toolkit.layout.processors import Processor, Transformation, TransformationInput
from prompt_toolkit.layout.utils import explode_text_fragments
from prompt_toolkit.utils import get_cwidth

PREFIX_WIDTH = 2  # "> " before the first row, two spaces under it (panes.continuation_prefix)


def word_breaks(line: str, width: int) -> tuple[dict[int, int], int]:
    """How `line` wraps at `width` columns when a word that does not fit the row's end starts
    the next row whole, as in the conversation pane (trial 13a, B17: "word18" / "48"):
    {index of such a word: spaces put before it}, and the rows. A word wider than a row is
    cut where the row ends, as the terminal would."""
    pads: dict[int, int] = {}
    col, rows = 0, 1
    for i, char in enumerate(line):
        if char != " " and 0 < col < width and line[i - 1] == " ":
            end = line.find(" ", i)
            word = get_cwidth(line[i:end if end >= 0 else len(line)])
            if col + word > width and word <= width:
                pads[i] = width - col
                col, rows = 0, rows + 1
        char_width = get_cwidth(char)
        if col + char_width > width:
            col, rows = 0, rows + 1
        col += char_width
    return pads, rows


class WrapWords(Processor):
    """Wraps the input at spaces (panes.word_breaks): spaces put before a word that would be
    cut at the row's end move it whole to the next row; the cursor skips them."""

    def apply_transformation(self, ti: TransformationInput) -> Transformation:
        pads, _ = word_breaks(ti.document.lines[ti.lineno], ti.width - PREFIX_WIDTH)
        if not pads:
            return Transformation(ti.fragments)
        at = sorted((ti.source_to_display(i), pad) for i, pad in pads.items())
        fragments = explode_text_fragments(ti.fragments)
        for where, pad in reversed(at):
            fragments[where:where] = [("", " ")] * pad

        def to_display(column: int) -> int:
            return column + sum(pad for where, pad in at if where <= column)

        def to_source(column: int) -> int:
            shift = 0
            for where, pad in at:
                if column < where + shift:
                    break
                if column < where + shift + pad:
                    return where  # in the spaces put in: the word after them
                shift += pad
            return column - shift

        return Transformation(fragments, to_display, to_source)
