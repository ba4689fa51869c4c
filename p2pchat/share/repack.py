"""An installed distribution turned back into the wheel it was installed from.

pip writes, beside every distribution it installs, a RECORD: each file it put down with its
sha256 and size. Re-packing reads those files, checks every one against RECORD (a file changed
or missing since the install refuses the whole distribution: serving it would hand out
something nobody released), and writes them into a wheel with the tags of the installed WHEEL
file. Bytecode and what the installer itself wrote (INSTALLER, REQUESTED, direct_url.json, the
console scripts it generated from entry_points.txt) stay out; pip makes them again.

p2pchat installed in editable mode (`pip install -e .`) has no package files in its RECORD,
only a .pth pointing at the source tree. Its wheel is packed from the package folder that
Python imports (every file but bytecode and dotfiles: the same set as hatchling's wheel, word
lists and other data included), with the metadata the editable install wrote: the METADATA
pip needs is the installed one, so the version a receiver gets is the one `p2pchat --version`
prints here. Building through hatchling instead would need hatchling at run time, which an
offline sharer may not have; p2pchat is pure Python, so its wheel is a plain zip anyway.
"""

from __future__ import annotations

import json
import os
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from p2pchat.share.wheelfile import check_member_name, record_digest, write_wheel

# Written by the installer, not part of any wheel.
INSTALLER_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"})
MAX_MISMATCHES_SHOWN = 5


class RepackError(Exception):
    """This distribution cannot be shared from what is installed (said why, in one line)."""


@dataclass(frozen=True)
class Repacked:
    name: str  # the project's name as its metadata spells it
    version: str
    wheel: Path


def repack(dist: metadata.Distribution, cache: Path) -> Repacked:
    """The wheel of `dist` in `cache`: made now, or reused if made from this same RECORD."""
    dist_info = _dist_info_dir(dist)
    name, version = dist.metadata["Name"], dist.version
    if _is_editable(dist):
        if canonicalize_name(name) != "p2pchat":
            raise RepackError(f"{name} is installed in editable mode: install it normally"
                              " (pip install) to share it")
        return _pack_source(dist, dist_info, cache)
    record = dist.read_text("RECORD")
    wheel_meta = dist.read_text("WHEEL")
    if record is None or wheel_meta is None:
        raise RepackError(f"{name} {version} was not installed from a wheel (no RECORD or"
                          " WHEEL file): reinstall it with pip to share it")
    folder = cache / record_digest(record.encode("utf-8"))[:22]
    wheel = folder / wheel_filename(name, version, wheel_meta)
    if wheel.is_file():
        return Repacked(name, version, wheel)
    members = _checked_members(dist, dist_info)
    folder.mkdir(parents=True, exist_ok=True)
    write_wheel(wheel, dist_info.name, members)
    return Repacked(name, version, wheel)


def wheel_filename(name: str, version: str, wheel_meta: str) -> str:
    """`{name}-{version}[-{build}]-{python}-{abi}-{platform}.whl` from a WHEEL file's tags."""
    fields = _wheel_fields(wheel_meta)
    tags = fields.get("Tag", [])
    if not tags:
        raise RepackError(f"{name} {version}: its WHEEL file names no tag")
    parts: list[list[str]] = [[], [], []]
    for tag in tags:
        pieces = tag.split("-")
        if len(pieces) != 3:
            raise RepackError(f"{name} {version}: bad tag {tag!r} in its WHEEL file")
        for column, piece in zip(parts, pieces, strict=True):
            if piece not in column:
                column.append(piece)
    build = fields.get("Build", [])
    escaped = canonicalize_name(name).replace("-", "_")
    head = [escaped, version.replace("-", "_"), *(build[:1])]
    return "-".join([*head, *(".".join(column) for column in parts)]) + ".whl"


def _wheel_fields(text: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def _dist_info_dir(dist: metadata.Distribution) -> Path:
    path = getattr(dist, "_path", None)  # PathDistribution: the only kind pip installs
    if not isinstance(path, Path) or not path.name.endswith(".dist-info"):
        raise RepackError(f"{dist.metadata['Name']} is not installed as a .dist-info (an old"
                          " egg install?): reinstall it with pip to share it")
    return path


def _is_editable(dist: metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    return isinstance(info, dict) and bool((info.get("dir_info") or {}).get("editable"))


def _checked_members(dist: metadata.Distribution,
                     dist_info: Path) -> list[tuple[str, bytes, bool]]:
    """Every file RECORD lists, read and checked, named as in the wheel."""
    root = dist_info.parent
    scripts = _entry_point_scripts(dist)
    members: list[tuple[str, bytes, bool]] = []
    mismatches: list[str] = []
    for entry in dist.files or []:
        listed = entry.as_posix()
        path = Path(os.path.normpath(root / listed))
        if path.parent.name == "__pycache__" or path.suffix in (".pyc", ".pyo"):
            continue  # bytecode the installer compiled
        if path.parent == dist_info and path.name in INSTALLER_FILES:
            continue
        name = _member_name(path, root, dist, scripts)
        if name is None:
            continue  # a console script the installer generated from entry_points.txt
        if entry.hash is None:
            raise RepackError(f"{dist.metadata['Name']}: RECORD has no hash for {listed}, so"
                              " it cannot be checked")
        try:
            data = path.read_bytes()
        except OSError as exc:
            mismatches.append(f"{listed} ({exc.strerror or 'unreadable'})")
            continue
        if entry.size is not None and len(data) != entry.size:
            mismatches.append(f"{listed} (size {len(data)}, RECORD says {entry.size})")
            continue
        try:
            actual = record_digest(data, entry.hash.mode)
        except ValueError:
            raise RepackError(f"{dist.metadata['Name']}: RECORD uses an unknown hash"
                              f" {entry.hash.mode!r}") from None
        if actual != entry.hash.value:
            mismatches.append(f"{listed} (changed since it was installed)")
            continue
        if name.split("/", 1)[0].endswith(".data") and "/scripts/" in name:
            data = _unbind_shebang(data)
        members.append((name, data, os.access(path, os.X_OK)))
    if mismatches:
        shown = ", ".join(mismatches[:MAX_MISMATCHES_SHOWN])
        more = len(mismatches) - MAX_MISMATCHES_SHOWN
        raise RepackError(f"{dist.metadata['Name']} {dist.version}: its files do not match"
                          f" its RECORD: {shown}{f' and {more} more' if more > 0 else ''}")
    return members


def _member_name(path: Path, root: Path, dist: metadata.Distribution,
                 entry_scripts: frozenset[str]) -> str | None:
    """Where an installed file sits in the wheel: under the root, or in {dist}.data/."""
    name = None
    if path.is_relative_to(root):
        name = path.relative_to(root).as_posix()
    else:
        data_dir = f"{dist_data_prefix(dist)}.data"
        scripts = Path(sysconfig.get_path("scripts"))
        data = Path(sysconfig.get_path("data"))
        if path.parent == scripts:
            stem = path.name.removesuffix(".exe")
            if stem in entry_scripts or stem.removesuffix("-script.py") in entry_scripts:
                return None
            name = f"{data_dir}/scripts/{path.name}"
        elif path.is_relative_to(data):
            name = f"{data_dir}/data/{path.relative_to(data).as_posix()}"
    if name is None:
        raise RepackError(f"{dist.metadata['Name']}: installed a file outside the places a"
                          f" wheel can put one back: {path}")
    try:
        check_member_name(name)
    except ValueError as exc:
        raise RepackError(f"{dist.metadata['Name']}: {exc}") from None
    return name


def dist_data_prefix(dist: metadata.Distribution) -> str:
    return f"{canonicalize_name(dist.metadata['Name']).replace('-', '_')}-{dist.version}"


def _entry_point_scripts(dist: metadata.Distribution) -> frozenset[str]:
    return frozenset(ep.name for ep in dist.entry_points
                     if ep.group in ("console_scripts", "gui_scripts"))


def _unbind_shebang(data: bytes) -> bytes:
    """A script from a wheel's .data/scripts had '#!python' turned into this interpreter's
    path at install; a wheel must say '#!python' again."""
    first, sep, rest = data.partition(b"\n")
    if first.startswith(b"#!") and b"python" in first:
        return b"#!python" + sep + rest
    return data


# ------------------------------------------------------------------ p2pchat from its source


def _pack_source(dist: metadata.Distribution, dist_info: Path, cache: Path) -> Repacked:
    import importlib.util

    name, version = dist.metadata["Name"], dist.version
    spec = importlib.util.find_spec("p2pchat")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if len(locations) != 1:
        raise RepackError("cannot find the p2pchat package folder to pack")
    package = Path(locations[0])
    members: list[tuple[str, bytes, bool]] = []
    for path in sorted(_source_files(package)):
        if path.suffix in (".so", ".pyd", ".dll", ".dylib"):
            raise RepackError(f"{path} is compiled code: p2pchat's wheel must be pure Python")
        members.append((f"p2pchat/{path.relative_to(package).as_posix()}", path.read_bytes(),
                        False))
    members += _checked_dist_info(dist, dist_info)
    members.append((f"{dist_info.name}/WHEEL", _PURE_WHEEL.encode("ascii"), False))
    folder = cache / "source"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{canonicalize_name(name).replace('-', '_')}-{version}-py3-none-any.whl"
    write_wheel(wheel, dist_info.name, members)
    return Repacked(name, version, wheel)


_PURE_WHEEL = ("Wheel-Version: 1.0\nGenerator: p2pchat share-app\nRoot-Is-Purelib: true\n"
               "Tag: py3-none-any\n")


def _source_files(package: Path) -> list[Path]:
    """Files of the package folder as a wheel holds them: no bytecode, no dotfiles, no
    symlinks (one could point anywhere on this machine)."""
    out: list[Path] = []
    for folder, dirs, files in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for file in files:
            path = Path(folder) / file
            if file.startswith(".") or path.suffix in (".pyc", ".pyo") or path.is_symlink():
                continue
            out.append(path)
    return out


def _checked_dist_info(dist: metadata.Distribution,
                       dist_info: Path) -> list[tuple[str, bytes, bool]]:
    """The editable install's own metadata files (METADATA, entry points, licences), checked
    against its RECORD; its WHEEL is replaced (it may describe an editable build)."""
    keep = [m for m in _checked_members(dist, dist_info)
            if m[0].startswith(f"{dist_info.name}/") and m[0] != f"{dist_info.name}/WHEEL"]
    if not any(m[0] == f"{dist_info.name}/METADATA" for m in keep):
        raise RepackError("the editable p2pchat install has no METADATA")
    return keep

