"""``run`` and ``sync``: start the bot with signal handling, or push its commands and leave.

Expected failures — no network, a host that does not resolve, a refused connection, a TLS error, a
bad token, Discord answering 5xx, a Discord that accepts connections but never answers — end the
process with one log line that names what could not be reached, and exit 1. Connecting gives up
after ``discord.connect_timeout_seconds``. Tracebacks are kept for bugs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import discord

from bot.app import HubBot, point_discord_at
from bot.config import Settings, config_warnings
from bot.logs import configure_logging

log = logging.getLogger("bot")

NO_TOKEN = ("no Discord token: set DISCORD_TOKEN in the environment or discord.token in the config file "
            "(see README: Creating the Discord application)")
TIMEOUT_KEY = "discord.connect_timeout_seconds"


# --------------------------------------------------------------------------- describing failures


@dataclass
class _Progress:
    """How far connecting got, to say what could not be reached."""

    settings: Settings
    phase: str = "api"  # "api": REST log-in and set-up; "gateway": the websocket; "ready"
    last_gateway_error: BaseException | None = field(default=None, repr=False)

    @property
    def api(self) -> str:
        return f"the Discord API at {self.settings.discord.api_base}"

    @property
    def gateway(self) -> str:
        return f"the Discord gateway at {self.settings.discord.gateway_url}"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_failure(error: BaseException, *, what: str) -> str | None:
    """One line for an expected failure talking to ``what`` ("the Discord API at URL"); ``None``
    for anything else (a bug: it keeps its traceback)."""
    for e in _chain(error):
        if isinstance(e, discord.LoginFailure):
            return f"Discord refused the token ({what} answered 401 Unauthorized): check DISCORD_TOKEN"
        if isinstance(e, discord.PrivilegedIntentsRequired):
            return "Discord refused a privileged intent; this bot needs none (is this the right build?)"
        if isinstance(e, discord.ConnectionClosed):
            if e.code == 4004:
                return f"Discord refused the token ({what} closed with 4004, authentication failed): " \
                       "check DISCORD_TOKEN"
            reason = f" ({e.reason})" if e.reason else ""
            return f"{what} closed the connection with code {e.code}{reason}"
        if isinstance(e, discord.GatewayNotFound):
            return f"{what} did not give a gateway to connect to; Discord may be down, try again later"
        if isinstance(e, discord.DiscordServerError):
            return f"{what} answered {e.status} (a Discord server error); try again later"
        if isinstance(e, discord.HTTPException):
            text = f": {e.text}" if e.text else ""
            return f"{what} refused the request with {e.status}{text}"
        if isinstance(e, aiohttp.ClientConnectorDNSError | socket.gaierror):
            host = getattr(e, "host", None) or "its host"
            return f"cannot reach {what}: the name {host} does not resolve (DNS failure; is the network up?)"
        if isinstance(e, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError | ssl.SSLError):
            return f"cannot reach {what}: TLS error ({_short(e)})"
        if isinstance(e, aiohttp.ClientConnectorError):
            return f"cannot reach {what}: {_os_reason(e.os_error)}"
        if isinstance(e, aiohttp.WSServerHandshakeError):
            return f"{what} refused the websocket connection with HTTP {e.status}"
        if isinstance(e, aiohttp.ClientError):
            return f"lost the connection to {what}: {_short(e)}"
        if isinstance(e, TimeoutError):
            return f"{what} did not answer in time"
        if isinstance(e, OSError):
            return f"cannot reach {what}: {_os_reason(e)}"
    return None


def _os_reason(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is anything listening there?)"
    return (error.strerror or _short(error)).rstrip(".")


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _timed_out(progress: _Progress, bot: HubBot, timeout: float) -> str:
    limit = f"within {timeout:g} s ({TIMEOUT_KEY})"
    if progress.phase == "gateway":
        last = progress.last_gateway_error
        reason = describe_failure(last, what=progress.gateway) if last is not None else None
        if reason:
            return f"could not connect to Discord {limit}: {reason}"
        return f"{progress.gateway} did not complete a connection {limit}"
    if bot.user is None or getattr(bot, "application", None) is None:
        return f"{progress.api} did not answer {limit}"
    return f"start-up did not finish {limit} (loading extensions, syncing commands with {progress.api})"


class _ReconnectWatch(logging.Filter):
    """On ``discord.client``: notes the error behind each "Attempting a reconnect" and, until the bot
    is first ready, keeps those records out of the log (the timeout line names the last error)."""

    def __init__(self, progress: _Progress) -> None:
        super().__init__()
        self.progress = progress

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Attempting a reconnect") and record.exc_info:
            self.progress.last_gateway_error = record.exc_info[1]
            return self.progress.phase == "ready"
        return True


def _brief_reconnects(settings: Settings):
    """For the log handler: discord.py's reconnect messages carry a traceback of a network error;
    show the error in one line instead (tracebacks are for bugs)."""
    what = f"the Discord gateway at {settings.discord.gateway_url}"

    def brief(record: logging.LogRecord) -> str | None:
        if not record.name.startswith("discord.") or not str(record.msg).startswith("Attempting a reconnect"):
            return None
        error = record.exc_info[1] if record.exc_info else None
        return describe_failure(error, what=what) if error is not None else None

    return brief


def _setup_logging(settings: Settings, notes: Sequence[str]) -> None:
    configure_logging(settings.logging.level, secrets=settings.secrets(), brief=_brief_reconnects(settings))
    for note in notes:
        log.info("%s", note)
    for warning in config_warnings(settings):
        log.warning("%s", warning)


# --------------------------------------------------------------------------- run


def run_bot(settings: Settings, *, notes: Sequence[str] = ()) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or a fatal error (exit 1). No token: exit 2 at once."""
    _setup_logging(settings, notes)
    if not settings.discord.token:
        print(f"error: {NO_TOKEN}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(settings))
    except KeyboardInterrupt:  # a second Ctrl-C while closing
        return 0


async def _run(settings: Settings) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)

    point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    bot = HubBot(settings)
    progress = _Progress(settings)
    ready = asyncio.Event()

    async def on_ready() -> None:
        progress.phase = "ready"
        ready.set()

    bot.add_listener(on_ready, "on_ready")
    watch = _ReconnectWatch(progress)
    discord_log = logging.getLogger("discord.client")
    discord_log.addFilter(watch)

    async def start() -> None:
        await bot.login(settings.discord.token)  # REST: the token, the application, setup_hook
        progress.phase = "gateway"
        await bot.connect(reconnect=True)

    timeout = settings.discord.connect_timeout_seconds
    runner = asyncio.create_task(start(), name="discord")
    stopper = asyncio.create_task(stop.wait(), name="signals")
    connected = asyncio.create_task(ready.wait(), name="ready")
    try:
        done, _ = await asyncio.wait({runner, stopper, connected}, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if not done:
            log.error("%s", _timed_out(progress, bot, timeout))
            return 1
        if connected in done and not (done & {runner, stopper}):
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            error = runner.exception()
            if error is None:
                return 0
            _explain(error, progress)
            return 1
        log.info("signal received: shutting down")
        return 0
    finally:
        discord_log.removeFilter(watch)
        for task in (stopper, connected):
            task.cancel()
        await bot.close()
        if not runner.done():
            runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner


def _explain(error: BaseException, progress: _Progress) -> None:
    what = progress.api if progress.phase == "api" else progress.gateway
    reason = describe_failure(error, what=what)
    if reason is not None:
        log.error("%s", reason)
    else:
        log.error("the bot stopped on an error", exc_info=error)


# --------------------------------------------------------------------------- sync


def sync_commands(settings: Settings, *, guild_id: int | None = None, notes: Sequence[str] = ()) -> int:
    """Log in over REST only (no gateway), push the commands, exit."""
    _setup_logging(settings, notes)
    if not settings.discord.token:
        print(f"error: {NO_TOKEN}", file=sys.stderr)
        return 2
    return asyncio.run(_sync(settings, guild_id))


async def _sync(settings: Settings, guild_id: int | None) -> int:
    point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    bot = HubBot(settings)
    progress = _Progress(settings)
    timeout = settings.discord.connect_timeout_seconds
    login_deadline = asyncio.timeout(timeout)
    sync_deadline = asyncio.timeout(None)
    try:
        async with login_deadline:
            await bot.login(settings.discord.token)  # runs setup_hook: cogs are loaded
        async with sync_deadline:
            sync_deadline.reschedule(asyncio.get_running_loop().time() + timeout)
            count = await bot.sync_commands([guild_id] if guild_id else None)
        where = f"guild {guild_id}" if guild_id else "all servers (global; may take up to an hour to show)"
        print(f"synced {count} commands to {where}")
        return 0
    except Exception as exc:
        if login_deadline.expired():
            reason = _timed_out(progress, bot, timeout)
        elif sync_deadline.expired():
            reason = f"{progress.api} did not answer the command sync within {timeout:g} s ({TIMEOUT_KEY})"
        else:
            reason = describe_failure(exc, what=progress.api)
        if reason is None:
            raise  # a bug: keep the traceback
        log.error("%s", reason)
        return 1
    finally:
        await bot.close()
