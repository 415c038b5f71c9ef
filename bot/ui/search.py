"""The /search result pages: a paginator over the hub's results with a menu that opens a card."""

from __future__ import annotations

import discord

from bot.catalog.cards import ModelRef
from bot.catalog.search import SearchResults
from bot.hub.models import Model
from bot.render.cards import search_page_embed
from bot.render.embeds import SELECT_DESCRIPTION, SELECT_LABEL
from bot.render.text import truncate
from bot.ui.base import ServicesBot
from bot.ui.cards import build_card, send_card
from bot.ui.respond import deferred
from bot.ui.views import Paginator

Interaction = discord.Interaction[ServicesBot]


class SearchPages:
    """PageSource over SearchResults: one embed per 10 models."""

    def __init__(self, results: SearchResults, query_text: str, hub_base_url: str) -> None:
        self.results = results
        self.query_text = query_text
        self.hub_base_url = hub_base_url
        self.current: list[Model] = []

    @property
    def page_count(self) -> int | None:
        return self.results.known_pages

    async def get_page(self, index: int) -> discord.Embed | None:
        models = await self.results.page(index)
        if models is None:
            return None
        self.current = models
        more = not self.results.exhausted or len(self.results.models) > (index + 1) * 10
        return search_page_embed(self.query_text, models, page=index + 1, first_number=index * 10 + 1,
                                 hub_base_url=self.hub_base_url, note=self.results.note, more=more)


class ResultSelect(discord.ui.Select["SearchView"]):
    def __init__(self) -> None:
        super().__init__(placeholder="Open a model's card…", min_values=1, max_values=1, row=1,
                         options=[discord.SelectOption(label="…", value="0")])

    def fill(self, models: list[Model], first_number: int) -> None:
        self.options = [
            discord.SelectOption(
                label=truncate(f"{n}. {m.name or m.id}", SELECT_LABEL), value=str(m.id),
                description=truncate(" · ".join(x for x in (m.type, m.creator_name and f"by {m.creator_name}") if x)
                                     or "model", SELECT_DESCRIPTION))
            for n, m in enumerate(models, start=first_number)
        ] or [discord.SelectOption(label="No results", value="0")]
        self.disabled = not models

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        model_id = int(self.values[0])
        await send_card(interaction, await deferred(interaction, build_card(interaction, ModelRef(model_id))))


class SearchView(Paginator):
    def __init__(self, source: SearchPages, owner_id: int) -> None:
        super().__init__(source, owner_id)
        self.pages = source
        self.select = ResultSelect()
        self.add_item(self.select)

    async def before_page_change(self, index: int) -> None:
        self.select.fill(self.pages.current, index * 10 + 1)
