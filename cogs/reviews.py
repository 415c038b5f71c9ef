"""/review (a form) and /reviews model|top|remove: this server's reviews of models."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.render.reviews import top_embed
from bot.ui.checks import is_moderator, moderator_only, policy_for
from bot.ui.choices import model_choices
from bot.ui.respond import deferred, send
from bot.ui.reviews import (
    HubPostButton,
    ReviewPages,
    ReviewPaginator,
    WriteReviewButton,
    remove_review,
    review_target,
    start_review,
)

Interaction = discord.Interaction[HubBot]


class Reviews(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(WriteReviewButton, HubPostButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(WriteReviewButton, HubPostButton)

    @app_commands.command(name="review", description="Review a model for this server (editing yours if you did)")
    @app_commands.describe(model="A model id, a hub link, or a name", version="A version of that model")
    @app_commands.guild_only()
    async def review(self, interaction: Interaction, model: str, version: str | None = None) -> None:
        await start_review(interaction, model, version)

    reviews = app_commands.Group(name="reviews", description="This server's reviews of models", guild_only=True)

    @reviews.command(name="model", description="This server's reviews of a model, newest first")
    @app_commands.describe(model="A model id, a hub link, or a name")
    async def reviews_model(self, interaction: Interaction, model: str) -> None:
        assert interaction.guild_id is not None
        target = await deferred(interaction, review_target(self.bot, model))
        moderator = is_moderator(interaction.user, await policy_for(interaction), interaction.permissions)
        view = ReviewPaginator(ReviewPages(self.bot, interaction.guild_id, target), interaction.user.id,
                               moderator=moderator)
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
        await remove_review(interaction, id, reason)

    @review.autocomplete("model")
    async def review_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_choices(interaction, current)

    @reviews_model.autocomplete("model")
    async def reviews_autocomplete(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        return await model_choices(interaction, current)


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Reviews(bot))
