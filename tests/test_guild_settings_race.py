"""Concurrent ``/settings set`` calls never leave a stale policy in memory (issue 8, defect 2).

``set()`` used to build the new cached policy from a snapshot read before its write; two concurrent
calls (``max_rating=PG`` and ``log_channel=...``) left the cache at PG13 while SQLite said PG, so
ordinary channels kept showing PG13 images until restart.
"""

from __future__ import annotations

import asyncio

from bot.core.rating import Rating
from bot.policy.settings import GuildSettingsService
from bot.store import Store

GUILD = 4242
LOG_CHANNEL = 1180000000000000777


async def test_lowering_max_rating_concurrently_with_another_change_is_never_lost(store: Store) -> None:
    service = GuildSettingsService(store.settings)
    assert (await service.get(GUILD)).max_rating is Rating.PG13  # cached, as a running bot has it
    await asyncio.gather(
        service.set(GUILD, "max_rating", Rating.PG, updated_by=1),
        service.set(GUILD, "log_channel", LOG_CHANNEL, updated_by=2),
    )
    cached = await service.get(GUILD)
    assert cached.max_rating is Rating.PG
    assert cached.log_channel_id == LOG_CHANNEL
    # what a restarted bot would read says the same
    fresh = await GuildSettingsService(store.settings).get(GUILD)
    assert (fresh.max_rating, fresh.log_channel_id) == (Rating.PG, LOG_CHANNEL)


async def test_many_concurrent_changes_leave_the_cache_equal_to_the_database(store: Store) -> None:
    service = GuildSettingsService(store.settings)
    await service.get(GUILD)
    changes = [("max_rating", Rating.R), ("manager_role", 11), ("moderator_role", 12), ("log_channel", 13),
               ("reaction_votes", False), ("intake_channel", 14), ("max_rating", Rating.PG)]
    # the two max_rating changes are ordered (R, then PG) by the per-guild lock: PG wins
    await asyncio.gather(*(service.set(GUILD, key, value) for key, value in changes))
    cached = await service.get(GUILD)
    fresh = await GuildSettingsService(store.settings).get(GUILD)
    assert cached == fresh
    assert (cached.max_rating, cached.manager_role_id, cached.moderator_role_id, cached.log_channel_id,
            cached.reaction_votes, cached.intake_channel_id) == (Rating.PG, 11, 12, 13, False, 14)

