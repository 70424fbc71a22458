"""uvicorn's ``Server`` with a stop that takes milliseconds instead of tenths of seconds.

Why this module exists: uvicorn's ``Server`` checks its ``should_exit`` flag every
0.1 s in ``main_loop``, then its ``shutdown`` sleeps a fixed 0.1 s and polls the open
connections every 0.1 s. A test that starts a REST catalog or an S3 endpoint per test
(the ``memcatalog_server`` fixture) paid ~0.25 s per stop, more than the test itself.

``QuickStopServer`` overrides the two coroutines uvicorn's ``Server._serve`` calls
after startup (``main_loop`` and ``shutdown``): the main loop waits on an event that
``request_stop`` sets from any thread, and shutdown asks every connection to close
(idle keep-alive ones close at once, busy ones after their response, as in uvicorn)
and waits for them in 2 ms steps, up to the graceful-shutdown timeout, after which
unfinished request tasks are cancelled as uvicorn does. It uses these parts of
uvicorn, all public attributes of ``uvicorn.Server``: ``main_loop``, ``shutdown``,
``on_tick``, ``should_exit``, ``force_exit``, ``servers``, ``server_state.connections``,
``server_state.tasks``, ``lifespan`` and ``config.timeout_graceful_shutdown``;
tests/test_serving.py checks that uvicorn still has them and still calls both
overrides, so an upgrade that changes them fails loudly rather than stopping slowly.

Importing this module imports uvicorn: import it lazily (memcatalog.serving does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import uvicorn

logger = logging.getLogger("memcatalog.serving")

TICK_SECONDS = 1.0  # uvicorn refreshes its Date header once per second; so do we
CLOSE_POLL_SECONDS = 0.002  # how often shutdown looks whether the last connections have closed


class QuickStopServer(uvicorn.Server):
    """A ``uvicorn.Server`` whose ``request_stop()`` (thread-safe) ends ``run()`` within milliseconds."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def request_stop(self) -> None:
        """Ask the server to stop: callable from any thread, before or after it started. Idempotent."""
        self.should_exit = True  # read by main_loop after it creates the event: no stop request is missed
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed: the server has stopped
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        counter = 0  # on_tick refreshes the default headers whenever counter % 10 == 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            # a tick: on_tick refreshes headers and checks should_exit (asyncio.TimeoutError: not the builtin on 3.10)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()  # idle keep-alive connections close now, busy ones after their response
        loop = asyncio.get_running_loop()
        graceful = self.config.timeout_graceful_shutdown
        deadline = loop.time() + (graceful if graceful is not None else float("inf"))  # None: wait for ever, as uvicorn
        while (state.connections or state.tasks) and not self.force_exit and loop.time() < deadline:
            await asyncio.sleep(CLOSE_POLL_SECONDS)
        if state.tasks and not self.force_exit:
            logger.error("cancelling %d request(s) still running after the graceful shutdown timeout", len(state.tasks))
            for task in state.tasks:
                task.cancel(msg="cancelled: graceful shutdown timeout exceeded")
        if not state.connections:
            for server in self.servers:
                await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()
