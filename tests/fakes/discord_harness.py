"""Helpers for running a real discord.py client against :class:`~tests.fakes.discord_server.FakeDiscord`.

Typical use (pytest-asyncio, ``asyncio_mode = "auto"``)::

    async def test_something():
        with collect_discord_errors() as errors:
            async with FakeDiscord() as fake:
                guild = fake.add_default_guild()
                bot = commands.Bot(command_prefix="!", intents=..., **TEST_CLIENT_KWARGS)
                async with running_bot(fake, bot):
                    rec = await fake.slash("status", channel_id=guild.channel("general").id,
                                           user_id=guild.member("member").id)
                    await rec.wait_response()
        errors.assert_clean()
        assert not fake.unhandled
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import yarl

from tests.fakes.discord_server import FakeDiscord

__all__ = [
    "TEST_CLIENT_KWARGS",
    "DiscordLogCollector",
    "collect_discord_errors",
    "patch_discord",
    "running_bot",
    "start_bot",
    "stop_bot",
]

ClientT = TypeVar("ClientT", bound=discord.Client)

#: keyword arguments every test client should get: ``on_ready`` 0.05 s after the last GUILD_CREATE
#: instead of 2 s
TEST_CLIENT_KWARGS: dict[str, Any] = {"guild_ready_timeout": 0.05}


@contextlib.contextmanager
def patch_discord(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py at the fake: ``discord.http.Route.BASE`` (REST, also used by the interaction and
    webhook adapter) and ``DiscordWebSocket.DEFAULT_GATEWAY``.  Both are process-global; the previous
    values are restored on exit (nesting is fine)."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


class DiscordLogCollector(logging.Handler):
    """Collects log records (by default ERROR and above) of the ``discord`` logger.

    discord.py swallows exceptions raised in commands, views, modals and event handlers and only logs
    them, so a test that does not look here can pass while the bot is broken."""

    def __init__(self, level: int = logging.ERROR) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]

    def clear(self) -> None:
        self.records.clear()

    async def wait_for_error(self, *, timeout: float = 3.0) -> logging.LogRecord:  # noqa: ASYNC109
        """Wait until an ERROR record arrives (polls every 10 ms: logging has no event) and return the
        first one."""
        async with asyncio.timeout(timeout):
            while not self.errors:  # noqa: ASYNC110 -- logging offers nothing to await
                await asyncio.sleep(0.01)
        return self.errors[0]

    def format_records(self) -> str:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
        return "\n".join(formatter.format(r) for r in self.records)

    def assert_clean(self) -> None:
        """Fail (with the messages and tracebacks) if any ERROR was logged."""
        if self.errors:
            raise AssertionError(f"discord logged {len(self.errors)} error(s):\n{self.format_records()}")


@contextlib.contextmanager
def collect_discord_errors(
    level: int = logging.ERROR, logger_name: str = "discord"
) -> Iterator[DiscordLogCollector]:
    """Attach a :class:`DiscordLogCollector` to ``logger_name`` for the duration of the block."""
    collector = DiscordLogCollector(level)
    logger = logging.getLogger(logger_name)
    old_level = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(collector)
    try:
        yield collector
    finally:
        logger.removeHandler(collector)
        logger.setLevel(old_level)


async def start_bot(
    fake: FakeDiscord, bot: ClientT, *, token: str | None = None, timeout: float = 10.0  # noqa: ASYNC109
) -> asyncio.Task[None]:
    """Start ``bot`` against ``fake`` (constants must already be patched, see :func:`patch_discord`)
    and wait until it is ready (``on_ready`` fired).  Returns the task running ``bot.start()``; stop it
    with :func:`stop_bot`.  Errors during start-up (login failure, ``PrivilegedIntentsRequired``, an
    exception in ``setup_hook``...) are raised here."""
    before = fake.ready_count
    task: asyncio.Task[None] = asyncio.create_task(bot.start(token or fake.token), name="discord-bot-start")

    async def race(coro: Any) -> None:
        waiter = asyncio.ensure_future(coro)
        try:
            done, _ = await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        if waiter in done:
            waiter.result()
            return
        task.result()  # raises the start-up error, if any
        raise RuntimeError("the bot stopped before it became ready")

    try:
        async with asyncio.timeout(timeout):
            # wait_until_ready() may only be called once login() has run; READY implies it has
            await race(fake.wait_until(lambda: fake.ready_count > before, timeout=timeout))
            await race(bot.wait_until_ready())
    except BaseException:
        await stop_bot(bot, task)
        raise
    return task


async def stop_bot(bot: discord.Client, task: asyncio.Task[None], *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Close ``bot`` and wait for its ``start()`` task to end (errors of an already failed task are
    swallowed: :func:`start_bot` reports them)."""
    if not bot.is_closed():
        await bot.close()
    if not task.done():
        try:
            await asyncio.wait_for(task, timeout)
        except (asyncio.CancelledError, TimeoutError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    elif not task.cancelled():
        task.exception()  # mark retrieved


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord, bot: ClientT, *, token: str | None = None, timeout: float = 10.0  # noqa: ASYNC109
) -> AsyncIterator[ClientT]:
    """Patch discord.py to use ``fake``, start ``bot``, wait until it is ready, yield it; on exit close
    it, wait for it to stop and restore the patched constants.  Give the client
    ``guild_ready_timeout=0.05`` (see :data:`TEST_CLIENT_KWARGS`) or ``on_ready`` takes 2 s."""
    with patch_discord(fake):
        task = await start_bot(fake, bot, token=token, timeout=timeout)
        try:
            yield bot
        finally:
            await stop_bot(bot, task, timeout=timeout)
