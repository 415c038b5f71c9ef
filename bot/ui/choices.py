"""Autocomplete helpers shared by cogs."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.catalog.search import choose
from bot.render.cards import hit_label
from bot.render.embeds import CHOICE_VALUE, choice_text
from bot.ui.base import ServicesBot
from bot.ui.context import allowed_for, channel_policy


def complete_list(current: str, options: list[str]) -> list[app_commands.Choice[str]]:
    """Autocomplete for a comma-separated option: keep what was typed, complete the last item
    (prefix matches first, then substring matches)."""
    head, _, last = current.rpartition(",")
    chosen = {v.strip().lower() for v in head.split(",") if v.strip()}
    prefix = (head.strip() + ", ") if head.strip() else ""
    out = []
    for option in choose([o for o in options if o.lower() not in chosen], last, limit=25):
        value = prefix + option
        if len(value) <= CHOICE_VALUE:
            out.append(app_commands.Choice(name=choice_text(value), value=value))
    return out


async def model_choices(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
    """Models for a ``model`` option, from the local index only (autocomplete cannot wait for the hub),
    filtered by what this channel may show."""
    bot: ServicesBot = interaction.client
    policy = await channel_policy(interaction)
    hits = await bot.services.search.model_choices(current, allowed=allowed_for(policy))
    return [app_commands.Choice(name=choice_text(hit_label(h.name, h.type, h.creator)), value=str(h.id))
            for h in hits[:25]]
