"""``run`` and ``sync``: start the bot with signal handling, or push its commands and leave."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import discord

from bot.app import HubBot, point_discord_at
from bot.config import Settings
from bot.logs import configure_logging

log = logging.getLogger("bot")

NO_TOKEN = ("no Discord token: set DISCORD_TOKEN in the environment or discord.token in the config file "
            "(see README: Creating the Discord application)")


def run_bot(settings: Settings) -> int:
    """Run until SIGTERM/SIGINT (exit 0) or a fatal error (exit 1). No token: exit 2 at once."""
    configure_logging(settings.logging.level, secrets=settings.secrets())
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
    runner = asyncio.create_task(bot.start(settings.discord.token), name="discord")
    stopper = asyncio.create_task(stop.wait(), name="signals")
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            error = runner.exception()
            if error is None:
                return 0
            _explain(error)
            return 1
        log.info("signal received: shutting down")
        return 0
    finally:
        stopper.cancel()
        await bot.close()
        if not runner.done():
            runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner


def _explain(error: BaseException) -> None:
    if isinstance(error, discord.LoginFailure):
        log.error("Discord refused the token: check DISCORD_TOKEN")
    elif isinstance(error, discord.PrivilegedIntentsRequired):
        log.error("Discord refused a privileged intent; this bot needs none (is this the right build?)")
    else:
        log.error("the bot stopped on an error", exc_info=error)


def sync_commands(settings: Settings, *, guild_id: int | None = None) -> int:
    """Log in over REST only (no gateway), push the commands, exit."""
    configure_logging(settings.logging.level, secrets=settings.secrets())
    if not settings.discord.token:
        print(f"error: {NO_TOKEN}", file=sys.stderr)
        return 2
    return asyncio.run(_sync(settings, guild_id))


async def _sync(settings: Settings, guild_id: int | None) -> int:
    point_discord_at(settings.discord.api_base, settings.discord.gateway_url)
    bot = HubBot(settings)
    try:
        await bot.login(settings.discord.token)  # runs setup_hook: cogs are loaded
        count = await bot.sync_commands([guild_id] if guild_id else None)
        where = f"guild {guild_id}" if guild_id else "all servers (global; may take up to an hour to show)"
        print(f"synced {count} commands to {where}")
        return 0
    except discord.LoginFailure:
        log.error("Discord refused the token: check DISCORD_TOKEN")
        return 1
    except discord.HTTPException as exc:
        log.error("Discord refused the command sync: %s %s", exc.status, exc.text)
        return 1
    finally:
        await bot.close()
