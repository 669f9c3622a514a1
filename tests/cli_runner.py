"""Runs the real ``habla`` command in a child process, isolated under a temporary folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from servers import HABLA


def run(
    args: list[str], tmp_path: Path, *, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "HABLA_DATA_DIR": str(tmp_path / "data"),
        "HABLA_DEFAULT_MODEL": "echo:echo",
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run(
        [str(HABLA), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
