"""Command arguments that name a stored thing: the guild-scoped lookup and its autocomplete live
here, so command bodies get the thing itself (RoboDanny's converters, as app-command transformers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot.core.errors import UserError
from bot.digests import DigestRow
from bot.feeds import SubscriptionRow, filter_of
from bot.render.digests import digest_choice
from bot.render.feeds import feed_choice


class _ServerThingTransformer(app_commands.Transformer):
    """An integer option naming one of this server's things (feeds, digests): the thing itself, or a
    short error; autocomplete over this server's things only."""

    plural = "things"

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    async def lookup(self, services: Any, guild_id: int, thing_id: int) -> Any:
        raise NotImplementedError

    async def things(self, services: Any, guild_id: int) -> Sequence[Any]:
        raise NotImplementedError

    def label(self, services: Any, thing: Any, channel_name: str | None) -> str:
        raise NotImplementedError

    async def transform(self, interaction: discord.Interaction[Any], value: Any) -> Any:
        if interaction.guild_id is None:
            raise UserError(f"{self.plural.capitalize()} belong to servers: use this in a server.")
        return await self.lookup(interaction.client.services, interaction.guild_id, int(value))

    async def autocomplete(self, interaction: discord.Interaction[Any],  # type: ignore[override]
                           value: int | float | str) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        typed = str(value).strip().lstrip("#")
        services = interaction.client.services
        out = []
        for thing in await self.things(services, interaction.guild_id):
            channel = interaction.client.get_channel(thing.channel_id)
            label = self.label(services, thing, getattr(channel, "name", None))
            if typed in label:
                out.append(app_commands.Choice(name=label, value=thing.id))
        return out[:25]


class FeedTransformer(_ServerThingTransformer):
    """``/feed ... id``: this server's feed."""

    plural = "feeds"

    async def lookup(self, services: Any, guild_id: int, thing_id: int) -> SubscriptionRow:
        return await services.feeds.get(guild_id, thing_id)

    async def things(self, services: Any, guild_id: int) -> Sequence[SubscriptionRow]:
        return await services.feeds.for_guild(guild_id)

    def label(self, services: Any, thing: SubscriptionRow, channel_name: str | None) -> str:
        return feed_choice(thing, channel_name, filter_of(thing).describe())


class DigestTransformer(_ServerThingTransformer):
    """``/digest ... id``: this server's digest."""

    plural = "digests"

    async def lookup(self, services: Any, guild_id: int, thing_id: int) -> DigestRow:
        return await services.digests.get(guild_id, thing_id)

    async def things(self, services: Any, guild_id: int) -> Sequence[DigestRow]:
        return await services.digests.for_guild(guild_id)

    def label(self, services: Any, thing: DigestRow, channel_name: str | None) -> str:
        return digest_choice(thing, channel_name, services.digests.describe(thing))


#: ``id: FeedArg`` in a command's signature
FeedArg = app_commands.Transform[SubscriptionRow, FeedTransformer]
#: ``id: DigestArg`` in a command's signature
DigestArg = app_commands.Transform[DigestRow, DigestTransformer]
