"""Which installed distributions p2pchat needs on this machine: its Requires-Dist, and theirs,
recursively, with environment markers evaluated for this interpreter and the extras asked for.

Computed from the installed metadata, never from a list kept by hand: whatever p2pchat depends
on at the moment (a new dependency and what it pulls in) is shared without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

MAX_DISTRIBUTIONS = 500  # a dependency graph larger than this is not p2pchat's


@dataclass
class Closure:
    """The distributions to share, the root first; and what is required but not installed."""

    distributions: list[metadata.Distribution] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def requirements_of(dist: metadata.Distribution, extras: frozenset[str],
                    environment: dict[str, str] | None = None, *,
                    every: bool = False) -> list[Requirement]:
    """`dist`'s requirements that apply: markers true for `environment` (default: this
    interpreter) with no extra, or with one of `extras`; `every`: all of them, markers kept,
    for the caller to evaluate elsewhere."""
    out: list[Requirement] = []
    for text in dist.requires or []:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # a broken line in someone's metadata: pip would refuse it too
        if every or req.marker is None or any(
                req.marker.evaluate({**(environment or {}), "extra": extra})
                for extra in ("", *sorted(extras))):
            out.append(req)
    return out


def dependency_closure(root: str = "p2pchat") -> Closure:
    """The installed distributions `root` needs (itself first), breadth first."""
    closure = Closure()
    wanted: list[tuple[str, frozenset[str], str | None]] = [(root, frozenset(), None)]
    done: dict[str, frozenset[str]] = {}
    while wanted:
        name, extras, needed_by = wanted.pop(0)
        key = canonicalize_name(name)
        if key in done and extras <= done[key]:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            closure.missing.append(f"{name} (needed by {needed_by or 'nobody'}): not installed")
            done[key] = extras
            continue
        if key not in done:
            if len(closure.distributions) >= MAX_DISTRIBUTIONS:
                raise ValueError(f"more than {MAX_DISTRIBUTIONS} distributions to share")
            closure.distributions.append(dist)
        done[key] = done.get(key, frozenset()) | extras
        for req in requirements_of(dist, extras):
            installed = _installed_version(req.name)
            if installed is not None and not req.specifier.contains(installed, prereleases=True):
                closure.missing.append(f"{req} (needed by {dist.metadata['Name']}): {installed}"
                                       " is installed")
                continue
            wanted.append((req.name, frozenset(req.extras), dist.metadata["Name"]))
    return closure


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
