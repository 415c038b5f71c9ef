"""The review form (a modal: recommend or not as a menu, optional text) and the pages of a model's
reviews."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from bot.render.reviews import review_embed, reviews_page_embed
from bot.reviews.service import MAX_TEXT, PAGE, ReviewRow
from bot.ui.base import ServicesBot
from bot.ui.errors import report
from bot.ui.respond import send

YES, NO = "recommend", "not"


@dataclass(frozen=True, slots=True)
class ReviewTarget:
    model_id: int
    model_version_id: int
    model_name: str
    version_name: str | None
    hub_url: str


class ReviewModal(discord.ui.Modal):
    def __init__(self, target: ReviewTarget, existing: ReviewRow | None) -> None:
        title = f"Review: {target.model_name}"
        super().__init__(title=title[:42] + "…" if len(title) > 45 else title, timeout=900)
        self.target = target
        recommended = existing.recommended if existing is not None else None
        self.verdict: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="review:verdict", min_values=1, max_values=1, options=[
                discord.SelectOption(label="👍 I recommend it", value=YES, default=recommended is True),
                discord.SelectOption(label="👎 I do not recommend it", value=NO, default=recommended is False)])
        self.text: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="review:text", style=discord.TextStyle.paragraph, required=False, max_length=MAX_TEXT,
            default=(existing.text or "") if existing is not None else None,
            placeholder="What worked, what did not (optional)")
        version = f" · {target.version_name}" if target.version_name else ""
        self.add_item(discord.ui.Label(text="Your verdict", component=self.verdict,
                                       description=f"{target.model_name}{version}"[:100]))
        self.add_item(discord.ui.Label(text="Your review", component=self.text))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        bot: ServicesBot = interaction.client
        assert interaction.guild_id is not None
        row = await bot.services.reviews.submit(
            guild_id=interaction.guild_id, model_id=self.target.model_id,
            model_version_id=self.target.model_version_id, user_id=interaction.user.id,
            recommended=self.verdict.values[0] == YES, text=self.text.value)
        await send(interaction, "Saved. This is how the server sees your review (`/review` again edits it):",
                   embed=review_embed(row, self.target.model_name, self.target.hub_url), ephemeral=True)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, where="review form")


class ReviewPages:
    """PageSource over this server's reviews of one model."""

    def __init__(self, bot: ServicesBot, guild_id: int, target: ReviewTarget) -> None:
        self.bot, self.guild_id, self.target = bot, guild_id, target
        self.total = 0

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE))

    async def get_page(self, index: int) -> discord.Embed | None:
        rows, self.total = await self.bot.services.reviews.page(self.guild_id, self.target.model_id, index)
        score = await self.bot.services.reviews.score(self.guild_id, self.target.model_id)
        return reviews_page_embed(self.target.model_name, self.target.hub_url, score, rows, page=index,
                                  total=self.total, per_page=PAGE)
