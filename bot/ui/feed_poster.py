"""The Discord side of feed delivery: render a post, send it with its nonce, look for a post that may
already be in the channel after a crash, add vote reactions, tell people about disabled feeds. Sending,
classifying Discord's answers and reading the history are shared with digests
(``bot.ui.channel_poster``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord

from bot.catalog.cards import ModelRef
from bot.core.errors import UserError
from bot.feeds import Delivery, DeliveryBroken, DeliveryDeferred, DeliveryRefused, FeedService, SubscriptionRow
from bot.hub.errors import HubError, HubNotFound
from bot.render.cards import FOOTER_SEPARATOR, model_card_embed, preview_file
from bot.render.feeds import feed_footer, post_heading, summary_embed
from bot.ui.base import ServicesBot
from bot.ui.cards import VOTE_PROMPTS, card_view
from bot.ui.channel_poster import ChannelPoster, classify, missing_permissions, one_discord_call
from bot.ui.context import is_age_restricted

__all__ = ["DiscordPoster", "classify", "missing_permissions", "version_of_url"]

log = logging.getLogger(__name__)

VOTE_EMOJI = VOTE_PROMPTS
SUMMARY_LINES = 20


def version_of_url(url: str | None) -> int | None:
    """The ``modelVersionId`` of a hub link (exactly: ``=12`` is not ``=123``)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("modelVersionId")
    if not values or not values[0].isdigit():
        return None
    return int(values[0])


class DiscordPoster(ChannelPoster):
    def __init__(self, bot: ServicesBot, feeds: FeedService) -> None:
        super().__init__(bot)
        self.feeds = feeds

    async def post(self, sub: SubscriptionRow, delivery: Delivery) -> int:
        channel = await self.channel(sub.channel_id)
        policy = await self.feeds.channel_policy(sub, age_restricted=is_age_restricted(channel))
        try:
            card = await self.bot.services.cards.build(
                ModelRef(delivery.model_id, delivery.model_version_id), policy,
                with_preview=self.can_attach(channel))
        except (HubNotFound, UserError) as exc:
            raise DeliveryBroken(f"the model is gone from the hub: {exc}") from None
        except HubError as exc:
            raise DeliveryDeferred(str(exc)) from None
        embed = model_card_embed(card, compact=True, heading=post_heading(delivery.kind, card.model, card.version),
                                 footer_prefix=feed_footer(sub.id))
        kwargs: dict[str, Any] = {"embed": embed, "view": card_view(card), "nonce": delivery.nonce}
        file = preview_file(card)
        if file is not None:
            kwargs["file"] = file
        return await self.send(channel, **kwargs)

    async def post_summary(self, sub: SubscriptionRow, deliveries: Sequence[Delivery], nonce: str,
                           marker: int) -> int:
        channel = await self.channel(sub.channel_id)
        base = self.bot.services.settings.hub.base_url.rstrip("/")
        items = [(model_name, version_name, f"{base}/models/{d.model_id}?modelVersionId={d.model_version_id}")
                 for d, model_name, version_name in await self.feeds.names_of(deliveries[:SUMMARY_LINES])]
        embed = summary_embed(sub.id, items, f"{base}/models/{deliveries[0].model_id}?modelVersionId={marker}",
                              total=len(deliveries))
        return await self.send(channel, embed=embed, nonce=nonce)

    async def find_existing(self, sub: SubscriptionRow, marker_version_id: int, since: float) -> int | None:
        """The bot's post for this delivery, if it is already in the channel (sent before a crash): its
        embed links exactly this version and its footer starts with exactly this feed's."""
        footer = feed_footer(sub.id)

        def match(message: discord.Message) -> bool:
            return any(version_of_url(embed.url) == marker_version_id
                       and (embed.footer.text or "").split(FOOTER_SEPARATOR, 1)[0] == footer
                       for embed in message.embeds)

        return await self.find_own_message(sub.channel_id, since, match)

    vote_emoji = VOTE_EMOJI

    async def add_vote(self, sub: SubscriptionRow, delivery: Delivery, emoji: str) -> None:
        """One vote reaction under a post (one at a time: a rate-limited one is retried alone)."""
        if delivery.message_id is None:
            return
        channel = await self.channel(sub.channel_id)
        message = channel.get_partial_message(delivery.message_id)  # type: ignore[attr-defined]
        with one_discord_call(lambda exc: DeliveryRefused(str(exc))):
            await message.add_reaction(emoji)

    async def notify(self, sub: SubscriptionRow, text: str) -> None:
        """The server's log channel, else a direct message to the member who created the feed."""
        await self.tell(sub.guild_id, sub.created_by, text)
