"""Real HTTP servers on 127.0.0.1 for tests: an ASGI app in a thread, or ``habla serve``
as a child process (the way users run it).

Both bind only loopback and stop by themselves at the end of the ``with`` block.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import uvicorn

HABLA = Path(sys.executable).with_name("habla")
# Test artefacts (screenshots, server logs). Every child server's log ends up here, where
# the suite's log scrape (conftest.py) reads it.
OUTPUT_DIR = Path(__file__).resolve().parent.parent / "test-output"
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThreadedServer:
    """Runs an ASGI app under uvicorn in a background thread (its own event loop).

    ``uvicorn_options`` override the ``uvicorn.Config`` defaults below. The fakes in
    ``fakes/`` subclass it (or hold one) so that they all start and stop the same way.
    """

    def __init__(self, app: Any, **uvicorn_options: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one, no race
        options: dict[str, Any] = {
            "log_level": "warning",
            "lifespan": "on",
            "timeout_graceful_shutdown": 2,
            **uvicorn_options,
        }
        self._server = uvicorn.Server(uvicorn.Config(app, **options))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


class HablaProcess:
    """``habla serve`` in a child process, with the given HABLA_* environment."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        log_path: Path,
        ready: bool = True,
        log_level: str = "info",
    ) -> None:
        self.port = free_port()
        self.log_level = log_level
        self.env = {**os.environ, **env, "HF_HUB_OFFLINE": "1"}
        self.log_path = log_path
        self.wait_ready = ready
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> HablaProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                *(str(HABLA), "serve", "--host", "127.0.0.1", "--port", str(self.port)),
                *("--log-level", self.log_level),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait("/readyz" if self.wait_ready else "/healthz")
        return self

    def _wait(self, path: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"habla serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"habla serve did not get ready: {self.log_path.read_text()[-2000:]}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log_path.exists() and self.log_path.parent != OUTPUT_DIR:
            OUTPUT_DIR.mkdir(exist_ok=True)
            copy = OUTPUT_DIR / f"serve-{self.port}-{self.log_path.stem}.log"
            shutil.copyfile(self.log_path, copy)
