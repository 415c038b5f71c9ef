"""Posting into a server's channel from a background job (feed posts, digests): resolve the channel,
send with a nonce and no pings, classify Discord's answer (403/404 -> the channel refuses, 400 -> this
message is broken, 429/5xx/timeouts -> later), look for the bot's own message after a crash, and tell
the server's log channel (or a member) about what went wrong."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord

from bot.core.delivery import DeliveryBroken, DeliveryDeferred, DeliveryRefused
from bot.hub.client import parse_retry_after
from bot.ui.base import ServicesBot
from bot.ui.log_channel import tell_log_channel

log = logging.getLogger(__name__)

HISTORY_SCAN = 5000  # at most this many messages are read after a crash to find a post already there
HISTORY_WINDOW = 600.0  # seconds after an attempt within which its message would have been created
EDGE_RETRY_AFTER = 5.0  # an edge 429 without Retry-After: wait this long
NEEDED = (("view_channel", "View Channel"), ("send_messages", "Send Messages"), ("embed_links", "Embed Links"),
          ("attach_files", "Attach Files"), ("read_message_history", "Read Message History"))


def missing_permissions(channel: Any, me: Any, *, votes: bool = False) -> list[str]:
    """The permissions a background sender needs in ``channel`` that ``me`` lacks (names as Discord
    shows them); ``votes``: also Add Reactions."""
    perms = channel.permissions_for(me)
    needed = [*NEEDED, ("add_reactions", "Add Reactions")] if votes else NEEDED
    return [label for attr, label in needed if not getattr(perms, attr)]


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
def one_discord_call(refuse: Callable[[discord.HTTPException], DeliveryRefused]) -> Iterator[None]:
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


class ChannelPoster:
    """The Discord side shared by every background sender; subclasses render their own messages."""

    def __init__(self, bot: ServicesBot) -> None:
        self.bot = bot

    async def channel(self, channel_id: int) -> discord.abc.Messageable:
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except discord.NotFound:
                raise DeliveryRefused("its channel no longer exists.") from None
            except discord.Forbidden:
                raise DeliveryRefused("the bot can no longer see its channel.") from None
            except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as exc:
                raise DeliveryDeferred(str(exc)) from None
        if not isinstance(channel, discord.abc.Messageable):
            raise DeliveryRefused("its channel is not a text channel.")
        return channel

    def refusal(self, channel: Any, exc: discord.HTTPException) -> DeliveryRefused:
        if isinstance(exc, discord.NotFound):
            return DeliveryRefused("its channel no longer exists.")
        guild = getattr(channel, "guild", None)
        me = guild.me if guild is not None else None
        name = f"#{getattr(channel, 'name', channel.id)}"
        if me is not None and hasattr(channel, "permissions_for"):
            missing = missing_permissions(channel, me)
            if missing:
                return DeliveryRefused(f"the bot is missing {', '.join(missing)} in {name}.")
        return DeliveryRefused(f"Discord refused the bot's posts in {name} ({exc.status}: {exc.text or 'forbidden'}).")

    async def send(self, channel: Any, **kwargs: Any) -> int:
        """One message (with the caller's ``nonce``), pinging nobody; its id."""
        with one_discord_call(lambda exc: self.refusal(channel, exc)):
            message = await channel.send(allowed_mentions=discord.AllowedMentions.none(), **kwargs)
        return message.id

    @staticmethod
    def can_attach(channel: Any) -> bool:
        me = getattr(getattr(channel, "guild", None), "me", None)
        return me is None or not hasattr(channel, "permissions_for") or channel.permissions_for(me).attach_files

    async def find_own_message(self, channel_id: int, since: float,
                               match: Callable[[discord.Message], bool]) -> int | None:
        """The bot's message that ``match``es, if one was created in the channel within
        ``HISTORY_WINDOW`` seconds after ``since`` (a post sent just before a crash).

        "Could not look" is never taken for "not there": a channel the bot cannot read the history of
        (Discord then answers an empty list) refuses the delivery, and a failed read defers it."""
        channel = await self.channel(channel_id)
        guild = getattr(channel, "guild", None)
        me = guild.me if guild is not None else None
        if me is not None and hasattr(channel, "permissions_for") and \
                not channel.permissions_for(me).read_message_history:
            name = getattr(channel, "name", channel_id)
            raise DeliveryRefused(f"the bot is missing Read Message History in #{name}, which it needs to make "
                                  "sure a post interrupted by a restart is not sent twice.")
        try:
            # forward from just before the attempt: a busy channel may have had many messages since
            after = discord.Object(id=discord.utils.time_snowflake(datetime.fromtimestamp(since, UTC)))
            until = datetime.fromtimestamp(since + HISTORY_WINDOW, UTC)
            scanned = 0
            async for message in channel.history(limit=HISTORY_SCAN, after=after,  # type: ignore[attr-defined]
                                                 oldest_first=True):
                scanned += 1
                if message.created_at > until:
                    return None  # read past the window: it is not there
                if message.author.id == self.bot.user.id and match(message):  # type: ignore[union-attr]
                    return message.id
            if scanned >= HISTORY_SCAN:  # a very busy channel: the window was not read to its end
                raise DeliveryDeferred(f"could not look for an earlier post: more than {HISTORY_SCAN} messages "
                                       "in the window")
        except (discord.Forbidden, discord.NotFound) as exc:
            raise self.refusal(channel, exc) from None
        except discord.RateLimited as exc:
            raise DeliveryDeferred("could not look for an earlier post: rate-limited",
                                   retry_after=exc.retry_after) from None
        except discord.HTTPException as exc:
            raise DeliveryDeferred(f"could not look for an earlier post: {classify(exc)}") from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryDeferred(f"could not look for an earlier post: {type(exc).__name__}") from None
        return None

    async def tell(self, guild_id: int, member_id: int, text: str) -> None:
        """The server's log channel, else a direct message to ``member_id`` (who set the thing up)."""
        if await tell_log_channel(self.bot, guild_id, text):
            return
        try:
            user = self.bot.get_user(member_id) or await self.bot.fetch_user(member_id)
            await user.send(text, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning("cannot tell anyone in guild %s: %s", guild_id, exc)
