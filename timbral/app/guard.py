"""The request guard: what the server refuses before any route sees a request.

Requests that change state (every POST) must come from the app's own page: a
browser marks another page's requests (``Origin``, ``Sec-Fetch-Site``) and
those are refused, so a website the user visits cannot create sessions or push
out the user's own. Scripts (curl, Python) send neither header and are served.

When the server listens on a loopback address, the ``Host`` header must name
it (guards against DNS rebinding: another site's page cannot reach the app by
name). Every response carries :data:`SECURITY_HEADERS`: nothing may be loaded
from, or sent to, another site.
"""

from __future__ import annotations

import ipaddress
from typing import Optional
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse

#: Headers on every response: nothing may be loaded from, or sent to, another site.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}

#: Host names accepted when the server listens on a loopback address (guards
#: against DNS rebinding: another site's page cannot reach the app by name).
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

#: Methods that change nothing: served whatever page asked.
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
#: ``Sec-Fetch-Site`` values of requests made by the app's own page (or typed by the user).
OWN_SITE = {"same-origin", "none"}


class Guard:
    """ASGI middleware: security headers on every answer, Host checked on loopback,
    state-changing requests from other pages refused."""

    def __init__(self, app, check_host: bool):
        self.app = app
        self.check_host = check_host

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = None
        if self.check_host and _host_name(scope) not in LOOPBACK_HOSTS:
            refusal = (400, "unexpected Host header; open the address that timbral serve "
                            "printed")
        elif scope["method"] not in SAFE_METHODS and _from_another_page(scope):
            refusal = (403, "refused a request from another web page; use the page at the "
                            "address timbral serve printed")
        if refusal is not None:
            response = JSONResponse({"error": refusal[1]}, status_code=refusal[0],
                                    headers=SECURITY_HEADERS)
            return await response(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in SECURITY_HEADERS.items():
                    headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope, name: bytes) -> Optional[str]:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _from_another_page(scope) -> bool:
    """Whether a browser says the request comes from a page of another origin.

    ``Sec-Fetch-Site`` other than same-origin (a page on another port of the
    same host is "same-site": still another origin), or an ``Origin`` whose
    host and port differ from the ``Host`` the request was sent to. Clients
    that send neither (scripts) are not browsers acting for another page.
    """
    site = _header(scope, b"sec-fetch-site")
    if site is not None and site.lower() not in OWN_SITE:
        return True
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    host = (_header(scope, b"host") or "").lower()
    return urlsplit(origin).netloc.lower() != host or not host


def _host_name(scope) -> str:
    host = (_header(scope, b"host") or "").lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
