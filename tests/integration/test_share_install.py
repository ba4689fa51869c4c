"""From outside, as people would do it: `pip wheel .` makes a wheel that runs from any folder,
and a fresh venv with no index installs p2pchat from a running `p2pchat share-app` alone.

Real processes throughout: the share-app command, `python -m venv`, pip. Each venv takes a few
seconds; the pip configuration of this machine (its own indexes and wheel folders) is shut
out, so the share is the only source.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import cli_env

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def isolated_env(home: Path) -> dict[str, str]:
    """No pip configuration, no index, no find-links of this machine: only what we pass."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1"}


def read_until(proc: subprocess.Popen[str], pattern: str, timeout: float = 60) -> re.Match[str]:
    """Wait for a line of the process's output matching `pattern` (read from the pipe itself:
    a buffered reader would hold lines that select() no longer sees)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    seen = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:  # bounded by the deadline
            if not sel.select(deadline - time.monotonic()):
                break
            data = os.read(fd, 65536)
            if not data:
                break
            seen += data
            if match := re.search(pattern, seen.decode("utf-8", "replace")):
                return match
    raise AssertionError(f"no {pattern!r} in {seen!r}")


@pytest.fixture(scope="module")
def share(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("sharer")
    proc = subprocess.Popen(
        [sys.executable, "-m", "p2pchat", "--home", str(home), "share-app", "--listen",
         "127.0.0.1:0", "--no-mdns"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=cli_env(), stdin=subprocess.DEVNULL)
    try:
        port = read_until(proc, r"Sharing p2pchat \S+ on 127\.0\.0\.1:(\d+)").group(1)
        yield f"http://127.0.0.1:{port}/"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopped;" in out and "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def fresh_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, timeout=120,
                   env=isolated_env(where))
    return where / "bin"


def sharer_version() -> str:
    from importlib.metadata import version

    shown = subprocess.run([sys.executable, "-m", "p2pchat", "--version"], capture_output=True,
                           text=True, check=True, timeout=30).stdout.strip()
    assert shown == f"p2pchat {version('p2pchat')}"  # what is installed, on stdout
    return shown


def run_from_elsewhere(bin_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, from a folder that has nothing to do with the source tree."""
    return subprocess.run([str(bin_dir / "p2pchat"), *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=isolated_env(cwd), stdin=subprocess.DEVNULL)


def check_runs(bin_dir: Path, cwd: Path) -> None:
    version = run_from_elsewhere(bin_dir, cwd, "--version")
    assert version.returncode == 0 and version.stdout.strip() == sharer_version()
    init = run_from_elsewhere(bin_dir, cwd, "--home", str(cwd / "home"), "init", "--name",
                              "newcomer", "--no-passphrase")
    assert init.returncode == 0, init.stderr
    assert "Your fingerprint:" in init.stdout
    ident = run_from_elsewhere(bin_dir, cwd, "--home", str(cwd / "home"), "id", "--json")
    assert '"name": "newcomer"' in ident.stdout


def test_a_fresh_venv_installs_p2pchat_from_the_share_alone(share: str, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--no-index",
                          "--find-links", share, "p2pchat"], capture_output=True, text=True,
                         timeout=240, cwd=elsewhere, env=isolated_env(elsewhere))
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert "Successfully installed" in pip.stdout
    check_runs(bin_dir, elsewhere)


def test_pip_wheel_builds_a_wheel_that_runs_from_any_folder(share: str, tmp_path: Path) -> None:
    """`pip wheel --no-deps .` (hatchling comes from this machine's configured index, as for any
    build); the wheel, not an editable install, then installs with its dependencies from the
    share and runs away from the source tree."""
    built = tmp_path / "built"
    wheel = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", str(REPO),
                            "-w", str(built)], capture_output=True, text=True, timeout=240)
    if wheel.returncode != 0 and "hatchling" in wheel.stdout + wheel.stderr:
        pytest.skip(f"hatchling could not be had to build the wheel: {wheel.stderr[-300:]}")
    assert wheel.returncode == 0, wheel.stderr
    [made] = built.glob("p2pchat-*-py3-none-any.whl")
    package = REPO / "p2pchat"
    files = {f"p2pchat/{p.relative_to(package).as_posix()}" for p in package.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
    with zipfile.ZipFile(made) as zf:
        in_wheel = {n for n in zf.namelist() if n.startswith("p2pchat/")}
    assert in_wheel == files  # every file the package has, data files too, and nothing else
    bin_dir = fresh_venv(tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--no-index",
                          "--find-links", share, str(made)], capture_output=True, text=True,
                         timeout=240, cwd=elsewhere, env=isolated_env(elsewhere))
    assert pip.returncode == 0, pip.stdout + pip.stderr
    check_runs(bin_dir, elsewhere)
    shown = subprocess.run([str(bin_dir / "python"), "-c",
                            "import p2pchat; print(p2pchat.__file__)"], capture_output=True,
                           text=True, timeout=30, cwd=elsewhere)
    assert str(tmp_path / "venv") in shown.stdout  # the installed copy, not the source tree


def test_the_page_tells_how_to_install(share: str) -> None:
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(share, timeout=30) as response:
        page = response.read().decode()
    host = share.removeprefix("http://").rstrip("/")
    assert f"pip install --no-index --find-links {share} --trusted-host {host} p2pchat" \
        in page.replace("python -m pip install", "pip install")
    # Only the steps of the systems it holds wheels for (this machine's: Linux).
    assert "python3 -m venv" in page and "py -m venv" not in page
    assert "This share can install p2pchat on" in page and "CPython 3." in page
    assert re.search(r'href="/wheels/p2pchat-[^"]+\.whl#sha256=[0-9a-f]{64}"', page)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(share + "../../../../etc/passwd", timeout=30)
    assert info.value.code == 404
