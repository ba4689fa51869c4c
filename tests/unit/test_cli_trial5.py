"""Trial 5's CLI wording points (issue 23): what the CLI prints can be pasted and reads as a
list, not as an event."""

from __future__ import annotations

import re
import shlex

from p2pchat.cli.contact_warnings import impostor_warning


def test_the_impostor_warning_gives_a_command_that_pastes_whole() -> None:
    """B7: "('p2pchat safety 'bob (DLUBGO3)'')" nested quotes; the command must split back into
    exactly the name it is about."""
    contacts = [{"name": "bob", "fingerprint": "F1", "state": "contact"}]
    request = {"name": "bob (DLUBGO3)", "state": "request", "same_name_verified": True,
               "same_name_as": "F1"}
    warning = impostor_warning(request, contacts)
    command = re.search(r"\((p2pchat safety .*)\) before you accept", warning)
    assert command is not None, warning
    assert shlex.split(command.group(1)) == ["p2pchat", "safety", "bob (DLUBGO3)"], warning
