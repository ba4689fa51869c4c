"""Text from others made safe to draw: nothing that could drive the terminal reaches it.

Message text from peers is not filtered by the wire codec, and names or error messages may echo
what someone typed; everything goes through `clean` before it enters the view-model.
"""

from __future__ import annotations

from p2pchat.core.text import is_unsafe

REPLACEMENT = "\ufffd"


def clean(text: object, *, newlines: bool = False) -> str:
    """`text` with every control or bidi-override character replaced by U+FFFD.

    Newlines survive only where the caller lays text out over several lines; a tab becomes
    spaces so that it neither vanishes nor moves the cursor.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = text.replace("\t", "    ")
    if newlines:
        text = text.replace("\r\n", "\n")
    return "".join(REPLACEMENT if is_unsafe(ch, newlines=newlines) else ch for ch in text)
