"""The identity commands, run as real processes."""

import os
import stat
from pathlib import Path

from tests.cli import assert_clean_failure, run, run_json

PW = {"P2PCHAT_PASSPHRASE": "open sesame"}


def test_init_id_and_refusal(tmp_path: Path) -> None:
    home = tmp_path / "alice"
    proc = run(home, "init", "--name", "alice", env=PW)
    assert proc.returncode == 0, proc.stderr
    ident = run_json(home, "id", env=PW)
    assert ident["name"] == "alice" and len(bytes.fromhex(ident["public_key"])) == 32
    assert ident["fingerprint"] in proc.stdout
    before = (home / "identity.json").read_bytes()
    assert_clean_failure(run(home, "init", "--name", "mallory", env=PW))
    assert (home / "identity.json").read_bytes() == before
    for path in [home, *home.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_wrong_or_missing_passphrase(tmp_path: Path) -> None:
    home = tmp_path / "a"
    run(home, "init", "--name", "alice", env=PW, check=True)
    # The fingerprint is public: `id` and `safety` never ask for the passphrase.
    ident = run_json(home, "id")
    assert ident["name"] == "alice" and ident["passphrase_protected"] is True
    # Reading messages does (they are sealed with a key from the identity).
    wrong = run(home, "log", "bob", env={"P2PCHAT_PASSPHRASE": "guess"})
    assert_clean_failure(wrong)
    assert "wrong passphrase" in wrong.stderr
    missing = run(home, "log", "bob")  # no terminal, no variable: says how to give one
    assert_clean_failure(missing)
    assert "P2PCHAT_PASSPHRASE" in missing.stderr
    pwfile = tmp_path / "pw"
    pwfile.write_text("open sesame\n")
    right = run(home, "log", "bob", "--passphrase-file", str(pwfile))
    assert_clean_failure(right)
    assert "no contact or group named 'bob'" in right.stderr  # unlocked, nothing to read yet
    as_json = run(home, "log", "bob", "--json")
    assert as_json.returncode == 1 and '"code": "passphrase_needed"' in as_json.stdout
    # `network` reads the network's passphrase from --passphrase-file: its hint names its own.
    missing = run(home, "network", "list", "--unlock")  # names alone need none (issue 23.14)
    assert_clean_failure(missing)
    assert "--identity-passphrase-file FILE" in missing.stderr
    listed = run(home, "network", "list", "--identity-passphrase-file", str(pwfile), check=True)
    assert "In no network." in listed.stdout


def test_init_without_passphrase_source_refuses(tmp_path: Path) -> None:
    home = tmp_path / "a"
    assert_clean_failure(run(home, "init"))
    assert not (home / "identity.json").exists()
    assert run(home, "init", "--no-passphrase").returncode == 0
    assert run_json(home, "id")["passphrase_protected"] is False
    assert "without a passphrase" in run(home, "id").stdout


def test_random_bytes_home_gives_clean_error(tmp_path: Path) -> None:
    home = tmp_path / "a"
    run(home, "init", "--no-passphrase", check=True)
    for path in home.iterdir():
        path.write_bytes(os.urandom(max(path.stat().st_size, 64)))
    assert_clean_failure(run(home, "id"))


def test_safety_numbers_match_and_typos_refused(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    run(a, "init", "--no-passphrase", check=True)
    run(b, "init", env=PW, check=True)
    fa, fb = run_json(a, "id")["fingerprint"], run_json(b, "id", env=PW)["fingerprint"]
    ab = run_json(a, "safety", fb)["safety_number"]
    assert ab == run_json(b, "safety", fa, env=PW)["safety_number"]
    typo = fb[:10] + ("A" if fb[10] != "A" else "B") + fb[11:]
    proc = run(a, "safety", typo)
    assert_clean_failure(proc)
    assert "mistyped" in proc.stderr


def test_help_and_version(tmp_path: Path) -> None:
    for args in (["--help"], ["init", "--help"], ["id", "--help"], ["safety", "--help"]):
        proc = run(tmp_path, *args)
        assert proc.returncode == 0 and "usage:" in proc.stdout
    assert run(tmp_path, "--version").stdout.startswith("p2pchat ")
    assert run(tmp_path, "id", "--qr", "--help").returncode == 0
