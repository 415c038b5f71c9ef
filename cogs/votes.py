"""👍 / 👎 on the bot's model posts are votes: raw reaction events (uncached messages work too)."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.app import HubBot

log = logging.getLogger(__name__)


class Votes(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.member is not None and payload.member.bot:
            return
        await self._count(payload, added=True)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        user = self.bot.get_user(payload.user_id)  # removals carry no member: a bot's vote never counted anyway
        if user is not None and user.bot:
            return
        await self._count(payload, added=False)

    async def _count(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        me = self.bot.user
        if payload.guild_id is None or me is None or payload.user_id == me.id or payload.emoji.id is not None:
            return
        outcome = await self.bot.services.votes.reaction(
            guild_id=payload.guild_id, message_id=payload.message_id, user_id=payload.user_id,
            emoji=payload.emoji.name or "", added=added)
        if outcome.replaced:
            await self._remove_other_thumb(payload, outcome.replaced)

    async def _remove_other_thumb(self, payload: discord.RawReactionActionEvent, emoji: str) -> None:
        """Switching 👍 to 👎: take the member's other thumb away where the bot may (Manage Messages);
        elsewhere both stay visible and the latest one counts."""
        channel = self.bot.get_channel(payload.channel_id)
        guild = getattr(channel, "guild", None)
        if channel is None or guild is None or not channel.permissions_for(guild.me).manage_messages:  # type: ignore[union-attr]
            return
        try:
            await channel.get_partial_message(payload.message_id).remove_reaction(  # type: ignore[union-attr]
                emoji, discord.Object(id=payload.user_id))
        except discord.HTTPException as exc:
            log.info("votes: could not remove the other reaction on %s: %s", payload.message_id, exc)


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Votes(bot))
