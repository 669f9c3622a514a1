"""Serves the browser chat page: ``/`` and a fixed set of files under ``/static/``.

The page is plain HTML, CSS and ES modules shipped inside the package (no build step);
everything it does, it does through the public HTTP API, with the user's own credentials.
Every response here carries a strict Content-Security-Policy: no inline script, no
remote anything, so model or user text that slipped through the renderer still could not
run or load (OWASP LLM05).

This module does not authenticate (the files are public, like a login page) and does not
import the engine: it only knows file names.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from habla.core.errors import NotFound

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Assets change with every release and are small: always revalidate.
    "Cache-Control": "no-cache",
}
# The only files served, and their types: a name from the URL never reaches a path
# unless it is one of these.
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "markdown.js": "text/javascript; charset=utf-8",
    "images.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> bytes:
    return (resources.files("habla.interfaces.web") / "static" / name).read_bytes()


# Plain ``def`` routes: FastAPI runs them in its thread pool, so file reads never block
# the event loop.
@router.get("/")
def page() -> Response:
    return Response(
        _asset("index.html"), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/static/{name}")
def asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no such file: /static/{name}")
    return Response(_asset(name), media_type=media_type, headers=SECURITY_HEADERS)
