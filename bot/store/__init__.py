"""SQLite storage: one connection module, numbered migrations, one module per aggregate."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.store.articles import ArticleStore
from bot.store.catalog import CatalogStore
from bot.store.db import Database
from bot.store.digests import DigestStore
from bot.store.directory import DirectoryStore
from bot.store.feeds import FeedStore
from bot.store.hub_links import HubLinkStore
from bot.store.intake import IntakeStore
from bot.store.previews import PreviewStore
from bot.store.reviews import ReviewStore
from bot.store.settings import GuildSettingsStore
from bot.store.votes import VoteStore


@dataclass(frozen=True, slots=True)
class Store:
    """The database and its aggregate repositories."""

    db: Database
    catalog: CatalogStore
    directory: DirectoryStore
    articles: ArticleStore
    digests: DigestStore
    votes: VoteStore
    settings: GuildSettingsStore
    feeds: FeedStore
    previews: PreviewStore
    reviews: ReviewStore
    hub_links: HubLinkStore
    intake: IntakeStore

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        db = await Database.open(path)
        return cls(db=db, catalog=CatalogStore(db), directory=DirectoryStore(db), articles=ArticleStore(db),
                   digests=DigestStore(db), votes=VoteStore(db), settings=GuildSettingsStore(db), feeds=FeedStore(db),
                   previews=PreviewStore(db), reviews=ReviewStore(db), hub_links=HubLinkStore(db),
                   intake=IntakeStore(db))

    async def close(self) -> None:
        await self.db.close()


__all__ = ["ArticleStore", "CatalogStore", "Database", "DigestStore", "DirectoryStore", "FeedStore",
           "GuildSettingsStore", "HubLinkStore", "IntakeStore", "PreviewStore", "ReviewStore", "Store", "VoteStore"]
