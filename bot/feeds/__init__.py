"""New-release feeds: filters, coalesced polling, and exactly-once delivery through an outbox.

``filters`` (what a feed asks for), ``delivery`` (the contract with the Discord-side poster),
``service`` (polling, planning, delivering). No discord.py here.
"""

from bot.feeds.delivery import (
    DeliveryBroken,
    DeliveryDeferred,
    DeliveryRefused,
    DeliveryReport,
    PollReport,
    Poster,
)
from bot.feeds.filters import (
    FeedFilter,
    filter_of,
    iso,
    parse_base_models,
    parse_types,
    split_values,
    version_kind,
)
from bot.feeds.service import FeedService
from bot.store.feeds import Delivery, SubscriptionRow

__all__ = [
    "Delivery",
    "DeliveryBroken",
    "DeliveryDeferred",
    "DeliveryRefused",
    "DeliveryReport",
    "FeedFilter",
    "FeedService",
    "PollReport",
    "Poster",
    "SubscriptionRow",
    "filter_of",
    "iso",
    "parse_base_models",
    "parse_types",
    "split_values",
    "version_kind",
]
