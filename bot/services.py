"""The services container: builds every service from the settings, and closes them in reverse order.
Plain Python: no discord.py here (cogs and ui reach services through ``bot.services``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.catalog.cache import HubCache
from bot.catalog.cards import CardService
from bot.catalog.search import SearchService
from bot.config import Settings
from bot.core.crypto import SecretBox
from bot.digests import ArticleService, DigestService
from bot.feeds import FeedService
from bot.health.status import StatusReport, collect
from bot.hub.client import HubClient
from bot.intake import IntakeService
from bot.media.previews import PreviewService
from bot.policy.settings import GuildSettingsService
from bot.reviews.hub import HubReviewService
from bot.reviews.service import ReviewService
from bot.reviews.votes import VoteService
from bot.store import Store

log = logging.getLogger(__name__)

MODEL_RETENTION = 30 * 86400.0  # cached models not fetched for this long are pruned


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
    votes: VoteService
    reviews: ReviewService
    hub_reviews: HubReviewService
    intake: IntakeService
    articles: ArticleService
    digests: DigestService
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: Settings, *, clock: Callable[[], float] = time.time) -> Services:
        """``clock``: wall-clock seconds for the services that schedule by the calendar (digests); tests
        inject a controllable one."""
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
        previews = PreviewService(store.previews, image_hosts=settings.hub.image_hosts,
                                  timeout=settings.hub.timeout_seconds)
        box = SecretBox(settings.security.secret_key) if settings.security.secret_key else None
        guild_settings = GuildSettingsService(store.settings, unavailable={} if box else {
            "hub_reviews": "the bot's operator has not set security.secret_key (BOT_SECRET_KEY)"})
        articles = ArticleService(hub, store, previews, hub_base_url=settings.hub.base_url,
                                  image_base_url=settings.hub.image_base_url, ttl_seconds=settings.cache.ttl_seconds,
                                  clock=clock)
        services = cls(
            settings=settings,
            store=store,
            hub=hub,
            cache=cache,
            guild_settings=guild_settings,
            scheduler=scheduler,
            previews=previews,
            cards=CardService(cache, store, previews, hub_base_url=settings.hub.base_url),
            search=SearchService(cache, store),
            feeds=FeedService(hub, store, store.feeds, guild_settings,
                              poll_interval=settings.feeds.poll_interval_seconds,
                              max_posts_per_poll=settings.feeds.max_posts_per_poll,
                              max_failures=settings.feeds.max_failures),
            votes=VoteService(store.votes, guild_settings),
            reviews=ReviewService(store.reviews, store.votes),
            hub_reviews=HubReviewService(hub, store.hub_links, store.reviews, guild_settings, box,
                                         hub_base_url=settings.hub.base_url),
            intake=IntakeService(settings.intake, store.intake, hub, hub_base_url=settings.hub.base_url),
            articles=articles,
            digests=DigestService(store.digests, articles, guild_settings, scheduler,
                                  default_timezone=settings.digests.default_timezone,
                                  max_failures=settings.feeds.max_failures, clock=clock),
        )
        return services

    async def prune_cache(self) -> None:
        """Hourly (scheduled by the bot): forget list results older than a day and models nobody
        looked at for 30 days."""
        catalog = self.store.catalog
        queries = await catalog.prune_queries(time.time() - 86400)
        models = await catalog.prune_models(time.time() - MODEL_RETENTION)
        log.debug("cache pruning: %d query results and %d models removed", queries, models)

    async def status(self, *, started_at: float, guilds: int, latency_ms: float | None,
                     failed_extensions: tuple[str, ...] = ()) -> StatusReport:
        """What ``/status`` shows."""
        return await collect(self.store, self.hub.health, self.scheduler, started_at=started_at, guilds=guilds,
                             latency_ms=latency_ms, failed_extensions=failed_extensions, feeds=self.store.feeds)

    async def close(self) -> None:
        """Reverse order: scheduler, extras, intake jobs (cut short: they run again at the next start),
        search warm-ups, article tag reads, previews, cache refreshes, hub client, database. Jobs
        should have finished already (the bot waits for them first)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for closer in (*self.extras.values(), self.intake, self.search, self.articles, self.previews):
            aclose = getattr(closer, "aclose", None)
            if aclose is not None:
                await aclose()
        await self.cache.close()
        await self.hub.aclose()
        await self.store.close()
