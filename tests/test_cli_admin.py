"""``habla users|keys|audit`` from the terminal, as an operator runs them: real child
processes on a real SQLite database, bad input answered with one clear line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cli_runner import run

PASSWORD = "correct horse battery staple"
KEY = re.compile(r"hbl_[A-Za-z0-9]+_[A-Za-z0-9_-]+")


def ok(args: list[str], tmp_path: Path, stdin: str = "") -> str:
    result = run(args, tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(args: list[str], tmp_path: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    result = run(args, tmp_path, stdin=stdin)
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    return result


def test_users_keys_limits_usage_and_audit(tmp_path: Path) -> None:
    added = ok(["users", "add", "root", "--role", "admin", "--password-stdin"], tmp_path, PASSWORD)
    assert added.startswith("added admin root (")
    ok(["users", "add", "ana", "--no-password"], tmp_path)

    created = ok(["keys", "create", "ana", "--name", "laptop"], tmp_path)
    key = KEY.search(created)
    assert key is not None and "shown once" in created
    listed = ok(["keys", "list", "--user", "ana"], tmp_path)
    assert "laptop" in listed and "active" in listed
    assert key.group(0) not in listed  # only the prefix is ever shown again

    limits = ok(
        ["users", "set-limits", "ana", "--requests-per-minute", "3", "--tokens-per-day", "900"],
        tmp_path,
    )
    assert "ana requests per minute: 3" in limits
    assert "ana tokens per day: 900" in limits
    assert "ana tokens per month: server default" in limits
    # Options left out keep their value; "default" clears one.
    limits = ok(["users", "set-limits", "ana", "--tokens-per-day", "default"], tmp_path)
    assert "ana requests per minute: 3" in limits
    assert "ana tokens per day: server default" in limits

    usage = ok(["users", "usage", "ana"], tmp_path)
    assert re.search(r"requests \(last minute\)\s+0 of 3, 3 left", usage)
    assert re.search(r"tokens today\s+0 unlimited", usage)

    ok(["users", "set-role", "ana", "admin"], tmp_path)
    users = ok(["users", "list"], tmp_path)
    assert re.search(r"^ana\s+admin\s+enabled", users, re.MULTILINE)

    key_id = listed.split()[0]
    ok(["keys", "revoke", key_id], tmp_path)
    assert "revoked" in ok(["keys", "list", "--user", "ana"], tmp_path)

    audit = ok(["audit", "tail", "-n", "20"], tmp_path)
    for action in ("user.created", "key.created", "user.limits_changed", "user.role_changed"):
        assert f"cli {action} " in audit, action
    assert "key.revoked" in audit
    assert key.group(0) not in audit and PASSWORD not in audit


def test_bad_input_is_one_clear_line_and_changes_nothing(tmp_path: Path) -> None:
    ok(["users", "add", "ana", "--no-password"], tmp_path)
    before = ok(["audit", "tail"], tmp_path)

    nothing = refused(["users", "set-limits", "ana"], tmp_path)
    assert "name at least one of --requests-per-minute" in nothing.stderr
    zero = refused(["users", "set-limits", "ana", "--requests-per-minute", "0"], tmp_path)
    assert "must be at least 1" in zero.stderr
    words = refused(["users", "set-limits", "ana", "--tokens-per-day", "lots"], tmp_path)
    assert "is not a whole number or 'default'" in words.stderr
    ghost = refused(["users", "set-limits", "ghost", "--tokens-per-day", "5"], tmp_path)
    assert "no user named 'ghost'" in ghost.stderr
    assert "no user named 'ghost'" in refused(["users", "usage", "ghost"], tmp_path).stderr
    twice = refused(["users", "add", "ana", "--no-password"], tmp_path)
    assert "that user name is taken" in twice.stderr
    short = refused(["users", "add", "bob", "--password-stdin"], tmp_path, "short")
    assert "password" in short.stderr
    assert "no user named 'ghost'" in refused(["keys", "create", "ghost"], tmp_path).stderr

    assert ok(["audit", "tail"], tmp_path) == before
    users = ok(["users", "list"], tmp_path)
    assert [line.split()[0] for line in users.splitlines()] == ["ana"]
