"""The review form (a modal: recommend or not as a menu, optional text, and for linked members "also
post it on the hub"), the receipt with its hub buttons, and the pages of a model's reviews with a
Remove button for moderators."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import discord

from bot.catalog.cards import ModelRef, model_url
from bot.core.errors import UserError
from bot.render.reviews import review_embed, reviews_page_embed
from bot.render.text import escape
from bot.reviews.hub import HubPostResult
from bot.reviews.service import MAX_TEXT, PAGE, ReviewRow
from bot.ui.base import ServicesBot
from bot.ui.checks import NotModerator, is_moderator, policy_for
from bot.ui.errors import report
from bot.ui.log_channel import tell_log_channel
from bot.ui.respond import deferred, edit, send
from bot.ui.views import Paginator

log = logging.getLogger(__name__)

YES, NO = "recommend", "not"
FORM_DEADLINE = 2.0  # a form must open within Discord's 3 s: a slower hub gets a "Write" button instead
WRITE_TEMPLATE = r"review:write:(?P<model_id>[0-9]{1,10}):(?P<version_id>[0-9]{1,10})"
HUB_POST_TEMPLATE = r"review:hubpost:(?P<review_id>[0-9]{1,18})"


@dataclass(frozen=True, slots=True)
class ReviewTarget:
    model_id: int
    model_version_id: int
    model_name: str
    version_name: str | None
    hub_url: str


async def review_target(bot: ServicesBot, text: str, version: str | int | None = None) -> ReviewTarget:
    """The model version a member wants to review: a model id, hub link or name, and optionally a
    version of it (default: the newest published one)."""
    services = bot.services
    ref = await services.cards.resolve(text)
    wanted = str(version).strip() if version is not None else ""
    if wanted.isdecimal() and wanted.isascii():
        ref = ModelRef(ref.model_id, int(wanted))
    if ref.model_id is None:
        raise UserError("Tell me which model: an id, a hub link, or a name.")
    model = (await services.cache.model(ref.model_id)).value
    chosen = model.version(ref.version_id) if ref.version_id else model.default_version
    if chosen is None:
        raise UserError(f"Model {model.id} has no such version." if ref.version_id else
                        f"Model {model.id} has no published version to review.")
    return ReviewTarget(model.id, chosen.id, model.name or f"Model {model.id}", chosen.name,
                        model_url(services.settings.hub.base_url, model.id, chosen.id))


async def open_review_form(interaction: discord.Interaction[Any], target: ReviewTarget) -> None:
    """Answer ``interaction`` with the form, pre-filled with the member's review if they wrote one."""
    bot: ServicesBot = interaction.client
    assert interaction.guild_id is not None
    existing = await bot.services.reviews.mine(interaction.guild_id, target.model_version_id, interaction.user.id)
    hub_name = await bot.services.hub_reviews.offer(interaction.guild_id, interaction.user.id)
    await interaction.response.send_modal(ReviewModal(target, existing, hub_name))


async def start_review(interaction: discord.Interaction[Any], model: str, version: str | None) -> None:
    """``/review``: the form at once when the model is known within ``FORM_DEADLINE``; otherwise a
    "Write your review" button once the hub has answered (a modal can only answer an interaction
    that has not been deferred, and only within 3 s)."""
    bot: ServicesBot = interaction.client
    task = asyncio.ensure_future(review_target(bot, model, version))
    done, _ = await asyncio.wait({task}, timeout=FORM_DEADLINE)
    if done:
        await open_review_form(interaction, task.result())
        return
    await interaction.response.defer(ephemeral=True, thinking=True)
    target = await task
    view = discord.ui.View(timeout=None)
    view.add_item(WriteReviewButton(target.model_id, target.model_version_id))
    await send(interaction, f"The hub took a moment to tell me about **{escape(target.model_name)}**. "
                            "Ready now:", view=view, ephemeral=True)


class WriteReviewButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=WRITE_TEMPLATE):
    """Opens the review form for one model version (the model is cached by the time it is shown)."""

    def __init__(self, model_id: int, version_id: int) -> None:
        super().__init__(discord.ui.Button(label="Write your review", emoji="📝", style=discord.ButtonStyle.primary,
                                           custom_id=f"review:write:{model_id}:{version_id}"))
        self.model_id, self.version_id = model_id, version_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> WriteReviewButton:
        return cls(int(match["model_id"]), int(match["version_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        try:
            target = await asyncio.wait_for(review_target(interaction.client, str(self.model_id), self.version_id),
                                            FORM_DEADLINE)
            await open_review_form(interaction, target)
        except TimeoutError:
            await report(interaction, UserError("The hub is slow right now: try the button again in a moment."),
                         where="write review button")
        except Exception as exc:
            await report(interaction, exc, where="write review button")


class ReviewModal(discord.ui.Modal):
    def __init__(self, target: ReviewTarget, existing: ReviewRow | None, hub_name: str | None = None) -> None:
        """``hub_name``: the member's linked hub username when their review may go to the hub from
        this server (then the form offers it)."""
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
        self.to_hub: discord.ui.Checkbox[Any] | None = None
        if hub_name is not None:
            # ticked when editing a review that is on the hub already (keeps both alike); else asked
            self.to_hub = discord.ui.Checkbox(custom_id="review:hub",
                                              default=existing is not None and existing.hub_review_id is not None)
            self.add_item(discord.ui.Label(text="Also post it on the hub", component=self.to_hub,
                                           description=f"As {hub_name}, with the key you linked"[:100]))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        bot: ServicesBot = interaction.client
        assert interaction.guild_id is not None
        row = await bot.services.reviews.submit(
            guild_id=interaction.guild_id, model_id=self.target.model_id,
            model_version_id=self.target.model_version_id, user_id=interaction.user.id,
            recommended=self.verdict.values[0] == YES, text=self.text.value)
        result: HubPostResult | None = None
        if self.to_hub is not None and self.to_hub.value:
            result = await deferred(interaction, bot.services.hub_reviews.post(interaction.guild_id,
                                                                               interaction.user.id, row.id),
                                    ephemeral=True)
            row = await bot.services.reviews.get(interaction.guild_id, row.id)
        content, view = receipt(row, self.target.hub_url, result)
        await send(interaction, content, embed=review_embed(row, self.target.model_name, self.target.hub_url),
                   view=view, ephemeral=True)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, where="review form")


def receipt(row: ReviewRow, hub_url: str, result: HubPostResult | None) -> tuple[str, discord.ui.View]:
    """What the member sees after saving: the review as the server sees it, the hub's answer if it
    was posted there, a retry when that failed, and a link to the hub page."""
    lines = ["Saved. This is how the server sees your review (`/review` again edits it)."]
    view = discord.ui.View(timeout=None)
    if result is not None:
        lines.append(("✅ " if result.posted else "⚠️ ") + result.message)
        if result.retry:  # only where trying again can help (the hub was busy or down)
            view.add_item(HubPostButton(row.id))
    if result is None or not result.posted:
        lines.append("Post it on the hub too, where the creator reads it: the button opens the model's page.")
    view.add_item(discord.ui.Button(label="See it on the hub" if result and result.posted else "Open on the hub",
                                    url=hub_url, emoji="🌐"))
    return "\n".join(lines), view


class HubPostButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=HUB_POST_TEMPLATE):
    """Retry posting one review on the hub. Only its author can: the service checks the review is
    theirs and uses their own key, so nobody else's click can use a key (the receipt is ephemeral
    anyway). Works after a restart: the review id travels in the custom_id."""

    def __init__(self, review_id: int) -> None:
        super().__init__(discord.ui.Button(label="Try the hub again", emoji="🔁", style=discord.ButtonStyle.primary,
                                           custom_id=f"review:hubpost:{review_id}"))
        self.review_id = review_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> HubPostButton:
        return cls(int(match["review_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        try:
            bot: ServicesBot = interaction.client
            if interaction.guild_id is None:
                raise UserError("Reviews live in servers.")
            result = await deferred(interaction, bot.services.hub_reviews.post(
                interaction.guild_id, interaction.user.id, self.review_id), update=True)
            row = await bot.services.reviews.get(interaction.guild_id, self.review_id)
            names = await bot.services.cards.names_of([row.model_id])
            url = model_url(bot.services.settings.hub.base_url, row.model_id, row.model_version_id)
            content, view = receipt(row, url, result)
            embed = review_embed(row, names.get(row.model_id) or f"Model {row.model_id}", url)
            await edit(interaction, content=content, embed=embed, view=view)
        except Exception as exc:
            await report(interaction, exc, where="hub post button")


# ---------------------------------------------------------------------------- /reviews model


class ReviewPages:
    """PageSource over this server's reviews of one model."""

    def __init__(self, bot: ServicesBot, guild_id: int, target: ReviewTarget) -> None:
        self.bot, self.guild_id, self.target = bot, guild_id, target
        self.total = 0
        self.rows: list[ReviewRow] = []

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE))

    async def get_page(self, index: int) -> discord.Embed | None:
        self.rows, self.total = await self.bot.services.reviews.page(self.guild_id, self.target.model_id, index)
        score = await self.bot.services.reviews.score(self.guild_id, self.target.model_id)
        return reviews_page_embed(self.target.model_name, self.target.hub_url, score, self.rows, page=index,
                                  total=self.total, per_page=PAGE)


class ReviewPaginator(Paginator):
    """The pages of a model's reviews; for a moderator, with a button to remove one of them."""

    def __init__(self, source: ReviewPages, owner_id: int, *, moderator: bool) -> None:
        super().__init__(source, owner_id)
        self.reviews = source
        if not moderator:
            self.remove_item(self.remove_review)

    async def before_page_change(self, index: int) -> None:
        self.remove_review.disabled = not self.reviews.rows

    @discord.ui.button(label="Remove a review", emoji="🗑️", style=discord.ButtonStyle.danger, row=1)
    async def remove_review(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        if not is_moderator(interaction.user, await policy_for(interaction), interaction.permissions):
            raise NotModerator()
        await interaction.response.send_modal(RemoveReviewModal(self))

    async def refresh(self) -> None:
        """Show the current page again (after a removal), or the last one if it is gone. Nothing when
        the pages have timed out (their buttons are off and must stay so)."""
        if self.is_finished() or self.interaction is None or self.interaction.is_expired():
            return
        embed = await self._embed(self.index)
        if not self.reviews.rows and self.index:
            self.index = self.reviews.page_count - 1
            embed = await self._embed(self.index)
        self._update_buttons()
        await self.before_page_change(self.index)
        try:
            await self.interaction.edit_original_response(embed=embed, view=self)
        except discord.HTTPException as exc:  # the removal worked; only the page is stale
            log.debug("could not refresh the review pages: %s", exc)


class RemoveReviewModal(discord.ui.Modal, title="Remove a review"):
    def __init__(self, pages: ReviewPaginator) -> None:
        super().__init__(timeout=600)
        self.pages = pages
        shown = pages.reviews.rows
        self.number: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="review:remove:id", min_length=1, max_length=18,
            default=str(shown[0].id) if len(shown) == 1 else None,
            placeholder=" · ".join(f"#{r.id}" for r in shown)[:100] or "the #number of the review")
        self.reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="review:remove:reason", required=False, max_length=300, placeholder="goes to the log channel")
        self.add_item(discord.ui.Label(text="Review number", component=self.number))
        self.add_item(discord.ui.Label(text="Why", component=self.reason))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        digits = self.number.value.strip().lstrip("#")
        if not (digits.isdecimal() and digits.isascii()):
            raise UserError("The review number is the #n shown before each review.")
        await remove_review(interaction, int(digits), self.reason.value or None)
        await self.pages.refresh()

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, where="remove review form")


async def remove_review(interaction: discord.Interaction[Any], review_id: int, reason: str | None) -> ReviewRow:
    """Remove a review of this server (the caller checked the member moderates), tell them, and log
    who removed whose review and why to the log channel."""
    bot: ServicesBot = interaction.client
    assert interaction.guild_id is not None
    services = bot.services
    if not is_moderator(interaction.user, await policy_for(interaction), interaction.permissions):
        raise NotModerator()
    row = await services.reviews.remove(interaction.guild_id, review_id)
    await send(interaction, f"Review #{row.id} removed.", ephemeral=True)
    names = await services.cards.names_of([row.model_id])
    note = f"Review #{row.id} by <@{row.user_id}> removed by {interaction.user.mention}" + \
        (f": {discord.utils.escape_markdown(reason[:300])}" if reason else " (no reason given)")
    await tell_log_channel(bot, interaction.guild_id, note, embed=review_embed(
        row, names.get(row.model_id) or f"Model {row.model_id}",
        model_url(services.settings.hub.base_url, row.model_id, row.model_version_id)))
    return row
