"""Model card components: link buttons, and a "Versions" button that keeps working after restarts
(a ``DynamicItem`` carrying the model id in its ``custom_id``, registered by the models cog), and
posting a card so that members' 👍/👎 on it count as votes."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.catalog.cards import ModelCard, ModelRef
from bot.render.cards import model_card_embed, preview_file
from bot.render.embeds import SELECT_DESCRIPTION, SELECT_LABEL, SELECT_OPTIONS
from bot.render.text import truncate
from bot.reviews.votes import DOWN, UP
from bot.ui.base import ServicesBot
from bot.ui.context import channel_policy
from bot.ui.errors import report
from bot.ui.respond import deferred, send
from bot.ui.views import OwnedView

log = logging.getLogger(__name__)
VOTE_PROMPTS = (UP, DOWN)


def card_view(card: ModelCard) -> discord.ui.View:
    """Link buttons (the hub page, the download) and, for models with several versions, the
    persistent "Versions" button."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Open on the hub", url=card.hub_url[:512]))
    download = card.version.download_url if card.version else None
    if download and download.startswith(("https://", "http://")) and len(download) <= 512:
        view.add_item(discord.ui.Button(label="Download", url=download))
    if len(card.model.versions) > 1:
        view.add_item(VersionsButton(card.model.id))
    return view


def card_kwargs(card: ModelCard) -> dict[str, Any]:
    """The message arguments of a card: its embed, its buttons, its preview picture if any."""
    kwargs: dict[str, Any] = {"embed": model_card_embed(card), "view": card_view(card)}
    file = preview_file(card)
    if file is not None:
        kwargs["file"] = file
    return kwargs


async def build_card(interaction: discord.Interaction[Any], ref: ModelRef) -> ModelCard:
    """The card of ``ref`` for the channel of this interaction (its rating rules; a picture only if
    the bot may attach files there)."""
    bot: ServicesBot = interaction.client
    policy = await channel_policy(interaction)
    return await bot.services.cards.build(ref, policy, with_preview=interaction.app_permissions.attach_files)


async def card_message(interaction: discord.Interaction[Any], ref: ModelRef) -> dict[str, Any]:
    """Build the card for this channel and return the message arguments (embed, view, file)."""
    return card_kwargs(await build_card(interaction, ref))


async def send_card(interaction: discord.Interaction[Any], card: ModelCard) -> None:
    """Post a card in the channel. In a server, the message is recorded as a post of the card's model
    version: members' 👍/👎 on it are votes (with 👍/👎 added under it as a prompt where the server
    counts them and the bot may react)."""
    message = await send(interaction, **card_kwargs(card))
    if message is None or interaction.guild_id is None or interaction.channel_id is None or card.version is None:
        return
    bot: ServicesBot = interaction.client
    votes = bot.services.votes
    await votes.record_card(message.id, guild_id=interaction.guild_id, channel_id=interaction.channel_id,
                            model_id=card.model.id, model_version_id=card.version.id)
    perms = interaction.app_permissions
    if await votes.counts(interaction.guild_id) and perms.add_reactions and perms.read_message_history:
        try:
            for emoji in VOTE_PROMPTS:
                await message.add_reaction(emoji)
        except discord.HTTPException as exc:  # a prompt only: the votes count without it
            log.info("cards: no vote reactions under %s: %s", message.id, exc)


VERSIONS_TEMPLATE = r"card:versions:(?P<model_id>[0-9]{1,10})"


class VersionsButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=VERSIONS_TEMPLATE):
    """Under a model card: lets anyone pick another version of the model and see its card (just for
    them). Works on cards posted before a restart: the model id travels in the custom_id."""

    def __init__(self, model_id: int) -> None:
        super().__init__(discord.ui.Button(label="Versions", emoji="🗂️", style=discord.ButtonStyle.secondary,
                                           custom_id=f"card:versions:{model_id}"))
        self.model_id = model_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> VersionsButton:
        return cls(int(match["model_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        try:
            bot: ServicesBot = interaction.client
            fetched = await deferred(interaction, bot.services.cache.model(self.model_id), ephemeral=True)
            versions = sorted(fetched.value.versions, key=lambda v: (v.date is not None, v.date, v.id), reverse=True)
            view = VersionPicker(self.model_id, versions[:SELECT_OPTIONS], interaction.user.id)
            await send(interaction, f"Versions of **{discord.utils.escape_markdown(fetched.value.name or '')}**"
                                    + (f" (the newest {SELECT_OPTIONS})" if len(versions) > SELECT_OPTIONS else ""),
                       view=view, ephemeral=True)
        except Exception as exc:
            await report(interaction, exc, where="versions button")


class VersionPicker(OwnedView):
    def __init__(self, model_id: int, versions: list[Any], owner_id: int) -> None:
        super().__init__(owner_id, timeout=300)
        self.model_id = model_id
        select: discord.ui.Select[VersionPicker] = discord.ui.Select(placeholder="Show the card of…", options=[
            discord.SelectOption(
                label=truncate(v.name or str(v.id), SELECT_LABEL), value=str(v.id),
                description=truncate(" · ".join(x for x in (v.base_model, v.date.strftime("%Y-%m-%d") if v.date
                                                             else None) if x) or "version", SELECT_DESCRIPTION))
            for v in versions])
        select.callback = self.picked  # type: ignore[method-assign]
        self.add_item(select)
        self.select = select

    async def picked(self, interaction: discord.Interaction[Any]) -> None:
        version_id = int(self.select.values[0])
        kwargs = await deferred(interaction, card_message(interaction, ModelRef(self.model_id, version_id)),
                                ephemeral=True)
        await send(interaction, ephemeral=True, **kwargs)
