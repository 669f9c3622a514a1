"""The chat page's files over real HTTP: served from the package at ``/`` and
``/static/``, each with a strict Content-Security-Policy and the other security
headers; no inline script, style or event handler anywhere; nothing outside the fixed
file list reachable; and the files really ship in the wheel."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import httpx
import pytest

from habla.interfaces.web.routes import ASSETS, CSP
from habla.settings import Settings
from seeding import SECRET, seed_accounts
from test_api_support import Launcher, assert_openai_error

ROOT = Path(__file__).resolve().parent.parent
STATIC = resources.files("habla.interfaces.web") / "static"
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


@pytest.fixture
def launch(
    make_settings: Callable[..., Settings], write_script: Callable[..., Path], tmp_path: Path
) -> Launcher:
    return Launcher(make_settings, write_script, tmp_path)


class Markup(HTMLParser):
    """Collects every tag with its attributes, and the text inside script/style tags."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_code: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline_code.append(data)


def assert_security_headers(headers: httpx.Headers) -> None:
    assert headers["content-security-policy"] == EXPECTED_CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"


def test_csp_is_the_documented_one() -> None:
    assert CSP == EXPECTED_CSP


def test_page_and_assets_are_served_with_security_headers(launch: Launcher) -> None:
    with launch() as api:
        page = api.http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert_security_headers(page.headers)
        assert "<title>habla</title>" in page.text
        for name, media_type in ASSETS.items():
            response = api.http.get(f"/static/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-type"] == media_type
            assert_security_headers(response.headers)
            assert response.content == (STATIC / name).read_bytes()


def test_page_is_public_but_the_api_is_not(launch: Launcher) -> None:
    settings = launch.settings(jwt_secret=SECRET)
    seed_accounts(settings.resolved_database_url)
    with launch(jwt_secret=SECRET) as api:
        assert api.http.get("/").status_code == 200
        assert api.http.get("/static/app.js").status_code == 200
        assert_openai_error(api.http.get("/v1/personas"), 401)
        assert_openai_error(api.http.get("/v1/conversations"), 401)


@pytest.mark.parametrize(
    "path",
    [
        "/static/index.html.bak",
        "/static/routes.py",
        "/static/..%2Froutes.py",
        "/static/%2e%2e/%2e%2e/settings.py",
        "/static/",
        "/static/APP.JS",
    ],
)
def test_only_the_listed_files_are_served(launch: Launcher, path: str) -> None:
    with launch() as api:
        response = api.http.get(path)
        assert response.status_code == 404, path
        assert "import" not in response.text


def test_page_has_no_inline_script_style_or_handlers() -> None:
    markup = Markup()
    markup.feed((STATIC / "index.html").read_text(encoding="utf-8"))
    assert markup.inline_code == []
    scripts = [attrs for tag, attrs in markup.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "/static/app.js"}]
    assert not [tag for tag, _ in markup.tags if tag == "style"]
    for tag, attrs in markup.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name != "style", tag
            assert "javascript:" not in (value or "").lower(), (tag, name)
    # Every referenced asset is one the server serves.
    referenced = {
        attrs.get("src") or attrs.get("href") for tag, attrs in markup.tags if tag != "a"
    } - {None, "data:,"}
    assert referenced <= {f"/static/{name}" for name in ASSETS}


def test_scripts_never_write_html() -> None:
    # The renderer builds nodes; any of these would be a way for text to become markup.
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setAttribute\(\s*[\"']on|\.on\w+\s*=|javascript:"
    )
    for name in ASSETS:
        if name.endswith(".js"):
            source = (STATIC / name).read_text(encoding="utf-8")
            assert not sinks.findall(source), name
    imports = re.compile(r'from "(\./[\w.]+)"')
    for name in ASSETS:
        if name.endswith(".js"):
            for target in imports.findall((STATIC / name).read_text(encoding="utf-8")):
                assert target[2:] in ASSETS, (name, target)


def test_the_package_build_ships_the_page(tmp_path: Path) -> None:
    source = tmp_path / "src-copy"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "build"
    # build_py is the step that decides what goes into a wheel (packages + package data).
    setup = "from setuptools import setup; setup()"
    done = subprocess.run(
        [sys.executable, "-c", setup, "build_py", "--build-lib", str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    static = out / "habla" / "interfaces" / "web" / "static"
    for name in [*ASSETS, "index.html"]:
        assert (static / name).read_bytes() == (STATIC / name).read_bytes(), name
    assert (out / "habla" / "interfaces" / "streamlit" / "app.py").is_file()
