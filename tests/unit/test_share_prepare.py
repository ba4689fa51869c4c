"""`share-app --prepare`: one pip download per platform and Python, markers evaluated for the
target (not for this machine), and a target's folder only once its download succeeded.
pip itself is replaced here by a runner that records the command (the real one needs the
internet)."""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement

from p2pchat.share.catalog import system_floor
from p2pchat.share.prepare import PLATFORMS, Target, all_targets, prepare, target_requirements

REQS = [Requirement("pynacl>=1.5"), Requirement('colorama; sys_platform == "win32"'),
        Requirement('tomli; python_version < "3.12"'), Requirement('pytest; extra == "test"')]


def target(key: str, python: str) -> Target:
    return Target(next(p for p in PLATFORMS if p.key == key), python)


def test_markers_are_evaluated_for_the_target() -> None:
    assert target_requirements(REQS, target("windows-amd64", "3.11")) == \
        ["pynacl>=1.5", "colorama", "tomli"]
    assert target_requirements(REQS, target("linux-aarch64", "3.13")) == ["pynacl>=1.5"]


def test_every_common_platform_and_python_is_a_target() -> None:
    folders = {t.folder for t in all_targets()}
    assert len(folders) == 15 and "windows-amd64-py3.13" in folders
    assert {"linux-x86_64", "linux-aarch64", "macos-x86_64", "macos-arm64",
            "windows-amd64"} == {p.key for p in PLATFORMS}


def test_prepare_downloads_each_target_and_keeps_only_what_succeeded(tmp_path: Path) -> None:
    commands: list[list[str]] = []

    def fake_pip(command: list[str]) -> int:
        commands.append(command)
        if "win_amd64" in command:
            return 1  # pip failed for this one (offline, no wheel...)
        dest = Path(command[command.index("--dest") + 1])
        dest.mkdir(parents=True)
        (dest / "pynacl-1.6.2-cp38-abi3-macosx_10_10_universal2.whl").write_bytes(b"w")
        return 0

    said: list[str] = []
    targets = [target("macos-arm64", "3.12"), target("windows-amd64", "3.12")]
    failed = prepare(tmp_path, REQS, targets, said.append, run=fake_pip)
    assert failed == 1
    mac = commands[0]
    assert mac[mac.index("--python-version") + 1] == "3.12"
    assert mac[mac.index("--abi") + 1] == "cp312" and "--only-binary=:all:" in mac
    assert mac[mac.index("--platform") + 1] == "macosx_11_0_arm64"
    assert mac[-1] == "pynacl>=1.5"  # no colorama, no tomli, no test extra for macOS 3.12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["macos-arm64-py3.12"]
    assert any("failed" in line for line in said)


def test_the_oldest_system_a_set_of_wheels_needs() -> None:
    assert system_floor(["a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                         "b-1-cp38-abi3-manylinux_2_34_x86_64.whl",
                         "c-1-py3-none-any.whl"]) == "glibc 2.34 or newer"
    assert system_floor(["c-1-py3-none-any.whl"]) == ""


def test_prepared_wheels_are_served_only_if_they_meet_p2pchats_requirements(
        tmp_path: Path) -> None:
    """A folder prepared for an older p2pchat (a dependency added since) would make pip fail
    on that system: it is not offered, and the sharer is told to prepare again."""
    from importlib import metadata

    from p2pchat.share.catalog import build_catalog, share_home
    from p2pchat.share.closure import requirements_of

    reqs = requirements_of(metadata.distribution("p2pchat"), frozenset(), every=True)
    prepared = share_home(tmp_path) / "prepared"
    good, old = target("windows-amd64", "3.12"), target("macos-arm64", "3.13")
    for t, skip in ((good, 0), (old, 1)):
        (prepared / t.folder).mkdir(parents=True)
        for text in target_requirements(reqs, t)[skip:]:
            name = Requirement(text).name
            wheel = f"{name.replace('-', '_')}-{metadata.version(name)}-py3-none-any.whl"
            (prepared / t.folder / wheel).write_bytes(b"PK")
    catalog = build_catalog(tmp_path)
    assert good.label in catalog.ready_for and old.label not in catalog.ready_for
    assert any(old.label in p and "--prepare" in p for p in catalog.problems)
    served = {w.path.parent.name for w in catalog.wheels}
    assert good.folder in served and old.folder not in served
