"""The Bot subclass: ``setup_hook`` opens the store, the hub client, the cache and the scheduler,
loads every extension in ``cogs/`` (a failing cog is logged, not fatal), and registers persistent
views; ``close`` shuts it all down in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import pkgutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import discord
import yarl
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord.ext import commands

from bot import __version__
from bot.cache import HubCache
from bot.cards import CardService
from bot.config import Settings
from bot.feeds import FeedService
from bot.guild_settings import GuildSettingsService
from bot.hub.client import HubClient
from bot.previews import PreviewService, PreviewStore
from bot.search import SearchService
from bot.store import Store
from bot.store.feeds import FeedStore
from bot.ui.cards import VersionsButton
from bot.ui.errors import HubCommandTree

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://discord.com/api/v10"
MODEL_RETENTION = 30 * 86400.0  # cached models not fetched for this long are pruned
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


@dataclass
class Services:
    """What cogs use. Everything here is plain Python, testable without Discord."""

    settings: Settings
    store: Store
    hub: HubClient
    cache: HubCache
    guild_settings: GuildSettingsService
    scheduler: AsyncIOScheduler
    previews: PreviewService
    cards: CardService
    search: SearchService
    feeds: FeedService
    extras: dict[str, Any] = field(default_factory=dict)


class HubBot(commands.Bot):
    def __init__(self, settings: Settings, *, extensions: list[str] | None = None, **client_options: Any) -> None:
        client_options.setdefault("intents", bot_intents())
        client_options.setdefault("allowed_mentions", discord.AllowedMentions.none())
        client_options.setdefault("tree_cls", HubCommandTree)
        client_options.setdefault("help_command", None)
        client_options.setdefault("max_messages", 100)  # a small message cache: events are read raw
        # The bot has no voice features: silence discord.py's start-up warnings about voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(command_prefix=commands.when_mentioned, **client_options)
        self.settings = settings
        self.started_at = time.time()
        self._services: Services | None = None
        self.failed_extensions: dict[str, str] = {}
        self._jobs: set[asyncio.Task[Any]] = set()  # scheduled jobs running now (shutdown waits for them)
        self._stopping = False
        self._closing: asyncio.Future[None] | None = None
        self.extension_list = extension_names() if extensions is None else list(extensions)

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the bot's services are not open yet (setup_hook has not run)")
        return self._services

    # ------------------------------------------------------------------ lifecycle

    async def setup_hook(self) -> None:
        settings = self.settings
        store = await Store.open(settings.database.path)
        hub = HubClient(
            settings.hub.base_url,
            api_key=settings.hub.api_key,
            timeout=settings.hub.timeout_seconds,
            max_concurrency=settings.hub.max_concurrency,
        )
        scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                   "misfire_grace_time": 300})
        cache = HubCache(hub, store, ttl_seconds=settings.cache.ttl_seconds)
        previews = PreviewService(PreviewStore(store.db), image_hosts=settings.hub.image_hosts,
                                  timeout=settings.hub.timeout_seconds)
        guild_settings = GuildSettingsService(store.db)
        self._services = Services(
            settings=settings,
            store=store,
            hub=hub,
            cache=cache,
            guild_settings=guild_settings,
            scheduler=scheduler,
            previews=previews,
            cards=CardService(cache, store, previews, hub_base_url=settings.hub.base_url),
            search=SearchService(cache, store),
            feeds=FeedService(hub, store, FeedStore(store.db), guild_settings,
                              poll_interval=settings.feeds.poll_interval_seconds,
                              max_posts_per_poll=settings.feeds.max_posts_per_poll,
                              max_failures=settings.feeds.max_failures),
        )
        for name in self.extension_list:
            try:
                await self.load_extension(name)
            except Exception as exc:  # a broken cog must not take the bot down
                self.failed_extensions[name] = f"{type(exc).__name__}: {exc}"
                log.exception("extension %s failed to load; continuing without it", name)
        self.add_dynamic_items(VersionsButton)  # persistent: card buttons keep working after restarts
        scheduler.add_job(self._prune_cache, "interval", hours=1, id="cache-prune", name="cache pruning")
        scheduler.start()
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
        """Hourly: forget list results older than a day and models nobody looked at for 30 days."""
        catalog = self.services.store.catalog
        queries = await catalog.prune_queries(time.time() - 86400)
        models = await catalog.prune_models(time.time() - MODEL_RETENTION)
        log.debug("cache pruning: %d query results and %d models removed", queries, models)

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d guilds", self.user, getattr(self.user, "id", "?"), len(self.guilds))

    # ------------------------------------------------------------------ background work and shutdown

    @property
    def is_stopping(self) -> bool:
        return self._stopping

    @contextlib.contextmanager
    def background_job(self) -> Iterator[bool]:
        """Scheduled jobs run inside this: shutdown waits for them (bounded) before it closes Discord
        and the database. Yields False when the bot is stopping: the job should not start."""
        task = asyncio.current_task()
        if self._stopping or task is None:
            yield False
            return
        self._jobs.add(task)
        try:
            yield True
        finally:
            self._jobs.discard(task)

    async def _stop_background_work(self, services: Services) -> None:
        """No new jobs; running ones finish their current step (a feed post in flight completes) and
        stop, within ``SHUTDOWN_GRACE`` seconds; a job still running then is cancelled (what it was
        doing is recovered at the next start)."""
        if services.scheduler.running:
            services.scheduler.pause()  # not shutdown(): that would cancel running jobs mid-post
        services.feeds.stopping.set()
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
        await self._closing

    async def _close(self) -> None:
        self._stopping = True
        if self._services is not None:
            await self._stop_background_work(self._services)
        await super().close()
        services, self._services = self._services, None
        if services is None:
            return
        if services.scheduler.running:
            services.scheduler.shutdown(wait=False)
        for closer in (*services.extras.values(), services.search, services.previews):
            aclose = getattr(closer, "aclose", None)
            if aclose is not None:
                await aclose()
        await services.cache.close()
        await services.hub.aclose()
        await services.store.close()
        log.info("closed cleanly")

    @property
    def version(self) -> str:
        return __version__


def extension_names() -> list[str]:
    """Every module in the ``cogs`` package, in name order."""
    package = importlib.import_module("cogs")
    return sorted(f"cogs.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_"))
