"""Streamed responses read from the database that never keep a cursor open for a client that has
gone away or stopped reading.

A plain StreamingResponse over a generator that holds a server-side cursor keeps that cursor,
its transaction and its pooled connection for as long as the send of the next chunk waits: a
client that never reads keeps them forever, and when it disconnects the generator is left
suspended until garbage collection. `DatabaseStreamingResponse` instead
- takes a slot of the stream gate first (so stalled downloads cannot take every connection),
- reads the first chunk before the status line is sent, so a database that is unreachable still
  answers 503 JSON instead of a broken 200,
- gives up on a client that accepts no chunk for `stream_send_timeout_seconds`,
- and in every case (done, disconnected, stalled, failed) closes the generator, which ends its
  `with connect()` block and returns the connection, before releasing the slot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

import anyio
import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Message, Send

from spendlens.config import get_settings
from spendlens.db import stream_gate

logger = logging.getLogger("spendlens.streaming")

# Text gathered per send: one thread hop and one socket write per ~64 KB, not per row.
CHUNK_CHARS = 64 * 1024


class StalledClient(Exception):
    """The client accepted no data for longer than the send timeout."""


def _read_chunk(pieces: Iterator[str]) -> str:
    """The next ~CHUNK_CHARS of text ('' at the end); runs on a worker thread."""
    parts: list[str] = []
    size = 0
    for piece in pieces:
        parts.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            break
    return "".join(parts)


def _close(pieces: Iterator[str]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


class DatabaseStreamingResponse(StreamingResponse):
    """A streamed body produced by a (sync) generator that reads from the database."""

    def __init__(
        self,
        content: Iterable[str],
        *,
        media_type: str,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
    ) -> None:
        self.pieces = iter(content)
        super().__init__(iter(()), status_code=status_code, headers=headers, media_type=media_type)

    async def _send(self, send: Send, message: Message, timeout: float) -> None:
        with anyio.move_on_after(timeout) as waited:
            await send(message)
        if waited.cancelled_caught:
            raise StalledClient()

    async def stream_response(self, send: Send) -> None:
        timeout = get_settings().stream_send_timeout_seconds
        try:
            async with stream_gate.slot():
                try:
                    chunk = await anyio.to_thread.run_sync(_read_chunk, self.pieces)
                    start = {
                        "type": "http.response.start",
                        "status": self.status_code,
                        "headers": self.raw_headers,
                    }
                    await self._send(send, start, timeout)
                    while chunk:
                        body = chunk.encode(self.charset)
                        message = {"type": "http.response.body", "body": body, "more_body": True}
                        await self._send(send, message, timeout)
                        chunk = await anyio.to_thread.run_sync(_read_chunk, self.pieces)
                    await self._send(
                        send,
                        {"type": "http.response.body", "body": b"", "more_body": False},
                        timeout,
                    )
                except StalledClient:
                    # The server closes the connection (the response stays incomplete).
                    logger.warning("streamed download stalled for %ss; closed", timeout)
                finally:
                    # Shielded: on a disconnect this task is being cancelled, and the cursor
                    # must still be closed (on a thread: closing talks to the database).
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(_close, self.pieces)
        finally:
            # Not admitted (503): the generator never ran, but drop it deterministically.
            _close(self.pieces)
