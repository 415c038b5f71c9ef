"""The Discord side of digest delivery: what the digest's channel allows, posting a digest with its
nonce and cover collage, finding a digest already in the channel after a crash, telling people.
Sending and reading the history are shared with feeds (``bot.ui.channel_poster``)."""

from __future__ import annotations

from typing import Any

import discord

from bot.digests import ChannelFacts, DigestContent, DigestRow, DigestRun
from bot.render.digests import digest_embed, digest_matches, picture_file
from bot.ui.channel_poster import ChannelPoster
from bot.ui.context import is_age_restricted


class DigestPoster(ChannelPoster):
    async def facts(self, digest: DigestRow) -> ChannelFacts:
        channel = await self.channel(digest.channel_id)
        return ChannelFacts(age_restricted=is_age_restricted(channel), can_attach=self.can_attach(channel))

    async def post(self, digest: DigestRow, content: DigestContent, nonce: str) -> int:
        channel = await self.channel(digest.channel_id)
        kwargs: dict[str, Any] = {"embed": digest_embed(content), "nonce": nonce}
        file = picture_file(content.preview)
        if file is not None:
            kwargs["file"] = file
        return await self.send(channel, **kwargs)

    async def find_existing(self, digest: DigestRow, run: DigestRun, since: float) -> int | None:
        """The bot's digest for this period, if it is in the channel already (sent before a crash)."""

        def match(message: discord.Message) -> bool:
            return any(digest_matches(embed, digest.id, run.period_end) for embed in message.embeds)

        return await self.find_own_message(digest.channel_id, since, match)

    async def notify(self, digest: DigestRow, text: str) -> None:
        """The server's log channel, else a direct message to the member who added the digest."""
        await self.tell(digest.guild_id, digest.created_by, text)
