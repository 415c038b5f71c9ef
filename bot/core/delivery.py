"""How a post into a server's channel can fail, for every background sender (feed posts, digests):
not now, never, or not to this channel. Raised by the Discord side (``bot.ui.channel_poster``),
handled by the services, which decide what it means for their subscriptions."""

from __future__ import annotations


class DeliveryRefused(Exception):
    """The channel refuses the bot's posts (gone, or missing permissions): counts as a failure of
    whatever posts there (a feed, a digest). ``reason`` is a sentence for the server's managers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DeliveryBroken(Exception):
    """This one message can never be sent (Discord rejected its content): it is dropped and logged."""


class DeliveryDeferred(Exception):
    """Try again later (Discord 429 or 5xx, timeouts, a failed history read); not the subscription's
    fault. ``not_sent``: Discord certainly did not create the message (a 429), so it may be sent again
    at once after ``retry_after`` seconds."""

    def __init__(self, reason: str, *, retry_after: float | None = None, not_sent: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.not_sent = not_sent


def backoff(failures: int, *, base: float, cap: float) -> float:
    """Seconds to wait after ``failures`` failures in a row: ``base``, doubling, at most ``cap``."""
    return min(cap, base * (2 ** max(0, failures - 1)))
