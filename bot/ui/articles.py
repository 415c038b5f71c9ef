"""The /articles pages: a paginator over the hub's newest (or matching) articles with a menu that opens
an article's short card."""

from __future__ import annotations

from collections.abc import Callable

import discord

from bot.digests import ArticleResults
from bot.hub.models import Article
from bot.render.digests import article_card_embed, articles_page_embed, picture_file
from bot.render.embeds import SELECT_DESCRIPTION, SELECT_LABEL
from bot.render.text import truncate
from bot.ui.base import ServicesBot
from bot.ui.context import channel_policy
from bot.ui.respond import deferred, send
from bot.ui.views import Paginator

Interaction = discord.Interaction[ServicesBot]
PER_PAGE = 10


class ArticlePages:
    """PageSource over ArticleResults: one embed per ten articles."""

    def __init__(self, results: ArticleResults, url_of: Callable[[int], str]) -> None:
        self.results = results
        self.url_of = url_of
        self.current: list[Article] = []

    @property
    def page_count(self) -> int | None:
        return self.results.known_pages

    async def get_page(self, index: int) -> discord.Embed | None:
        articles = await self.results.page(index)
        if articles is None:
            return None
        self.current = articles
        return articles_page_embed(articles, url_of={a.id: self.url_of(a.id) for a in articles},
                                   first_number=index * PER_PAGE + 1, page=index + 1, query=self.results.query,
                                   tag=self.results.tag, note=self.results.note, more=self.results.more_after(index))


class ArticleSelect(discord.ui.Select["ArticlesView"]):
    def __init__(self) -> None:
        super().__init__(placeholder="Open an article…", min_values=1, max_values=1, row=1,
                         options=[discord.SelectOption(label="…", value="0")])

    def fill(self, articles: list[Article], first_number: int) -> None:
        self.options = [
            discord.SelectOption(label=truncate(f"{n}. {a.title or a.id}", SELECT_LABEL), value=str(a.id),
                                 description=truncate(f"by {a.username}" if a.username else "article",
                                                      SELECT_DESCRIPTION))
            for n, a in enumerate(articles, start=first_number)
        ] or [discord.SelectOption(label="No articles", value="0")]
        self.disabled = not articles

    async def callback(self, interaction: Interaction) -> None:  # type: ignore[override]
        await send_article_card(interaction, int(self.values[0]))


async def send_article_card(interaction: Interaction, article_id: int) -> None:
    """The article's short card, for this channel's rules (and a picture only where the bot may attach)."""
    policy = await channel_policy(interaction)
    articles = interaction.client.services.articles
    card = await deferred(interaction, articles.card(article_id, policy,
                                                     with_picture=interaction.app_permissions.attach_files))
    file = picture_file(card.picture, "cover")
    if file is not None:
        await send(interaction, embed=article_card_embed(card), file=file)
    else:
        await send(interaction, embed=article_card_embed(card))


class ArticlesView(Paginator):
    def __init__(self, source: ArticlePages, owner_id: int) -> None:
        super().__init__(source, owner_id)
        self.pages = source
        self.select = ArticleSelect()
        self.add_item(self.select)

    async def before_page_change(self, index: int) -> None:
        self.select.fill(self.pages.current, index * PER_PAGE + 1)
