"""Where an interaction happens, in the terms the services use (no business rules here)."""

from __future__ import annotations

from typing import Any

import discord

from bot.core.rating import DEFAULT_MAX_RATING, ChannelPolicy, allowed_mask
from bot.ui.base import ServicesBot


def is_age_restricted(channel: Any) -> bool:
    """Age-restricted (NSFW) channel? Threads follow their parent. Unknown channels count as not."""
    is_nsfw = getattr(channel, "is_nsfw", None)
    try:
        return bool(is_nsfw()) if callable(is_nsfw) else False
    except AttributeError:
        return False


async def channel_policy(interaction: discord.Interaction[Any]) -> ChannelPolicy:
    bot: ServicesBot = interaction.client  # type: ignore[assignment]
    age_restricted = is_age_restricted(interaction.channel)
    if interaction.guild_id is None:
        return ChannelPolicy(guild_id=None, age_restricted=False, max_rating=DEFAULT_MAX_RATING)
    policy = await bot.services.guild_settings.get(interaction.guild_id)
    return ChannelPolicy(guild_id=interaction.guild_id, age_restricted=age_restricted, max_rating=policy.max_rating)


def allowed_for(policy: ChannelPolicy) -> int:
    return allowed_mask(age_restricted=policy.age_restricted, max_rating=policy.max_rating)
