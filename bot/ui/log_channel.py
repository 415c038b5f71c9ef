"""Reports to a server's ``log_channel`` (disabled feeds, removed reviews, ...)."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.ui.base import ServicesBot

log = logging.getLogger(__name__)


async def tell_log_channel(bot: ServicesBot, guild_id: int, content: str, **kwargs: Any) -> bool:
    """Post ``content`` (and e.g. an ``embed``) to the server's log channel, pinging nobody. False when
    the server has none, it is gone, or Discord refused (the caller may tell someone else)."""
    policy = await bot.services.guild_settings.get(guild_id)
    channel = bot.get_channel(policy.log_channel_id) if policy.log_channel_id else None
    if not isinstance(channel, discord.TextChannel):
        return False
    try:
        await channel.send(content, allowed_mentions=discord.AllowedMentions.none(), **kwargs)
    except discord.HTTPException as exc:
        log.warning("cannot post to the log channel %s of guild %s: %s", channel.id, guild_id, exc)
        return False
    return True
