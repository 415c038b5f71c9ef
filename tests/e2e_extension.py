"""A test-only extension that exercises the shared command plumbing (pagination, deferring) through
the real bot, since the features that use them live in their own cogs."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.ui.respond import deferred, send
from bot.ui.views import EmbedPages, Paginator


class PlumbingProbe(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    @app_commands.command(name="probe_pages", description="three pages")
    async def probe_pages(self, interaction: discord.Interaction[HubBot], idle: float = 300.0) -> None:
        embeds = [discord.Embed(title=f"Page {i}", description="@everyone " + "x" * 5000) for i in range(1, 4)]
        view = Paginator(EmbedPages(embeds), interaction.user.id, timeout=idle)
        view.interaction = interaction
        await send(interaction, embed=await view.start(), view=view)

    @app_commands.command(name="probe_slow", description="slow work")
    async def probe_slow(self, interaction: discord.Interaction[HubBot], seconds: float) -> None:
        async def work() -> str:
            await asyncio.sleep(seconds)
            return f"done after {seconds} s"

        await send(interaction, await deferred(interaction, work(), after=0.3))


async def setup(bot: HubBot) -> None:
    await bot.add_cog(PlumbingProbe(bot))
