"""`create_app`: the FastAPI app of the web drum machine; `serve`: run it with uvicorn, on loopback by default.

The page is a handful of static files read into memory when the app is made, so no request path
ever reaches the file system; the API lives under ``/api`` and documents itself at ``/docs``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware

from dkvae.core.errors import DkvaeError
from dkvae.inference.machine import DrumMachine
from dkvae.web.directions import DirectionCatalogue
from dkvae.web.library import Library
from dkvae.web.limits import BodyLimit
from dkvae.web.origin import SameOrigin
from dkvae.web.pool import Busy, WorkerPool
from dkvae.web.routes import router
from dkvae.web.sounds import CACHE_BYTES, SoundService
from dkvae.web.studio import Studio
from dkvae.web.uploads import MAX_UPLOAD_BYTES, NotASoundType, TooLong

log = logging.getLogger(__name__)

#: Largest JSON request body: a kit export with every pad's latent is about 20 kB for a VAE and 300 kB for the
#: bundled codec (14 pads of 1040 values); this holds 14 pads of `MAX_LATENT_SIZE` values.
MAX_JSON_BYTES = 2 * 2**20
#: Model work runs on this many threads (one torch thread each), with this many more requests queued.
DEFAULT_WORKERS = min(4, os.cpu_count() or 2)
DEFAULT_QUEUE = 64
#: Host names that reach a loopback server; others are refused (400) to stop DNS rebinding.
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]", "::1"]
#: A host name as ``--allow-host`` takes it: dot-separated labels, no scheme, port or wildcard.
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
STATIC_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
#: The page loads only its own files: no CDN, no inline scripts.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def static_files() -> dict[str, tuple[bytes, str]]:
    """The page's files by name, read once: ``{name: (content, media type)}``."""
    folder = resources.files("dkvae.web") / "static"
    return {
        entry.name: (entry.read_bytes(), STATIC_TYPES[Path(entry.name).suffix])
        for entry in folder.iterdir()
        if entry.is_file() and Path(entry.name).suffix in STATIC_TYPES
    }


def body_limit(path: str) -> int:
    """The largest body a request to `path` may send: an upload's cap for the upload route, else `MAX_JSON_BYTES`."""
    return MAX_UPLOAD_BYTES if path == "/api/upload" else MAX_JSON_BYTES


def create_app(
    model_dir: Path | None = None,
    bank: Path | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    queue: int = DEFAULT_QUEUE,
    cache_bytes: int = CACHE_BYTES,
    allowed_hosts: list[str] | None = None,
) -> FastAPI:
    """The web drum machine for the model in `model_dir` (default: the bundled one) and the processed `bank`, if any.

    `workers` and `queue` bound the model work under way (more gets 503); `allowed_hosts`, when given,
    are the only Host headers answered. A state-changing request from another origin's page gets 403.
    Raises DkvaeError for a model or bank that cannot be used.
    """
    machine = DrumMachine.load(model_dir)
    library = Library(machine, machine.processed_bank(bank) if bank is not None else None)
    pool = WorkerPool(workers, queue)
    studio = Studio(machine, SoundService(machine, pool, cache_bytes), DirectionCatalogue(machine), library)
    app = FastAPI(title="dkvae drum machine", version="1", summary="Generate, vary and morph drum sounds; export kits.")
    app.state.studio = studio
    app.include_router(router)
    app.add_middleware(BodyLimit, limit_for=body_limit)
    app.add_middleware(SameOrigin)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    add_error_handlers(app)
    add_page(app, static_files())
    app.router.on_shutdown.append(pool.shutdown)
    return app


def add_error_handlers(app: FastAPI) -> None:
    """User errors become 422 with their message, long uploads 413, uploads of another type 415, a full pool 503."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # Where and why only: the rejected input is not echoed (it may be large, or NaN, which JSON cannot carry).
        detail = [{"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]} for item in error.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(TooLong)
    async def too_long(request: Request, error: TooLong) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=413)

    @app.exception_handler(NotASoundType)
    async def not_a_sound_type(request: Request, error: NotASoundType) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=415)

    @app.exception_handler(DkvaeError)
    async def user_error(request: Request, error: DkvaeError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(Busy)
    async def busy(request: Request, error: Busy) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "1"})


def add_page(app: FastAPI, files: dict[str, tuple[bytes, str]]) -> None:
    """``/`` serves the page and ``/static/<name>`` its files, from memory."""

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        content, media_type = files["index.html"]
        return Response(content, media_type=media_type, headers=SECURITY_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in files:
            raise HTTPException(404, "no such file")
        content, media_type = files[name]
        return Response(content, media_type=media_type, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


def is_loopback(host: str) -> bool:
    """True when `host` (a name or address) only listens on this machine."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(name: str) -> str:
    """`name` as a Host header carries it: lower case, an IPv6 address in brackets.

    Raises DkvaeError for anything but a bare host name or IP address (a scheme, port, path or wildcard).
    """
    bare = name.strip().lower()
    try:
        address = ipaddress.ip_address(bare.strip("[]"))
    except ValueError:
        if HOST_NAME.fullmatch(bare):
            return bare
        raise DkvaeError(
            f"{name!r} is not a host name or IP address; --allow-host takes one such as studio.local or "
            "192.168.1.20, without scheme, port or wildcard"
        ) from None
    return f"[{address}]" if address.version == 6 else str(address)


def allowed_hosts(host: str, extra: Sequence[str] = ()) -> list[str]:
    """The Host headers a server listening on `host` answers: loopback names, `host` itself and `extra`.

    Any other is refused (400) on every address, so a DNS-rebinding page (whose requests name its own
    host) reaches nothing. Raises DkvaeError for a name that is not a bare host name or IP address.
    """
    names = list(LOOPBACK_HOSTS)
    for name in map(host_name, [host, *extra]):
        if name not in names:
            names.append(name)
    return names


def host_warning(host: str) -> str | None:
    """The warning to print when serving on `host` exposes the drum machine beyond this machine (None on loopback)."""
    if is_loopback(host):
        return None
    return (
        f"serving on {host}: anyone who can reach this machine on the network can use the drum machine "
        "(and its CPU); it has no login. It answers requests addressed to this address, to loopback or to a "
        "name given with --allow-host. Use --host 127.0.0.1 to keep it to this machine."
    )


def serve(
    model_dir: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    bank: Path | None = None,
    allow_hosts: Sequence[str] = (),
) -> None:
    """Run the drum machine at ``http://host:port`` until interrupted; warns when `host` is not loopback.

    Only Host headers naming loopback, `host` or one of `allow_hosts` are answered (see `allowed_hosts`);
    the connection guards and limits are `dkvae.web.server`'s.
    """
    import torch
    import uvicorn

    from dkvae.web.server import server_config

    hosts = allowed_hosts(host, allow_hosts)  # a bad name is refused before the model loads
    warning = host_warning(host)
    if warning is not None:
        log.warning(warning)
    torch.set_num_threads(1)  # one torch thread per worker: the pool gives the parallelism (see dkvae.core.threads)
    app = create_app(model_dir, bank, allowed_hosts=hosts)
    uvicorn.Server(server_config(app, host, port)).run()
