"""Article digests: schedules (cron triggers in each digest's time zone), the period's articles and
their ranking, exactly-once delivery of each period, and ``/articles``. No discord.py here.

``schedule`` (when, and which period), ``articles`` (reading, ranking, bodies, covers), ``service``
(subscriptions, runs, the outbox).
"""

from bot.digests.articles import ArticleCard, ArticleEntry, ArticleResults, ArticleService, engagement_order
from bot.digests.schedule import DAYS, SCHEDULES, Window, describe, timezone_choices, trigger_for, window_at
from bot.digests.service import (
    DEFAULT_HOUR,
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    ChannelFacts,
    DigestContent,
    DigestPoster,
    DigestService,
    RunOutcome,
    parse_tags,
    stricter,
)
from bot.store.digests import DigestRow, DigestRun

__all__ = [
    "DAYS",
    "DEFAULT_HOUR",
    "DEFAULT_SIZE",
    "MAX_SIZE",
    "MIN_SIZE",
    "SCHEDULES",
    "ArticleCard",
    "ArticleEntry",
    "ArticleResults",
    "ArticleService",
    "ChannelFacts",
    "DigestContent",
    "DigestPoster",
    "DigestRow",
    "DigestRun",
    "DigestService",
    "RunOutcome",
    "Window",
    "describe",
    "engagement_order",
    "parse_tags",
    "stricter",
    "timezone_choices",
    "trigger_for",
    "window_at",
]
