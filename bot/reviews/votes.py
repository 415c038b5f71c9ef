"""Reaction votes: 👍 / 👎 on the bot's model posts (feed posts and cards posted by commands) are that
member's recommend / not-recommend vote for the post's model version in this server.

Events come raw from the gateway, possibly twice: every change is one idempotent statement, made
under a per-member lock taken before anything is awaited (so a member's events apply in the order
they arrived, even on two posts of one version), and a removed reaction only withdraws the vote it
stood for (a late "👍 removed" does not undo a newer 👎).
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from bot.policy.settings import GuildSettingsService
from bot.store.votes import VoteStore

UP, DOWN = "👍", "👎"
VALUES = {UP: 1, DOWN: -1}
EMOJI_OF = {1: UP, -1: DOWN}
# skin tones and the emoji variation selector do not change what a thumb means
_MODIFIERS = {chr(c) for c in range(0x1F3FB, 0x1F400)} | {"\ufe0f"}


def vote_value(emoji: str) -> int | None:
    """+1 for 👍, -1 for 👎 (any skin tone), None for anything else."""
    return VALUES.get("".join(ch for ch in emoji if ch not in _MODIFIERS))


@dataclass(frozen=True, slots=True)
class ReactionOutcome:
    counted: bool
    vote: int | None = None  # the member's vote now (None: none)
    replaced: str | None = None  # the member's other thumb, now superseded (the caller may remove it)


NOT_COUNTED = ReactionOutcome(counted=False)


class VoteService:
    def __init__(self, votes: VoteStore, guild_settings: GuildSettingsService) -> None:
        self.votes = votes
        self.guild_settings = guild_settings
        self._locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, member: tuple[int, int]) -> asyncio.Lock:
        lock = self._locks.get(member)
        if lock is None:
            lock = self._locks[member] = asyncio.Lock()
        return lock

    async def record_card(self, message_id: int, *, guild_id: int, channel_id: int, model_id: int,
                          model_version_id: int) -> None:
        """A card the bot posted in a server: reactions on it count from now on."""
        await self.votes.record_post(message_id, guild_id=guild_id, channel_id=channel_id, model_id=model_id,
                                     model_version_id=model_version_id)

    async def counts(self, guild_id: int) -> bool:
        """Whether this server counts reactions as votes (``/settings set reaction_votes``)."""
        return (await self.guild_settings.get(guild_id)).reaction_votes

    async def reaction(self, *, guild_id: int, message_id: int, user_id: int, emoji: str,
                       added: bool) -> ReactionOutcome:
        """A member (not a bot: the caller filters those) added or removed a reaction."""
        value = vote_value(emoji)
        if value is None:
            return NOT_COUNTED
        # one lock per member, taken before anything is awaited: a member's events apply in the order
        # they arrived, also across two posts of one version and while the settings load after a start
        async with self._lock((guild_id, user_id)):
            if not await self.counts(guild_id):
                return NOT_COUNTED
            target = await self.votes.post_target(message_id)
            if target is None or target.guild_id != guild_id:
                return NOT_COUNTED
            version = target.model_version_id
            if not added:
                await self.votes.withdraw(guild_id, version, user_id, value)
                return ReactionOutcome(counted=True, vote=await self.votes.vote_of(guild_id, version, user_id))
            before = await self.votes.vote_of(guild_id, version, user_id)
            await self.votes.vote(guild_id, version, user_id, value, model_id=target.model_id)
            replaced = EMOJI_OF[before] if before is not None and before != value else None
            return ReactionOutcome(counted=True, vote=value, replaced=replaced)
