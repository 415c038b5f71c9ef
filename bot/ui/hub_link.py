"""The form where a member pastes their personal hub API key (``/hub link``). The key goes from the
form straight to the service, which checks it with the hub and keeps it sealed; it is never shown
back, logged or put in a message."""

from __future__ import annotations

from typing import Any

import discord

from bot.render.text import escape
from bot.ui.base import ServicesBot
from bot.ui.errors import report
from bot.ui.respond import deferred, send


class HubKeyModal(discord.ui.Modal, title="Link your hub account"):
    def __init__(self, help_text: str) -> None:
        super().__init__(timeout=600)
        self.key: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="hub:key", min_length=16, max_length=200, placeholder="paste the key here")
        self.add_item(discord.ui.TextDisplay(help_text[:4000]))
        self.add_item(discord.ui.Label(text="Your personal hub API key", component=self.key,
                                       description="Checked with the hub, then stored encrypted. Only you can use it."))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        bot: ServicesBot = interaction.client
        link = await deferred(interaction, bot.services.hub_reviews.link(interaction.user.id, self.key.value),
                              ephemeral=True)
        await send(interaction, f"Linked to the hub account **{escape(link.hub_username)}**. Where a server allows "
                                "it, `/review` can now post your reviews there too. `/hub unlink` deletes the key "
                                "at once.", ephemeral=True)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, where="hub link form")
