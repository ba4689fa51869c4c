"""The wheels a share serves, and for which platforms they make a complete set.

This machine's own platform: every distribution of the dependency closure re-packed (cached
under the share's home). Other platforms: the folders `--prepare` filled. A wheel's name, size,
sha256 (for the links' #sha256= fragments, which pip checks) and Requires-Python (which pip
reads from the link to skip a wheel for another Python) are read once, when the share starts.
"""

from __future__ import annotations

import hashlib
import re
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from p2pchat.share.closure import dependency_closure, requirements_of
from p2pchat.share.prepare import all_targets, target_requirements
from p2pchat.share.repack import RepackError, repack

# What a served file may be called: the URL holds the name as it is.
WHEEL_NAME = re.compile(r"[A-Za-z0-9_.+!-]{1,200}\.whl")
MAX_WHEELS = 1000


@dataclass(frozen=True)
class Wheel:
    filename: str
    path: Path
    sha256: str
    requires_python: str | None


@dataclass
class Catalog:
    version: str  # p2pchat's, as installed here
    wheels: list[Wheel] = field(default_factory=list)
    ready_for: list[str] = field(default_factory=list)  # platforms with a complete set
    problems: list[str] = field(default_factory=list)  # said to the sharer at start


def running_python() -> str:
    """This interpreter, as the page names it: 'CPython 3.11 on linux-x86_64'."""
    impl = sys.implementation.name
    shown = {"cpython": "CPython", "pypy": "PyPy"}.get(impl, impl)
    return f"{shown} {sys.version_info.major}.{sys.version_info.minor} on" \
           f" {sysconfig.get_platform()}"


def share_home(home: Path) -> Path:
    return home / "share-app"


def build_catalog(home: Path) -> Catalog:
    base = share_home(home)
    closure = dependency_closure()
    root = closure.distributions[0] if closure.distributions else None
    catalog = Catalog(version=root.version if root is not None else "?")
    local_complete = root is not None and not closure.missing
    catalog.problems += [f"missing: {m}" for m in closure.missing]
    paths: list[Path] = []
    for dist in closure.distributions:
        try:
            paths.append(repack(dist, base / "local").wheel)
        except (RepackError, OSError) as exc:
            local_complete = False
            catalog.problems.append(f"not shared: {exc}")
    if local_complete:
        floor = system_floor([p.name for p in paths])
        catalog.ready_for.append(f"{running_python()}{f', {floor}' if floor else ''}"
                                 " (this machine's own)")
    prepared = base / "prepared"
    requirements = requirements_of(root, frozenset(), None, every=True) if root else []
    for target in all_targets():
        folder = prepared / target.folder
        if not folder.is_dir():
            continue
        wheels = sorted(folder.glob("*.whl"))
        stale = unmet(target_requirements(requirements, target), [w.name for w in wheels])
        if stale:  # prepared for an older p2pchat: pip would fail there, so say so here
            catalog.problems.append(f"the wheels prepared for {target.label} lack"
                                    f" {', '.join(stale)}: run 'p2pchat share-app --prepare'"
                                    " again while online")
            continue
        paths += wheels
        catalog.ready_for.append(target.label)
    seen: set[str] = set()
    for path in paths:
        if path.name in seen or path.is_symlink() or not path.is_file():
            continue
        if not WHEEL_NAME.fullmatch(path.name) or len(seen) >= MAX_WHEELS:
            catalog.problems.append(f"not served: {path}")
            continue
        seen.add(path.name)
        catalog.wheels.append(_describe(path))
    return catalog


_LEGACY_GLIBC = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def system_floor(filenames: list[str]) -> str:
    """The oldest system all these wheels run on, from their platform tags: each wheel needs
    the oldest of its tags, and the set needs the newest of those ('glibc 2.34 or newer')."""
    needs: dict[str, tuple[int, int]] = {}
    for filename in filenames:
        wheel_needs: dict[str, tuple[int, int]] = {}
        for tag in filename.removesuffix(".whl").rsplit("-", 1)[-1].split("."):
            kind, version = _tag_floor(tag)
            if kind and (kind not in wheel_needs or version < wheel_needs[kind]):
                wheel_needs[kind] = version
        for kind, version in wheel_needs.items():
            needs[kind] = max(needs.get(kind, version), version)
    return ", ".join(f"{kind} {major}.{minor} or newer"
                     for kind, (major, minor) in sorted(needs.items()))


def _tag_floor(tag: str) -> tuple[str, tuple[int, int]]:
    prefix = tag.split("_", 1)[0]
    if prefix in _LEGACY_GLIBC:
        return "glibc", _LEGACY_GLIBC[prefix]
    match = re.fullmatch(r"(manylinux|macosx)_(\d+)_(\d+)_\w+", tag)
    if not match:
        return "", (0, 0)
    kind = "glibc" if match.group(1) == "manylinux" else "macOS"
    return kind, (int(match.group(2)), int(match.group(3)))


def unmet(requirements: list[str], filenames: list[str]) -> list[str]:
    """The requirements that no wheel among `filenames` satisfies (name and version)."""
    available: dict[str, list[str]] = {}
    for filename in filenames:
        try:
            name, version, _, _ = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        available.setdefault(name, []).append(str(version))
    out = []
    for text in requirements:
        req = Requirement(text)
        versions = available.get(canonicalize_name(req.name), [])
        if not any(req.specifier.contains(v, prereleases=True) for v in versions):
            out.append(text)
    return out


def _describe(path: Path) -> Wheel:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return Wheel(path.name, path, digest.hexdigest(), _requires_python(path))


def _requires_python(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1
                     and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                return None
            with zf.open(names[0]) as meta:
                head = meta.read(256 * 1024).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile):
        return None
    for line in head.splitlines():
        if not line:
            break  # the headers end at the first blank line
        key, _, value = line.partition(":")
        if key.strip().lower() == "requires-python":
            return value.strip()[:100] or None
    return None
