"""/hub link|unlink|status: a member's own hub account, so their reviews can be posted there too."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.render.text import escape
from bot.ui.hub_link import HubKeyModal
from bot.ui.respond import send

Interaction = discord.Interaction[HubBot]


class Hub(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    hub = app_commands.Group(name="hub", description="Your own hub account, for posting your reviews there")

    @hub.command(name="link", description="Link your hub account with a personal API key (stored encrypted)")
    async def link(self, interaction: Interaction) -> None:
        service = self.bot.services.hub_reviews
        service.require_enabled()
        await interaction.response.send_modal(HubKeyModal(service.how_to_get_a_key()))

    @hub.command(name="unlink", description="Delete your linked hub key at once")
    async def unlink(self, interaction: Interaction) -> None:
        removed = await self.bot.services.hub_reviews.unlink(interaction.user.id)
        await send(interaction, "Your hub key is deleted: nothing can post as you any more." if removed else
                   "You had no hub account linked.", ephemeral=True)

    @hub.command(name="status", description="Which hub account you linked, and whether this server posts reviews")
    async def status(self, interaction: Interaction) -> None:
        service = self.bot.services.hub_reviews
        link = await service.link_of(interaction.user.id)
        if link is None:
            lines = ["No hub account linked." + (" `/hub link` links one." if service.enabled else "")]
        else:
            lines = [f"Linked to **{escape(link.hub_username)}** since <t:{int(link.linked_at)}:D>"
                     f" (last accepted by the hub <t:{int(link.checked_at)}:R>)."]
            if not link.usable:
                lines.append("⚠️ The link no longer opens (the bot's secret changed): `/hub link` again.")
        if interaction.guild_id is not None:
            here = await service.available(interaction.guild_id)
            lines.append("This server lets linked members post their reviews on the hub." if here else
                         "This server keeps reviews in Discord (a manager can turn on `hub_reviews`).")
        await send(interaction, "\n".join(lines), ephemeral=True)


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Hub(bot))
