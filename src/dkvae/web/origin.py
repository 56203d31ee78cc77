"""`SameOrigin`: a POST, PUT, PATCH or DELETE sent by another site's page is refused (403) before it runs.

A browser names the page behind every cross-site write in its Origin header, and sends simple ones
(a form, text/plain) without asking the server first; so an Origin other than the server's own
scheme, host and port marks a request the user did not make on this server's page. A request without
an Origin (curl, scripts) is a client's own, and passes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

#: Methods that change the server's state, and so must come from its own page.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """True when the Origin header `origin` names the server reached at the Host header `host` over `scheme`."""
    sent = urlsplit(origin)
    served = urlsplit(f"//{host}")
    try:
        sent_port, served_port = sent.port, served.port
    except ValueError:  # a port that is not a number
        return False
    if sent.scheme != scheme or not sent.hostname or any((sent.path, sent.query, sent.fragment, sent.username)):
        return False
    default = DEFAULT_PORTS.get(scheme)
    return sent.hostname == served.hostname and (sent_port or default) == (served_port or default)


class SameOrigin:
    """ASGI middleware: a state-changing request with a foreign Origin gets 403, with the origin named."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in STATE_CHANGING:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not same_origin(origin, headers.get("host", ""), scope["scheme"]):
                detail = f"requests from {origin} are refused: only this server's own page may change its state"
                await JSONResponse({"detail": detail}, 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
