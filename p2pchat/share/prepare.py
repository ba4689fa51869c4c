"""`p2pchat share-app --prepare`: while online, fetch with pip the wheels that the other common
platforms need, so that an offline sharer serves them too.

Each target (a platform and a Python version) gets its own folder under the share's home,
filled by `pip download` into a temporary folder that is renamed into place only when pip
succeeded: a folder that exists is complete. p2pchat itself is pure Python: its one wheel, the
re-packed one, serves every target, so only its dependencies are fetched here.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

PYTHONS = ("3.11", "3.12", "3.13")  # p2pchat needs 3.11 or newer


@dataclass(frozen=True)
class Platform:
    key: str  # the folder name's first part
    label: str  # what the page says
    tags: tuple[str, ...]  # pip download --platform, best first
    environment: dict[str, str]  # PEP 508 marker values that differ from platform to platform


PLATFORMS = (
    Platform("linux-x86_64", "Linux x86_64 (glibc 2.28 or newer)",
             ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
             {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
              "platform_machine": "x86_64"}),
    Platform("linux-aarch64", "Linux ARM64, e.g. Raspberry Pi OS 64-bit (glibc 2.28 or newer)",
             ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
             {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
              "platform_machine": "aarch64"}),
    Platform("macos-x86_64", "macOS 11 or newer on Intel", ("macosx_11_0_x86_64",),
             {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
              "platform_machine": "x86_64"}),
    Platform("macos-arm64", "macOS 11 or newer on Apple silicon", ("macosx_11_0_arm64",),
             {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix",
              "platform_machine": "arm64"}),
    Platform("windows-amd64", "Windows 64-bit (x86_64)", ("win_amd64",),
             {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
              "platform_machine": "AMD64"}),
)


@dataclass(frozen=True)
class Target:
    platform: Platform
    python: str

    @property
    def folder(self) -> str:
        return f"{self.platform.key}-py{self.python}"

    @property
    def label(self) -> str:
        return f"{self.platform.label}, Python {self.python}"

    def environment(self) -> dict[str, str]:
        return {**self.platform.environment, "python_version": self.python,
                "python_full_version": f"{self.python}.0", "implementation_name": "cpython",
                "platform_python_implementation": "CPython"}


def all_targets() -> list[Target]:
    return [Target(p, v) for p in PLATFORMS for v in PYTHONS]


def target_requirements(requirements: Sequence[Requirement], target: Target) -> list[str]:
    """p2pchat's own requirements for `target`, markers evaluated for it (pip would evaluate
    them for this machine), written without the marker."""
    out = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate({**target.environment(),
                                                               "extra": ""}):
            continue
        plain = Requirement(str(req))
        plain.marker = None
        out.append(str(plain))
    return out


def download_command(target: Target, requirements: Sequence[str], dest: Path) -> list[str]:
    abi = "cp" + target.python.replace(".", "")
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:",
               "--implementation", "cp", "--python-version", target.python, "--abi", abi,
               "--dest", str(dest), "--progress-bar", "off", "--quiet"]
    for tag in target.platform.tags:
        command += ["--platform", tag]
    return [*command, *requirements]


Runner = Callable[[list[str]], int]


def _run(command: list[str]) -> int:
    return subprocess.run(command, check=False).returncode


def prepare(prepared: Path, requirements: Sequence[Requirement], targets: Sequence[Target],
            report: Callable[[str], None], run: Runner = _run) -> int:
    """Download each target's wheels into `prepared`/<target>; returns how many failed."""
    prepared.mkdir(parents=True, exist_ok=True)
    failed = 0
    for target in targets:
        final = prepared / target.folder
        partial = prepared / f".{target.folder}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        report(f"{target.label}: downloading...")
        status = run(download_command(target, target_requirements(requirements, target),
                                      partial))
        if status != 0 or not partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
            report(f"{target.label}: pip download failed (status {status}); the wheels for it"
                   " are not served")
            failed += 1
            continue
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        count = len(list(final.glob("*.whl")))
        report(f"{target.label}: {count} wheels ready")
    return failed
