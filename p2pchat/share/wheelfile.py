"""Writing a wheel: a zip whose last member, RECORD, lists every other member with its hash.

What goes in is given as (name in the wheel, bytes); the file appears in one step (written
aside, then renamed), so a crash never leaves half a wheel where a server would serve it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

# A fixed timestamp: the same files give the same wheel, whenever it is packed.
_ZIP_DATE = (2020, 2, 2, 0, 0, 0)


def record_digest(data: bytes, algorithm: str = "sha256") -> str:
    """A file's hash as RECORD writes it: urlsafe base64 without padding (the wheel spec)."""
    digest = hashlib.new(algorithm, data).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_member_name(name: str) -> None:
    """A name inside a wheel: relative, '/'-separated, no '..' or empty parts."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..")
                                                                 for p in parts):
        raise ValueError(f"not a safe name inside a wheel: {name!r}")


def write_wheel(path: Path, dist_info: str, members: Iterable[tuple[str, bytes, bool]]) -> None:
    """Write the wheel `path` from (name, data, executable) members, then its RECORD.

    `dist_info` is the wheel's .dist-info folder name; RECORD goes into it, last.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    record_lines: list[str] = []
    seen: set[str] = set()
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data, executable in members:
                check_member_name(name)
                if name in seen:
                    raise ValueError(f"{name} twice in one wheel")
                seen.add(name)
                _add(zf, name, data, executable)
                record_lines.append(f"{_csv(name)},sha256={record_digest(data)},{len(data)}")
            record_name = f"{dist_info}/RECORD"
            record_lines.append(f"{_csv(record_name)},,")
            _add(zf, record_name, ("\n".join(record_lines) + "\n").encode("utf-8"), False)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    zf.writestr(info, data)


def _csv(name: str) -> str:
    """RECORD is CSV: a name with a comma or a quote is quoted."""
    if any(c in name for c in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name
