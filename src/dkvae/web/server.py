"""uvicorn's settings for `serve`: h11 with a deadline for each request head and a cap on connections per client.

uvicorn counts every open connection against its concurrency limit and answers 503 beyond it, but never
times out a connection that has not sent a complete request head (its keep-alive timer starts only after
a response, and stops at the next request's first byte). Without the two guards here, a few hundred
idle or dribbling connections from one client would shut everyone out for as long as they stayed open.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Open connections the server answers at all (uvicorn's `limit_concurrency`; more get 503).
MAX_CONNECTIONS = 256
#: Open connections one client address may hold (a browser opens six); more are answered 503 and closed.
MAX_CONNECTIONS_PER_CLIENT = 32
#: Seconds a connection has to send a whole request head: from connecting, or from the first byte after a response.
HEADER_TIMEOUT_SECONDS = 10.0
#: Seconds an idle kept-alive connection stays open after a response.
KEEP_ALIVE_SECONDS = 5
#: Largest request head h11 buffers, in bytes (more is refused with 400).
MAX_HEADER_BYTES = 16 * 2**10

OVER_CAP_MESSAGE = b"too many connections from this address; close some and try again"
OVER_CAP_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"retry-after: 1\r\ncontent-length: %d\r\n\r\n%s" % (len(OVER_CAP_MESSAGE), OVER_CAP_MESSAGE)
)


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol that closes a connection slow to send its request head, and caps connections per client.

    Use a subclass made by `guarded_protocol`: it sets the deadline, the cap and the count its connections share.
    """

    header_timeout: float
    per_client: int
    #: Open connections by client address, shared by all connections of one server.
    open_by_client: Counter[str]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_deadline: asyncio.TimerHandle | None = None
        self.counted_as = self.client[0] if self.client else None
        if self.counted_as is not None and self.open_by_client[self.counted_as] >= self.per_client:
            self.counted_as = None
            transport.write(OVER_CAP_RESPONSE)
            transport.close()
            return
        if self.counted_as is not None:
            self.open_by_client[self.counted_as] += 1
        self.head_deadline = self.loop.call_later(self.header_timeout, self.head_timed_out)

    def data_received(self, data: bytes) -> None:
        if self.head_deadline is None and self.awaiting_head():  # a kept-alive connection's next request begins
            self.head_deadline = self.loop.call_later(self.header_timeout, self.head_timed_out)
        super().data_received(data)
        if not self.awaiting_head():
            self.cancel_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_head_deadline()
        if self.counted_as is not None:
            self.open_by_client[self.counted_as] -= 1
            if not self.open_by_client[self.counted_as]:
                del self.open_by_client[self.counted_as]
            self.counted_as = None
        super().connection_lost(exc)

    def awaiting_head(self) -> bool:
        """True between requests: the client has not sent a whole request head, nor is a response under way."""
        return self.conn.their_state is h11.IDLE and self.conn.our_state is h11.IDLE

    def head_timed_out(self) -> None:
        """Close the connection if its request head is still incomplete."""
        self.head_deadline = None
        if self.awaiting_head() and not self.transport.is_closing():
            self.transport.close()

    def cancel_head_deadline(self) -> None:
        """Stop the head deadline, if one is set."""
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None


def guarded_protocol(header_timeout: float, per_client: int) -> type[GuardedProtocol]:
    """A `GuardedProtocol` class with its own count of connections per client (one per server)."""
    attributes = {"header_timeout": header_timeout, "per_client": per_client, "open_by_client": Counter()}
    return type("GuardedProtocol", (GuardedProtocol,), attributes)


def server_config(
    app: FastAPI,
    host: str,
    port: int,
    *,
    header_timeout: float = HEADER_TIMEOUT_SECONDS,
    per_client: int = MAX_CONNECTIONS_PER_CLIENT,
    log_level: str = "info",
) -> uvicorn.Config:
    """uvicorn's settings for `app` at ``host:port``: h11 with the guards above, bounded connections, no WebSocket.

    `header_timeout` (seconds) and `per_client` (connections) default to `HEADER_TIMEOUT_SECONDS` and
    `MAX_CONNECTIONS_PER_CLIENT`.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(header_timeout, per_client),
        ws="none",  # the page uses none; an upgraded connection would leave the guards' count
        log_level=log_level,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
    )
