"""This server's reviews: one per member per model version (submitting again edits it), a text of at
most ``MAX_TEXT`` characters, removal by moderators, and the server's most recommended models ranked
by the lower bound of the Wilson score interval (so three 👍 of three do not beat 95 of 100)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.errors import UserError
from bot.core.ratelimit import SlidingWindow
from bot.store.reviews import ReviewRow, ReviewStore
from bot.store.votes import Score, VoteStore

MAX_TEXT = 1000
PAGE = 5  # reviews per page of /reviews
RATE_LIMIT = 5  # reviews a member may submit ...
RATE_WINDOW = 60.0  # ... per this many seconds
PERIODS = {"week": 7 * 86400.0, "month": 30 * 86400.0, "all": None}
Z = 1.96  # 95 % confidence


def wilson_lower_bound(up: int, total: int, z: float = Z) -> float:
    """Lower bound of the Wilson score interval for the share of 👍 (0 when there are no votes)."""
    if total <= 0:
        return 0.0
    p = up / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt((p * (1 - p) + z * z / (4 * total)) / total)
    return (centre - spread) / (1 + z * z / total)


@dataclass(frozen=True, slots=True)
class RankedModel:
    model_id: int
    up: int
    down: int
    rank_score: float


class ReviewService:
    def __init__(self, reviews: ReviewStore, votes: VoteStore, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reviews = reviews
        self.votes = votes
        self._rate = SlidingWindow(RATE_LIMIT, RATE_WINDOW, clock=clock)

    def _check_rate(self, guild_id: int, user_id: int) -> None:
        wait = self._rate.hit(user_id)  # per member, whatever the server: five servers are not 25 a minute
        if wait:
            raise UserError(f"That is a lot of reviews at once: try again in {math.ceil(wait)} s.")

    async def mine(self, guild_id: int, model_version_id: int, user_id: int) -> ReviewRow | None:
        """The member's review of this version, to pre-fill the form."""
        return await self.reviews.of_member(guild_id, model_version_id, user_id)

    async def submit(self, *, guild_id: int, model_id: int, model_version_id: int, user_id: int, recommended: bool,
                     text: str | None) -> ReviewRow:
        cleaned = (text or "").strip()
        if len(cleaned) > MAX_TEXT:
            raise UserError(f"A review has at most {MAX_TEXT} characters (this one has {len(cleaned)}).")
        self._check_rate(guild_id, user_id)
        return await self.reviews.upsert(guild_id=guild_id, model_id=model_id, model_version_id=model_version_id,
                                         user_id=user_id, recommended=recommended, text=cleaned or None)

    async def page(self, guild_id: int, model_id: int, index: int) -> tuple[list[ReviewRow], int]:
        """One page of this server's reviews of a model, newest first, and how many there are."""
        rows = await self.reviews.for_model(guild_id, model_id, limit=PAGE, offset=index * PAGE)
        return rows, await self.reviews.count_for_model(guild_id, model_id)

    async def score(self, guild_id: int, model_id: int) -> Score:
        """Votes and reviews, once per member and version."""
        return await self.votes.score(guild_id, model_id=model_id)

    async def get(self, guild_id: int, review_id: int) -> ReviewRow:
        row = await self.reviews.get(guild_id, review_id)
        if row is None:
            raise UserError(f"This server has no review #{review_id}.")
        return row

    async def remove(self, guild_id: int, review_id: int) -> ReviewRow:
        row = await self.reviews.remove(guild_id, review_id)
        if row is None:
            raise UserError(f"This server has no review #{review_id} (already removed?).")
        return row

    async def top(self, guild_id: int, period: str, *, limit: int = 10, now: float | None = None) -> list[RankedModel]:
        if period not in PERIODS:
            raise UserError(f"Period: one of {', '.join(PERIODS)}.")
        span = PERIODS[period]
        since = None if span is None else (time.time() if now is None else now) - span
        ranked = [RankedModel(t.model_id, t.up, t.down, wilson_lower_bound(t.up, t.up + t.down))
                  for t in await self.reviews.tallies(guild_id, since=since)]
        ranked.sort(key=lambda r: (-r.rank_score, -(r.up + r.down), r.model_id))
        return [r for r in ranked if r.up][:limit]
