"""Command arguments that name a stored thing: the guild-scoped lookup and its autocomplete live
here, so command bodies get the thing itself (RoboDanny's converters, as app-command transformers)."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.core.errors import UserError
from bot.feeds import SubscriptionRow, filter_of
from bot.render.feeds import feed_choice


class FeedTransformer(app_commands.Transformer):
    """``/feed ... id``: an integer option that becomes this server's feed (or a short error), with
    autocomplete over this server's feeds only."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    async def transform(self, interaction: discord.Interaction[Any], value: Any) -> SubscriptionRow:
        if interaction.guild_id is None:
            raise UserError("Feeds belong to servers: use this in a server.")
        return await interaction.client.services.feeds.get(interaction.guild_id, int(value))

    async def autocomplete(self, interaction: discord.Interaction[Any],  # type: ignore[override]
                           value: int | float | str) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        typed = str(value).strip().lstrip("#")
        out = []
        for sub in await interaction.client.services.feeds.for_guild(interaction.guild_id):
            channel = interaction.client.get_channel(sub.channel_id)
            label = feed_choice(sub, getattr(channel, "name", None), filter_of(sub).describe())
            if typed in label:
                out.append(app_commands.Choice(name=label, value=sub.id))
        return out[:25]


#: ``id: FeedArg`` in a command's signature
FeedArg = app_commands.Transform[SubscriptionRow, FeedTransformer]
