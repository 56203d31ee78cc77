"""The web server on a real loopback socket: slow and idle connections are cut off, one client cannot starve others."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

pytest.importorskip("uvicorn", reason="the web extra (fastapi, uvicorn) is not installed")
import torch
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dkvae.cli import app as cli
from dkvae.core.errors import DkvaeError
from dkvae.web import app as web_app
from dkvae.web.app import LOOPBACK_HOSTS, allowed_hosts, create_app
from dkvae.web.server import (
    KEEP_ALIVE_SECONDS,
    MAX_CONNECTIONS_PER_CLIENT,
    MAX_HEADER_BYTES,
    GuardedProtocol,
    server_config,
)

Address = tuple[str, int]


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition()` became true within `seconds` (polled every 20 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@contextmanager
def running(app: FastAPI, **settings: float) -> Iterator[tuple[uvicorn.Server, Address]]:
    """`app` served by uvicorn with `serve`'s settings (`settings` changed) on a free loopback port, in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    address = listener.getsockname()
    server = uvicorn.Server(server_config(app, *address, log_level="warning", **settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, 60), "the server did not start"
        yield server, address
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def connect(address: Address, source: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to `address` from the loopback address `source` (any of 127.0.0.0/8)."""
    return socket.create_connection(address, timeout=10, source_address=(source, 0))


def head(method: str, address: Address, path: str = "/api/model", close: bool = True) -> bytes:
    """A request head without a body."""
    connection = "Connection: close\r\n" if close else ""
    return f"{method} {path} HTTP/1.1\r\nHost: {address[0]}:{address[1]}\r\n{connection}\r\n".encode()


def read_response(connection: socket.socket) -> tuple[int, bytes]:
    """One response's status and body (by its Content-Length, else up to the close) from `connection`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    length = next((int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:")), None)
    while length is None or len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), body


def status_of_get(address: Address, source: str = "127.0.0.1") -> int:
    """The status of ``GET /api/model`` on a new connection from `source`."""
    with connect(address, source) as connection:
        connection.sendall(head("GET", address))
        return read_response(connection)[0]


def closed_by_server(connection: socket.socket, seconds: float) -> bool:
    """Whether the server closes `connection` within `seconds` (whatever it sends first is read and dropped)."""
    connection.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not connection.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return False


def test_idle_connections_of_one_client_leave_the_server_to_others() -> None:
    with running(create_app(allowed_hosts=["127.0.0.1"])) as (server, address):
        idle = [connect(address) for _ in range(258)]
        try:
            assert wait_until(lambda: len(server.server_state.connections) >= MAX_CONNECTIONS_PER_CLIENT, 10)
            assert status_of_get(address, "127.0.0.2") == 200  # another client is served at once
            assert status_of_get(address, "127.0.0.1") == 503  # the crowding one is at its cap
            refused = idle[MAX_CONNECTIONS_PER_CLIENT:]
            answers = []
            for connection in refused:
                connection.settimeout(5)
                answers.append(connection.recv(64))
            assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers)
            assert all(closed_by_server(connection, 5) for connection in refused)
        finally:
            for connection in idle:
                connection.close()
        assert wait_until(lambda: status_of_get(address) == 200, 5)  # its connections gone, it is served again


def test_a_connection_must_send_its_request_head_in_time() -> None:
    with running(create_app(allowed_hosts=["127.0.0.1"]), header_timeout=0.5) as (_, address):
        started = time.monotonic()
        idle = connect(address)
        partial = connect(address)
        partial.sendall(b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        kept = connect(address)
        kept.sendall(head("GET", address, close=False))
        assert read_response(kept)[0] == 200
        kept.sendall(b"GET /api/model HTTP/1.1\r\n")  # the next request on a kept-alive connection, never finished
        dribbling = connect(address)
        for _ in range(100):  # one byte of a header every 20 ms, for at most 2 s
            try:
                dribbling.sendall(b"GET /api/model HTTP/1.1\r\n" if _ == 0 else b"x")
            except OSError:
                break
            time.sleep(0.02)
        for connection in (idle, partial, kept, dribbling):
            assert closed_by_server(connection, 3)
            connection.close()
        assert time.monotonic() - started < 4
        with connect(address) as huge:
            huge.sendall(b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 2 * MAX_HEADER_BYTES)
            assert read_response(huge)[0] == 400  # a head growing past the limit is refused before it ends


def test_a_request_waiting_for_a_worker_is_not_cut_off_by_the_head_deadline() -> None:
    busy = create_app(allowed_hosts=["127.0.0.1"], workers=1, queue=1)
    with running(busy, header_timeout=0.3) as (_, address):
        release = threading.Event()
        blocker = busy.state.studio.sounds.pool.submit(release.wait)
        try:
            with connect(address) as connection:
                body = b'{"instrument": "kick", "seed": 11}'
                connection.sendall(
                    f"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1:{address[1]}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                    + body
                )
                time.sleep(1.0)  # queued behind the blocker, well past the head deadline
                release.set()
                status, answer = read_response(connection)
                assert status == 200 and b'"instrument":"kick"' in answer
        finally:
            release.set()
            blocker.result(timeout=5)


# --- what `dkvae serve` starts ------------------------------------------------------------------------


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict:
    """What `serve` would start, recorded instead: the app's options and the uvicorn config (no model, no socket)."""
    seen: dict = {}

    def made(model_dir: object = None, bank: object = None, **options: object) -> FastAPI:
        seen.update(options)
        return FastAPI()

    monkeypatch.setattr(web_app, "create_app", made)
    monkeypatch.setattr(uvicorn.Server, "run", lambda server, sockets=None: seen.update(config=server.config))
    monkeypatch.setattr(torch, "set_num_threads", lambda count: None)
    return seen


def test_serve_off_loopback_keeps_a_host_allow_list_and_the_connection_guards(started: dict) -> None:
    web_app.serve(host="192.168.1.5", port=8123)
    assert started["allowed_hosts"] == [*LOOPBACK_HOSTS, "192.168.1.5"]
    config = started["config"]
    assert issubclass(config.http, GuardedProtocol) and config.port == 8123 and config.host == "192.168.1.5"
    assert config.timeout_keep_alive == KEEP_ALIVE_SECONDS and config.h11_max_incomplete_event_size == MAX_HEADER_BYTES


def test_allowed_hosts_are_loopback_the_own_host_and_the_names_given() -> None:
    names = allowed_hosts("0.0.0.0", ["Studio.LAN", "192.168.1.20", "fe80::1", "studio.lan", "localhost"])
    assert names == [*LOOPBACK_HOSTS, "0.0.0.0", "studio.lan", "192.168.1.20", "[fe80::1]"]
    for bad in ("http://studio.lan", "studio.lan:8000", "*", "*.lan", "a/b", ""):
        with pytest.raises(DkvaeError, match="--allow-host takes one such as"):
            allowed_hosts("0.0.0.0", [bad])
    with TestClient(create_app(allowed_hosts=allowed_hosts("192.168.1.5", ["studio.lan"]))) as client:
        for host in ("studio.lan:8000", "192.168.1.5:8000", "localhost:8000", "[::1]:8000", "127.0.0.1"):
            assert client.get("/api/model", headers={"host": host}).status_code == 200, host
        assert client.get("/api/model", headers={"host": "evil.example:8000"}).status_code == 400


def test_the_serve_command_takes_repeated_allow_host_names(started: dict) -> None:
    arguments = ["serve", "--host", "0.0.0.0", "--allow-host", "studio.lan", "--allow-host", "10.0.0.2"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert started["allowed_hosts"] == [*LOOPBACK_HOSTS, "0.0.0.0", "studio.lan", "10.0.0.2"]
    started.clear()
    refused = CliRunner().invoke(cli, ["serve", "--allow-host", "http://studio.lan"])
    assert isinstance(refused.exception, DkvaeError)  # `main` prints it on one line and exits 2
    assert "'http://studio.lan' is not a host name" in str(refused.exception) and "config" not in started
