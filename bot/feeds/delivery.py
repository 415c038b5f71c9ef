"""The contract between the feed service and the Discord side of delivery (``bot.ui.feed_poster``):
what a poster does; how it says that a post cannot go now, never, or not to this channel is shared
with digests (``bot.core.delivery``, re-exported here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.core.delivery import DeliveryBroken, DeliveryDeferred, DeliveryRefused
from bot.store.feeds import Delivery, SubscriptionRow

__all__ = ["DeliveryBroken", "DeliveryDeferred", "DeliveryRefused", "DeliveryReport", "PollReport", "Poster"]


class Poster(Protocol):
    """The Discord side of delivery (``bot.ui.feed_poster.DiscordPoster``)."""

    async def post(self, sub: SubscriptionRow, delivery: Delivery) -> int: ...

    async def post_summary(self, sub: SubscriptionRow, deliveries: Sequence[Delivery], nonce: str,
                           marker: int) -> int: ...

    async def find_existing(self, sub: SubscriptionRow, marker_version_id: int, since: float) -> int | None: ...

    vote_emoji: Sequence[str]

    async def add_vote(self, sub: SubscriptionRow, delivery: Delivery, emoji: str) -> None: ...

    async def notify(self, sub: SubscriptionRow, text: str) -> None: ...


@dataclass
class PollReport:
    queries: int = 0
    hub_requests: int = 0
    candidates: int = 0
    planned: int = 0
    failed_queries: int = 0
    skipped_queries: int = 0  # left for the next poll (the hub was not answering, or the bot stopping)
    planning_cpu_s: float = 0.0  # matching and planning, the outbox writes included


@dataclass
class DeliveryReport:
    sent: int = 0
    recovered: int = 0
    summaries: int = 0
    dropped: int = 0
    refused: int = 0
    deferred: int = 0
    disabled: list[int] = field(default_factory=list)
