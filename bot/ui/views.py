"""Views shared by cogs: ``OwnedView`` (only the invoker may use it; errors go to the one handler;
buttons are disabled on timeout) and ``Paginator`` (page through embeds with buttons)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import discord

from bot.render.embeds import fit
from bot.ui.errors import report
from bot.ui.respond import deferred, edit, send

log = logging.getLogger(__name__)


class OwnedView(discord.ui.View):
    """A view only its owner (the member who ran the command) may use."""

    def __init__(self, owner_id: int | None, *, timeout: float | None = 180.0) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.interaction: discord.Interaction[Any] | None = None  # the command's interaction, for edits
        self.message: discord.Message | None = None

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        if self.owner_id is None or interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(
            "Only the member who ran this command can use these buttons. Run it yourself to get your own.",
            ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
        return False

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception,
                       item: discord.ui.Item[Any], /) -> None:
        await report(interaction, error, where=f"{type(self).__name__} {getattr(item, 'custom_id', '')}")

    def disable_all(self) -> None:
        for item in self.children:
            if hasattr(item, "disabled") and not (isinstance(item, discord.ui.Button) and item.url):
                item.disabled = True

    async def on_timeout(self) -> None:
        self.disable_all()
        try:
            if self.interaction is not None and not self.interaction.is_expired():
                await self.interaction.edit_original_response(view=self)
            elif self.message is not None:
                await self.message.edit(view=self)
        except discord.HTTPException as exc:
            log.debug("could not disable the buttons of an expired view: %s", exc)


class PageSource(Protocol):
    """What a Paginator shows. ``page_count`` may be None when the end is not known yet."""

    @property
    def page_count(self) -> int | None: ...

    async def get_page(self, index: int) -> discord.Embed | None: ...


class EmbedPages:
    """A fixed list of embeds."""

    def __init__(self, embeds: Sequence[discord.Embed]) -> None:
        self.embeds = list(embeds)

    @property
    def page_count(self) -> int:
        return len(self.embeds)

    async def get_page(self, index: int) -> discord.Embed | None:
        return self.embeds[index] if 0 <= index < len(self.embeds) else None


class Paginator(OwnedView):
    """First / previous / position / next / last buttons over a ``PageSource``."""

    def __init__(self, source: PageSource, owner_id: int | None, *, timeout: float | None = 300.0) -> None:
        super().__init__(owner_id, timeout=timeout)
        self.source = source
        self.index = 0
        self._update_buttons()

    def _update_buttons(self) -> None:
        count = self.source.page_count
        last = None if count is None else max(0, count - 1)
        self.first_page.disabled = self.previous_page.disabled = self.index == 0
        self.next_page.disabled = last is not None and self.index >= last
        self.last_page.disabled = last is None or self.index >= last
        self.position.label = f"{self.index + 1}/{count}" if count is not None else f"{self.index + 1}"

    async def start(self) -> discord.Embed | None:
        """The first page's embed, with the buttons (and subclass items) set for it."""
        embed = await self._embed(0)
        self.index = 0
        self._update_buttons()
        await self.before_page_change(0)
        return embed

    async def _embed(self, index: int) -> discord.Embed | None:
        embed = await self.source.get_page(index)
        return fit(embed) if embed is not None else None

    async def show(self, interaction: discord.Interaction[Any], index: int) -> None:
        embed = await deferred(interaction, self._embed(index), update=True)  # a page may need the hub
        if embed is None:  # the source ran out (unknown length): stay, and mark this as the end
            self.next_page.disabled = True
            await edit(interaction, view=self)
            return
        self.index = index
        self._update_buttons()
        await self.before_page_change(index)
        await edit(interaction, embed=embed, view=self)

    async def before_page_change(self, index: int) -> None:
        """Hook for subclasses that show more per page (e.g. a select menu of the page's items)."""

    @discord.ui.button(emoji="⏮", style=discord.ButtonStyle.secondary)
    async def first_page(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self.show(interaction, 0)

    @discord.ui.button(emoji="◀", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self.show(interaction, max(0, self.index - 1))

    @discord.ui.button(label="1", style=discord.ButtonStyle.secondary, disabled=True)
    async def position(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await interaction.response.defer()  # a label, not an action

    @discord.ui.button(emoji="▶", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        await self.show(interaction, self.index + 1)

    @discord.ui.button(emoji="⏭", style=discord.ButtonStyle.secondary)
    async def last_page(self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]) -> None:
        count = self.source.page_count
        if count:
            await self.show(interaction, count - 1)
        else:
            await interaction.response.defer()


async def send_pages(interaction: discord.Interaction[Any], pages: Sequence[discord.Embed], *,
                     ephemeral: bool = False) -> None:
    """One embed as is; several with a ``Paginator`` that only the invoker may turn."""
    if len(pages) == 1:
        await send(interaction, embed=pages[0], ephemeral=ephemeral)
        return
    view = Paginator(EmbedPages(pages), interaction.user.id)
    view.interaction = interaction
    await send(interaction, embed=await view.start(), view=view, ephemeral=ephemeral)
