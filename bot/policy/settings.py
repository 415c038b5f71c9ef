"""Per-server policies (``/settings``): stored in SQLite, cached in memory, typed.

Keys (SPEC.md): ``max_rating``, ``manager_role``, ``moderator_role``, ``intake_channel``,
``intake_role``, ``log_channel``, ``reaction_votes``, ``hub_reviews``. Roles and channels are stored as Discord ids;
the cog resolves names and mentions to ids before calling ``set``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from bot.core.rating import DEFAULT_MAX_RATING, Rating, parse_max_rating
from bot.store.settings import GuildSettingsStore


class SettingKind(Enum):
    RATING = "rating"
    ROLE = "role"
    CHANNEL = "channel"
    SWITCH = "switch"


#: key -> (kind, column, one-line help)
SETTINGS: dict[str, tuple[SettingKind, str, str]] = {
    "max_rating": (SettingKind.RATING, "max_rating",
                   "highest rating shown in channels that are not age-restricted (PG, PG13, R, X, XXX)"),
    "manager_role": (SettingKind.ROLE, "manager_role_id", "role that may manage feeds, digests and settings"),
    "moderator_role": (SettingKind.ROLE, "moderator_role_id", "role that works the intake queue and reviews"),
    "intake_channel": (SettingKind.CHANNEL, "intake_channel_id", "channel where submissions go for review"),
    "intake_role": (SettingKind.ROLE, "intake_role_id", "role allowed to submit models (empty: everyone)"),
    "log_channel": (SettingKind.CHANNEL, "log_channel_id", "channel for reports about disabled feeds and errors"),
    "reaction_votes": (SettingKind.SWITCH, "reaction_votes", "👍/👎 reactions on model posts count as votes"),
    "hub_reviews": (SettingKind.SWITCH, "hub_reviews",
                    "members who linked their hub account (/hub link) may post their reviews on the hub too"),
}

_ON = {"on", "true", "yes", "1", "enable", "enabled"}
_OFF = {"off", "false", "no", "0", "disable", "disabled"}
_CLEAR = {"none", "clear", "unset", "reset", "-", ""}


class SettingError(ValueError):
    """A value that does not fit the key; the message says what is allowed."""


@dataclass(frozen=True, slots=True)
class GuildPolicy:
    guild_id: int
    max_rating: Rating = DEFAULT_MAX_RATING
    manager_role_id: int | None = None
    moderator_role_id: int | None = None
    intake_channel_id: int | None = None
    intake_role_id: int | None = None
    log_channel_id: int | None = None
    reaction_votes: bool = True
    hub_reviews: bool = False

    def value_of(self, key: str) -> object:
        kind, column, _ = SETTINGS[key]
        value = getattr(self, column)
        if kind is SettingKind.RATING:
            return Rating(value).name
        return value


def parse_switch(text: str) -> bool:
    value = text.strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise SettingError("expected on or off")


def is_clear(text: str) -> bool:
    return text.strip().lower() in _CLEAR


class GuildSettingsService:
    def __init__(self, store: GuildSettingsStore, *, unavailable: Mapping[str, str] | None = None) -> None:
        """``unavailable``: switches this deployment cannot turn on, with why (``hub_reviews`` without
        the operator's ``security.secret_key``)."""
        self.store = store
        self.unavailable = dict(unavailable or {})
        self._cache: dict[int, GuildPolicy] = {}
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, guild_id: int) -> asyncio.Lock:
        lock = self._locks.get(guild_id)
        if lock is None:
            lock = self._locks[guild_id] = asyncio.Lock()
        return lock

    async def get(self, guild_id: int) -> GuildPolicy:
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        async with self._lock(guild_id):  # a load must not overwrite what a concurrent set() cached
            cached = self._cache.get(guild_id)
            if cached is None:
                cached = self._cache[guild_id] = await self._load(guild_id)
            return cached

    async def _load(self, guild_id: int) -> GuildPolicy:
        row = await self.store.get(guild_id)
        if row is None:
            return GuildPolicy(guild_id)
        try:
            rating = parse_max_rating(row["max_rating"])
        except ValueError:
            rating = DEFAULT_MAX_RATING
        return GuildPolicy(
            guild_id=guild_id, max_rating=rating, manager_role_id=row["manager_role_id"],
            moderator_role_id=row["moderator_role_id"], intake_channel_id=row["intake_channel_id"],
            intake_role_id=row["intake_role_id"], log_channel_id=row["log_channel_id"],
            reaction_votes=bool(row["reaction_votes"]), hub_reviews=bool(row["hub_reviews"]),
        )

    async def set(self, guild_id: int, key: str, value: Rating | int | bool | None, *,
                  updated_by: int | None = None) -> GuildPolicy:
        """Store one setting. ``value`` is already typed: a Rating for max_rating, an id (or None to
        clear) for roles and channels, a bool for switches."""
        if key not in SETTINGS:
            raise SettingError(f"unknown setting {key!r}; settings: {', '.join(SETTINGS)}")
        kind, column, _ = SETTINGS[key]
        if kind is SettingKind.RATING:
            if not isinstance(value, Rating) or value not in (Rating.PG, Rating.PG13, Rating.R, Rating.X, Rating.XXX):
                raise SettingError("expected one of PG, PG13, R, X, XXX")
            stored: object = value.name
        elif kind is SettingKind.SWITCH:
            if not isinstance(value, bool):
                raise SettingError("expected on or off")
            if value and key in self.unavailable:
                raise SettingError(f"cannot be turned on here: {self.unavailable[key]}")
            stored = int(value)
        else:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise SettingError(f"expected a {kind.value}")
            stored = value
        # One writer per guild at a time, and the cached policy is re-read from what SQLite now holds:
        # two concurrent changes (say max_rating and log_channel) can never leave the cache with a
        # stale max_rating that ordinary channels would go on showing.
        async with self._lock(guild_id):
            self._cache.pop(guild_id, None)  # whatever happens next, the next read comes from SQLite
            await self.store.put(guild_id, column, stored, updated_by=updated_by)
            policy = self._cache[guild_id] = await self._load(guild_id)
        return policy
