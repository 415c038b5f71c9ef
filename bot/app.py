"""The Bot subclass: ``setup_hook`` opens the services (``bot.services``) and loads every extension in
``cogs/`` (a failing cog is logged, not fatal; each cog registers what it starts: jobs, persistent
components); ``close`` waits for running jobs (bounded), then shuts it all down in reverse order."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
import time
from collections.abc import Callable
from typing import Any

import discord
import yarl
from discord.ext import commands

from bot import __version__
from bot.config import Settings
from bot.services import Services
from bot.ui.base import ServicesBot
from bot.ui.errors import HubCommandTree

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg"
SHUTDOWN_GRACE = 10.0  # seconds running jobs get to finish their step at shutdown


def bot_intents() -> discord.Intents:
    """Only what the features need: guilds (channels, roles, nsfw flags) and guild reactions (votes).
    No members, presences or message content: nothing privileged."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_reactions = True
    return intents


def point_discord_at(api_base: str, gateway_url: str) -> None:
    """Make discord.py talk to the configured Discord (``discord.api_base``/``gateway_url``; another
    Discord-compatible server for local testing). Process-wide, as discord.py keeps these as class
    attributes, so only the entry points (``bot.runner``) call it."""
    if api_base.rstrip("/") == DEFAULT_API_BASE and gateway_url.rstrip("/") == DEFAULT_GATEWAY:
        return
    discord.http.Route.BASE = api_base.rstrip("/")
    gateway = gateway_url if gateway_url.endswith("/") else gateway_url + "/"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)


class HubBot(ServicesBot):
    def __init__(self, settings: Settings, *, extensions: list[str] | None = None,
                 clock: Callable[[], float] = time.time, **client_options: Any) -> None:
        """``clock``: the wall clock the services schedule by (tests inject a controllable one)."""
        client_options.setdefault("intents", bot_intents())
        client_options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        client_options.setdefault("tree_cls", HubCommandTree)
        client_options.setdefault("help_command", None)
        client_options.setdefault("max_messages", 100)  # a small message cache: events are read raw
        # a 429 asking for longer than this is handed back (discord.RateLimited) instead of slept on
        # with locks held: feed delivery pauses and resumes at the next poll
        client_options.setdefault("max_ratelimit_timeout", 30.0)
        # The bot has no voice features: silence discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(settings, command_prefix=commands.when_mentioned, **client_options)
        self.started_at = time.time()
        self.failed_extensions: dict[str, str] = {}
        self._closing: asyncio.Future[None] | None = None
        self.extension_list = extension_names() if extensions is None else list(extensions)
        self.clock = clock

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        settings = self.settings
        self._services = await Services.open(settings, clock=self.clock)
        for name in self.extension_list:
            try:
                await self.load_extension(name)
            except Exception as exc:  # a broken cog must not take the bot down
                self.failed_extensions[name] = f"{type(exc).__name__}: {exc}"
                log.exception("extension %s failed to load; continuing without it", name)
        self._services.scheduler.add_job(self._prune_cache, "interval", hours=1, id="cache-prune",
                                         name="cache pruning", replace_existing=True)
        self._services.scheduler.start()
        if settings.discord.sync_on_start and settings.discord.dev_guild_ids:
            await self.sync_commands(settings.discord.dev_guild_ids)
        log.info("setup done: %d extensions, %d commands", len(self.extensions),
                 len(self.tree.get_commands()))

    async def sync_commands(self, guild_ids: list[int] | tuple[int, ...] | None = None) -> int:
        """Push the command tree globally (no ids) or to the given guilds (instant there)."""
        if not guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
            return len(synced)
        count = 0
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            count = len(synced)
            log.info("synced %d commands to guild %s", count, guild_id)
        return count

    async def _prune_cache(self) -> None:
        with self.background_job() as go:  # shutdown waits for it rather than cancelling it mid-write
            if go:
                await self.services.prune_cache()

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d guilds", self.user, getattr(self.user, "id", "?"), len(self.guilds))

    # ------------------------------------------------------------------ background work and shutdown

    async def _stop_background_work(self, services: Services) -> None:
        """No new jobs; running ones finish their current step (a feed post in flight completes) and
        stop, within ``SHUTDOWN_GRACE`` seconds; a job still running then is cancelled (what it was
        doing is recovered at the next start)."""
        if services.scheduler.running:
            services.scheduler.pause()  # not shutdown(): that would cancel running jobs mid-post
        services.feeds.stopping.set()
        services.digests.stopping.set()
        running = [t for t in self._jobs if not t.done()]
        if not running:
            return
        log.info("shutdown: waiting up to %.0f s for %d running job(s) to finish their step", SHUTDOWN_GRACE,
                 len(running))
        _, late = await asyncio.wait(running, timeout=SHUTDOWN_GRACE)
        if late:
            log.warning("shutdown: %d job(s) still running after %.0f s; interrupting them (their work resumes "
                        "at the next start)", len(late), SHUTDOWN_GRACE)
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=2.0)

    async def close(self) -> None:
        """Stop background work first (bounded), then in reverse order: gateway, scheduler, cache
        refreshes, HTTP client, database. Safe to call more than once, also concurrently."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        # a caller cancelled while waiting must not cancel the shutdown the others wait for
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self._stopping = True
        if self._services is not None:
            await self._stop_background_work(self._services)
        await super().close()
        services, self._services = self._services, None
        if services is None:
            return
        await services.close()
        log.info("closed cleanly")

    @property
    def version(self) -> str:
        return __version__


def extension_names() -> list[str]:
    """Every module in the ``cogs`` package, in name order."""
    package = importlib.import_module("cogs")
    return sorted(f"cogs.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
