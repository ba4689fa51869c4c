"""Each public method of a part says what it does (issue 29): the node's parts, the store's parts
and the chat screen's command parts. node/group*.py join once the group part's recomposition
(another branch of issue 29) lands."""

from __future__ import annotations

import ast
from pathlib import Path

import p2pchat

ROOT = Path(p2pchat.__file__).parent
PARTS = [
    *sorted((ROOT / "node").glob("*.py")),
    *(ROOT / "storage" / name for name in ("contacts.py", "conversations.py", "groups.py",
                                            "ik_stamps.py", "networks.py")),
    *(ROOT / "tui" / name for name in ("controller.py", "contact_commands.py",
                                        "group_commands.py", "network_commands.py")),
]


def undocumented(path: Path, root: Path = ROOT) -> list[str]:
    """`Class.method` for each public method of a class in `path` without a docstring."""
    missing = []
    for cls in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(cls, ast.ClassDef):
            continue
        for item in cls.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and not item.name.startswith("_") and ast.get_docstring(item) is None:
                missing.append(f"{path.relative_to(root)}: {cls.name}.{item.name}")
    return missing


def test_every_public_method_of_a_part_has_a_docstring() -> None:
    assert [m for path in PARTS for m in undocumented(path)] == []


def test_a_method_without_one_is_found(tmp_path: Path) -> None:
    source = tmp_path / "part.py"
    source.write_text('class Part:\n    def said(self) -> None:\n        """It says."""\n\n'
                      "    def silent(self) -> None:\n        pass\n")
    assert [m.split(": ")[1] for m in undocumented(source, tmp_path)] == ["Part.silent"]

