"""/review (a form) and /reviews model|top|remove: this server's reviews of models."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.catalog.cards import ModelRef, model_url
from bot.core.errors import UserError
from bot.render.reviews import review_embed, top_embed
from bot.ui.checks import moderator_only
from bot.ui.choices import model_choices
from bot.ui.log_channel import tell_log_channel
from bot.ui.respond import deferred, send
from bot.ui.reviews import ReviewModal, ReviewPages, ReviewTarget
from bot.ui.views import Paginator

Interaction = discord.Interaction[HubBot]
FORM_DEADLINE = 2.0  # a form must open within Discord's 3 s: no time to wait for a slow hub


class Reviews(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    async def _target(self, text: str, version: str | None = None) -> ReviewTarget:
        services = self.bot.services
        ref = await services.cards.resolve(text)
        if version and version.strip().isdecimal() and version.strip().isascii():
            ref = ModelRef(ref.model_id, int(version.strip()))
        if ref.model_id is None:
            raise UserError("Tell me which model: an id, a hub link, or a name.")
        model = (await services.cache.model(ref.model_id)).value
        chosen = model.version(ref.version_id) if ref.version_id else model.default_version
        if chosen is None:
            raise UserError(f"Model {model.id} has no such version." if ref.version_id else
                            f"Model {model.id} has no published version to review.")
        base = services.settings.hub.base_url
        return ReviewTarget(model.id, chosen.id, model.name or f"Model {model.id}", chosen.name,
                            model_url(base, model.id, chosen.id))

    @app_commands.command(name="review", description="Review a model for this server (editing yours if you did)")
    @app_commands.describe(model="A model id, a hub link, or a name", version="A version of that model")
    @app_commands.guild_only()
    async def review(self, interaction: Interaction, model: str, version: str | None = None) -> None:
        assert interaction.guild_id is not None
        try:
            target = await asyncio.wait_for(self._target(model, version), FORM_DEADLINE)
        except TimeoutError:
            raise UserError("The hub is slow to tell me about that model: try again in a moment.") from None
        existing = await self.bot.services.reviews.mine(interaction.guild_id, target.model_version_id,
                                                        interaction.user.id)
        await interaction.response.send_modal(ReviewModal(target, existing))

    reviews = app_commands.Group(name="reviews", description="This server's reviews of models", guild_only=True)

    @reviews.command(name="model", description="This server's reviews of a model, newest first")
    @app_commands.describe(model="A model id, a hub link, or a name")
    async def reviews_model(self, interaction: Interaction, model: str) -> None:
        assert interaction.guild_id is not None
        target = await deferred(interaction, self._target(model))
        view = Paginator(ReviewPages(self.bot, interaction.guild_id, target), interaction.user.id)
        view.interaction = interaction
        await send(interaction, embed=await view.start(), view=view)

    @reviews.command(name="top", description="The models this server recommends most")
    @app_commands.describe(period="Votes and reviews of this period")
    @app_commands.choices(period=[app_commands.Choice(name=n, value=v) for n, v in
                                  (("this week", "week"), ("this month", "month"), ("all time", "all"))])
    async def top(self, interaction: Interaction, period: str = "week") -> None:
        assert interaction.guild_id is not None
        services = self.bot.services
        ranked = await services.reviews.top(interaction.guild_id, period)
        names = await services.cards.names_of([r.model_id for r in ranked])
        await send(interaction, embed=top_embed(period, ranked, names, services.settings.hub.base_url))

    @reviews.command(name="remove", description="Remove a review from this server (moderators)")
    @app_commands.describe(id="The review's number (#n in /reviews)", reason="Why (goes to the log channel)")
    @moderator_only()
    async def remove(self, interaction: Interaction, id: int, reason: str | None = None) -> None:
        assert interaction.guild_id is not None
        services = self.bot.services
        row = await services.reviews.remove(interaction.guild_id, id)
        await send(interaction, f"Review #{row.id} removed.", ephemeral=True)
        names = await services.cards.names_of([row.model_id])
        note = f"Review #{row.id} by <@{row.user_id}> removed by {interaction.user.mention}" + \
            (f": {discord.utils.escape_markdown(reason[:300])}" if reason else " (no reason given)")
        await tell_log_channel(self.bot, interaction.guild_id, note, embed=review_embed(
            row, names.get(row.model_id) or f"Model {row.model_id}",
            model_url(services.settings.hub.base_url, row.model_id, row.model_version_id)))

    @review.autocomplete("model")
    async def review_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_choices(interaction, current)

    @reviews_model.autocomplete("model")
    async def reviews_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_choices(interaction, current)


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Reviews(bot))
