"""The Discord side of feed delivery: render a post, send it with its nonce, classify Discord's answer
(403/404 -> the subscription fails, 400 -> this post is broken, 429/5xx/timeouts -> later), look for a
post that may already be in the channel after a crash, add vote reactions, tell people about
disabled feeds."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import discord

from bot.catalog.cards import ModelRef
from bot.core.errors import UserError
from bot.feeds import Delivery, DeliveryBroken, DeliveryDeferred, DeliveryRefused, FeedService, SubscriptionRow
from bot.hub.client import parse_retry_after
from bot.hub.errors import HubError, HubNotFound
from bot.render.cards import FOOTER_SEPARATOR, model_card_embed, preview_file
from bot.render.feeds import feed_footer, post_heading, summary_embed
from bot.ui.base import ServicesBot
from bot.ui.cards import VOTE_PROMPTS, card_view
from bot.ui.context import is_age_restricted
from bot.ui.log_channel import tell_log_channel

log = logging.getLogger(__name__)

VOTE_EMOJI = VOTE_PROMPTS
SUMMARY_LINES = 20
HISTORY_SCAN = 5000  # at most this many messages are read after a crash to find a post already there
NEEDED = (("view_channel", "View Channel"), ("send_messages", "Send Messages"), ("embed_links", "Embed Links"),
          ("attach_files", "Attach Files"), ("read_message_history", "Read Message History"))


def missing_permissions(channel: Any, me: Any, *, votes: bool) -> list[str]:
    perms = channel.permissions_for(me)
    needed = [*NEEDED, ("add_reactions", "Add Reactions")] if votes else NEEDED
    return [label for attr, label in needed if not getattr(perms, attr)]


EDGE_RETRY_AFTER = 5.0  # an edge 429 without Retry-After: wait this long


def version_of_url(url: str | None) -> int | None:
    """The ``modelVersionId`` of a hub link (exactly: ``=12`` is not ``=123``)."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("modelVersionId")
    if not values or not values[0].isdigit():
        return None
    return int(values[0])


def classify(exc: discord.HTTPException) -> DeliveryDeferred | DeliveryBroken:
    """Discord's refusal of one message: a 400 (invalid form) means this message never goes; a 429
    of any kind (discord.py retries only those with Discord's ``Via`` header itself; an edge 429 is
    raised), a 5xx or anything else is worth another try. 403 and 404 are handled by the caller."""
    if exc.status in (400, 413):
        return DeliveryBroken(f"{exc.status} {exc.code}: {exc.text}")
    if exc.status == 429:
        return DeliveryDeferred("Discord rate-limited the post", retry_after=_retry_after(exc), not_sent=True)
    return DeliveryDeferred(f"Discord answered {exc.status}")


def _retry_after(exc: discord.HTTPException) -> float:
    """How long Discord (or its edge) asked to wait: the JSON body's ``retry_after`` when there is
    one (Discord's own figure, for the limit that was hit, global or route), else the longer of
    ``Retry-After`` (seconds or an HTTP date, as an edge sends) and ``X-RateLimit-Reset-After``."""
    body = _body_retry_after(exc.text)
    if body is not None:
        return body
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    waits = [parse_retry_after(headers.get("Retry-After")), parse_retry_after(headers.get("X-RateLimit-Reset-After"))]
    known = [w for w in waits if w is not None]
    return max(known) if known else EDGE_RETRY_AFTER


def _body_retry_after(text: str) -> float | None:
    """``retry_after`` of a JSON error body, in seconds (None: no body, not JSON, or not a number)."""
    try:
        body = json.loads(text)
        seconds = float(body["retry_after"])
    except (TypeError, ValueError, KeyError):
        return None
    return max(0.0, seconds) if seconds == seconds else None


def _rate_limited(exc: discord.RateLimited) -> DeliveryDeferred:
    """discord.py would not sleep this long (``max_ratelimit_timeout``): a 429 it hands back to us."""
    return DeliveryDeferred("Discord rate-limited the post for long", retry_after=exc.retry_after, not_sent=True)


@contextlib.contextmanager
def _one_discord_call(refuse: Callable[[discord.HTTPException], DeliveryRefused]) -> Iterator[None]:
    """Discord's answer to one post or reaction, as a delivery outcome: 403/404 refuse (``refuse``
    says why), other HTTP errors are classified (a 400 breaks this message, a 429 or 5xx defers it),
    discord.py's ``RateLimited`` and transport failures defer."""
    try:
        yield
    except (discord.Forbidden, discord.NotFound) as exc:
        raise refuse(exc) from None
    except discord.HTTPException as exc:
        raise classify(exc) from None
    except discord.RateLimited as exc:
        raise _rate_limited(exc) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise DeliveryDeferred(f"{type(exc).__name__}: {exc}") from None


class DiscordPoster:
    def __init__(self, bot: ServicesBot, feeds: FeedService) -> None:
        self.bot = bot
        self.feeds = feeds

    async def _channel(self, sub: SubscriptionRow) -> discord.abc.Messageable:
        channel = self.bot.get_channel(sub.channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(sub.channel_id)
            except discord.NotFound:
                raise DeliveryRefused("its channel no longer exists.") from None
            except discord.Forbidden:
                raise DeliveryRefused("the bot can no longer see its channel.") from None
            except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as exc:
                raise DeliveryDeferred(str(exc)) from None
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryRefused("its channel is not a text channel.")
        return channel

    def _refusal(self, channel: Any, exc: discord.HTTPException) -> DeliveryRefused:
        if isinstance(exc, discord.NotFound):
            return DeliveryRefused("its channel no longer exists.")
        guild = getattr(channel, "guild", None)
        me = guild.me if guild is not None else None
        name = f"#{getattr(channel, 'name', channel.id)}"
        if me is not None and hasattr(channel, "permissions_for"):
            missing = missing_permissions(channel, me, votes=False)
            if missing:
                return DeliveryRefused(f"the bot is missing {', '.join(missing)} in {name}.")
        return DeliveryRefused(f"Discord refused the bot's posts in {name} ({exc.status}: {exc.text or 'forbidden'}).")

    async def _send(self, channel: Any, **kwargs: Any) -> int:
        with _one_discord_call(lambda exc: self._refusal(channel, exc)):
            message = await channel.send(allowed_mentions=discord.AllowedMentions.none(), **kwargs)
        return message.id

    async def post(self, sub: SubscriptionRow, delivery: Delivery) -> int:
        channel = await self._channel(sub)
        policy = await self.feeds.channel_policy(sub, age_restricted=is_age_restricted(channel))
        me = getattr(getattr(channel, "guild", None), "me", None)
        can_attach = me is None or channel.permissions_for(me).attach_files  # type: ignore[attr-defined]
        try:
            card = await self.bot.services.cards.build(
                ModelRef(delivery.model_id, delivery.model_version_id), policy, with_preview=can_attach)
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
        return await self._send(channel, **kwargs)

    async def post_summary(self, sub: SubscriptionRow, deliveries: Sequence[Delivery], nonce: str,
                           marker: int) -> int:
        channel = await self._channel(sub)
        base = self.bot.services.settings.hub.base_url.rstrip("/")
        items = [(model_name, version_name, f"{base}/models/{d.model_id}?modelVersionId={d.model_version_id}")
                 for d, model_name, version_name in await self.feeds.names_of(deliveries[:SUMMARY_LINES])]
        embed = summary_embed(sub.id, items, f"{base}/models/{deliveries[0].model_id}?modelVersionId={marker}",
                              total=len(deliveries))
        return await self._send(channel, embed=embed, nonce=nonce)

    async def find_existing(self, sub: SubscriptionRow, marker_version_id: int, since: float) -> int | None:
        """The bot's post for this delivery, if it is already in the channel (sent before a crash).

        "Could not look" is never taken for "not there": a channel the bot cannot read the history of
        (Discord then answers an empty list) refuses the delivery, and a failed read defers it."""
        channel = await self._channel(sub)
        guild = getattr(channel, "guild", None)
        me = guild.me if guild is not None else None
        if me is not None and hasattr(channel, "permissions_for") and \
                not channel.permissions_for(me).read_message_history:
            name = getattr(channel, "name", sub.channel_id)
            raise DeliveryRefused(f"the bot is missing Read Message History in #{name}, which it needs to make "
                                  "sure a post interrupted by a restart is not sent twice.")
        footer = feed_footer(sub.id)
        try:
            # forward from just before the attempt: a busy channel may have had many messages since
            after = discord.Object(id=discord.utils.time_snowflake(datetime.fromtimestamp(since, UTC)))
            until = datetime.fromtimestamp(since + 600, UTC)
            scanned = 0
            async for message in channel.history(limit=HISTORY_SCAN, after=after,  # type: ignore[attr-defined]
                                                 oldest_first=True):
                scanned += 1
                if message.created_at > until:
                    return None  # read past the window: it is not there
                if message.author.id != self.bot.user.id:  # type: ignore[union-attr]
                    continue
                for embed in message.embeds:
                    if version_of_url(embed.url) == marker_version_id and \
                            (embed.footer.text or "").split(FOOTER_SEPARATOR, 1)[0] == footer:
                        return message.id
            if scanned >= HISTORY_SCAN:  # a very busy channel: the window was not read to its end
                raise DeliveryDeferred(f"could not look for an earlier post: more than {HISTORY_SCAN} messages "
                                       "in the window")
        except (discord.Forbidden, discord.NotFound) as exc:
            raise self._refusal(channel, exc) from None
        except discord.RateLimited as exc:
            raise DeliveryDeferred("could not look for an earlier post: rate-limited",
                                   retry_after=exc.retry_after) from None
        except discord.HTTPException as exc:
            raise DeliveryDeferred(f"could not look for an earlier post: {classify(exc)}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryDeferred(f"could not look for an earlier post: {type(exc).__name__}") from None
        return None

    vote_emoji = VOTE_EMOJI

    async def add_vote(self, sub: SubscriptionRow, delivery: Delivery, emoji: str) -> None:
        """One vote reaction under a post (one at a time: a rate-limited one is retried alone)."""
        if delivery.message_id is None:
            return
        channel = await self._channel(sub)
        message = channel.get_partial_message(delivery.message_id)  # type: ignore[attr-defined]
        with _one_discord_call(lambda exc: DeliveryRefused(str(exc))):
            await message.add_reaction(emoji)

    async def notify(self, sub: SubscriptionRow, text: str) -> None:
        """The server's log channel, else a direct message to the member who created the feed."""
        if await tell_log_channel(self.bot, sub.guild_id, text):
            return
        try:
            user = self.bot.get_user(sub.created_by) or await self.bot.fetch_user(sub.created_by)
            await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("feeds: cannot tell anyone that feed #%d was disabled: %s", sub.id, exc)
