"""Re-packing installed distributions into wheels: every file checked against the RECORD it
was installed with, the wheel's own RECORD right, and a changed install refused."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from p2pchat.share.closure import dependency_closure
from p2pchat.share.repack import RepackError, repack, wheel_filename


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_record(wheel: Path) -> dict[str, tuple[str, str]]:
    """The wheel's RECORD, after checking that every member is listed with its true hash."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        record_name = next(n for n in names if n.endswith(".dist-info/RECORD"))
        rows = {r[0]: (r[1], r[2]) for r in csv.reader(io.StringIO(
            zf.read(record_name).decode()))}
        assert set(rows) == set(names), "RECORD and the zip list different files"
        for name in names:
            if name != record_name:
                data = zf.read(name)
                assert rows[name] == (f"sha256={b64(data)}", str(len(data))), name
    return rows


def test_the_closure_holds_p2pchat_and_every_requirement() -> None:
    closure = dependency_closure()
    names = {d.metadata["Name"].lower().replace("_", "-") for d in closure.distributions}
    assert closure.distributions[0].metadata["Name"] == "p2pchat" and not closure.missing
    for text in metadata.requires("p2pchat") or []:
        if "extra ==" not in text:
            wanted = text.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip()
            assert wanted.lower().replace("_", "-") in names, wanted
    assert "pytest" not in names  # an extra's requirement is not shared


def installed_path(name: str, root: Path) -> Path:
    """Where the installer put a wheel member: under the root, or a .data/ category's place."""
    top, _, rest = name.partition("/")
    if top.endswith(".data"):
        category, _, inner = rest.partition("/")
        return Path(sysconfig.get_path(category)) / inner
    return root / name


def test_each_installed_dependency_repacks_to_its_installed_files(tmp_path: Path) -> None:
    closure = dependency_closure()
    checked = 0
    for dist in closure.distributions[1:]:
        wheel = repack(dist, tmp_path).wheel
        rows = wheel_record(wheel)
        root = Path(str(dist.locate_file("")))
        installed = {Path(os.path.normpath(root / f)): f for f in dist.files or []}
        in_wheel = set()
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.endswith(".dist-info/RECORD"):
                    continue
                path = installed_path(name, root)
                entry = installed[path]  # nothing in the wheel that was not installed
                assert entry.hash is not None and entry.hash.value == rows[name][0][7:]
                assert zf.read(name) == path.read_bytes()
                in_wheel.add(path)
                checked += 1
        # ...and everything installed is in the wheel, but bytecode, installer files and the
        # console scripts the installer generated.
        scripts = Path(sysconfig.get_path("scripts"))
        left = {p for p in set(installed) - in_wheel if p.suffix != ".pyc"
                and p.name not in ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD")
                and p.parent != scripts}
        assert not left, left
    assert checked > 100


def test_a_repacked_wheel_is_reused_from_the_cache(tmp_path: Path) -> None:
    dist = metadata.distribution("msgpack")
    first = repack(dist, tmp_path).wheel
    stamp = first.stat().st_mtime_ns
    assert repack(dist, tmp_path).wheel == first and first.stat().st_mtime_ns == stamp


def test_an_editable_p2pchat_is_packed_from_its_package_folder(tmp_path: Path) -> None:
    dist = metadata.distribution("p2pchat")
    wheel = repack(dist, tmp_path).wheel
    rows = wheel_record(wheel)
    import p2pchat

    package = Path(p2pchat.__file__).parent
    files = {p.relative_to(package).as_posix() for p in package.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
             and not p.name.startswith(".")}
    assert files and {f"p2pchat/{f}" for f in files} <= set(rows)  # data files too
    info = next(n for n in rows if n.endswith(".dist-info/METADATA")).split("/")[0]
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"{info}/METADATA").decode() == dist.read_text("METADATA")
        assert b"Tag: py3-none-any" in zf.read(f"{info}/WHEEL")
        assert zf.read("p2pchat/version.py") == (package / "version.py").read_bytes()


# ------------------------------------------------------------ a made-up installed distribution


def install_demo(site: Path, files: dict[str, bytes], record_extra: str = "") -> Path:
    """`files` as if pip installed them into `site`, with their RECORD."""
    info = site / "demo-1.0.dist-info"
    info.mkdir(parents=True)
    files = {"demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
             "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                         b"Tag: py3-none-any\n",
             "demo-1.0.dist-info/INSTALLER": b"pip\n",
             "demo-1.0.dist-info/entry_points.txt": b"[console_scripts]\ndemo = demo:main\n",
             **files}
    lines = []
    for name, data in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(data)
        lines.append(f"{name},sha256={b64(data)},{len(data)}")
    lines += ["demo/__pycache__/__init__.cpython-311.pyc,,", "demo-1.0.dist-info/RECORD,,"]
    (info / "RECORD").write_text("\n".join(lines) + "\n" + record_extra)
    return info


def test_a_made_up_distribution_repacks_exactly(tmp_path: Path) -> None:
    info = install_demo(tmp_path / "site", {"demo/__init__.py": b"x = 1\n",
                                            "demo/words.txt": b"apple\nbanana\n"})
    wheel = repack(metadata.PathDistribution(info), tmp_path / "cache").wheel
    assert wheel.name == "demo-1.0-py3-none-any.whl"
    assert set(wheel_record(wheel)) == {
        "demo/__init__.py", "demo/words.txt", "demo-1.0.dist-info/METADATA",
        "demo-1.0.dist-info/WHEEL", "demo-1.0.dist-info/entry_points.txt",
        "demo-1.0.dist-info/RECORD"}


def test_a_file_changed_since_the_install_refuses_the_distribution(tmp_path: Path) -> None:
    info = install_demo(tmp_path / "site", {"demo/__init__.py": b"x = 1\n"})
    (tmp_path / "site" / "demo" / "__init__.py").write_bytes(b"x = 2\n")  # same size
    with pytest.raises(RepackError, match=r"do not match.*demo/__init__.py \(changed"):
        repack(metadata.PathDistribution(info), tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.whl"))  # and nothing was written


def test_a_missing_file_refuses_the_distribution(tmp_path: Path) -> None:
    info = install_demo(tmp_path / "site", {"demo/__init__.py": b"x = 1\n"})
    (tmp_path / "site" / "demo" / "__init__.py").unlink()
    with pytest.raises(RepackError, match=r"demo/__init__\.py"):
        repack(metadata.PathDistribution(info), tmp_path / "cache")


def test_a_file_without_a_hash_cannot_be_checked(tmp_path: Path) -> None:
    info = install_demo(tmp_path / "site", {"demo/__init__.py": b"x = 1\n"},
                        record_extra="demo/extra.py,,\n")
    (tmp_path / "site" / "demo" / "extra.py").write_bytes(b"")
    with pytest.raises(RepackError, match=r"no hash for demo/extra\.py"):
        repack(metadata.PathDistribution(info), tmp_path / "cache")


def test_a_file_installed_outside_any_wheel_place_is_refused(tmp_path: Path) -> None:
    data = b"root"
    info = install_demo(tmp_path / "site", {"demo/__init__.py": b""},
                        record_extra=f"../elsewhere/x,sha256={b64(data)},4\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x").write_bytes(data)
    with pytest.raises(RepackError, match="outside"):
        repack(metadata.PathDistribution(info), tmp_path / "cache")


def test_another_editable_distribution_is_refused(tmp_path: Path) -> None:
    info = install_demo(tmp_path / "site", {"demo/__init__.py": b""})
    (info / "direct_url.json").write_text(json.dumps({"url": "file:///x",
                                                      "dir_info": {"editable": True}}))
    with pytest.raises(RepackError, match="editable"):
        repack(metadata.PathDistribution(info), tmp_path / "cache")


def test_the_wheel_name_comes_from_the_installed_tags() -> None:
    meta = ("Wheel-Version: 1.0\nBuild: 2\nTag: cp311-cp311-manylinux_2_17_x86_64\n"
            "Tag: cp311-cp311-manylinux2014_x86_64\n")
    assert wheel_filename("Some.Name", "1.0", meta) == \
        "some_name-1.0-2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    with pytest.raises(RepackError):
        wheel_filename("x", "1", "Wheel-Version: 1.0\n")
