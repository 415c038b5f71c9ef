"""Hub articles cached for digests and ``/articles``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from bot.hub.models import Article
from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class CachedArticle:
    article: Article
    fetched_at: float
    has_detail: bool


class ArticleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put_articles(self, articles: Iterable[Article], *, fetched_at: float | None = None) -> None:
        """List items (no body). A detail fetched earlier is kept."""
        now = time.time() if fetched_at is None else fetched_at
        await self.db.executemany(
            "INSERT INTO articles (id, title, username, published_at, nsfw_level, engagement, raw, fetched_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
            "username = excluded.username, published_at = excluded.published_at, "
            "nsfw_level = excluded.nsfw_level, engagement = excluded.engagement, raw = excluded.raw, "
            "fetched_at = excluded.fetched_at",
            [(a.id, a.title, a.username, _iso(a), a.level, a.stats.engagement,
              json.dumps(dict(a.raw), ensure_ascii=False), now) for a in articles],
        )

    async def put_detail(self, article: Article, *, fetched_at: float | None = None) -> None:
        now = time.time() if fetched_at is None else fetched_at
        raw = json.dumps(dict(article.raw), ensure_ascii=False)
        await self.db.execute(
            "INSERT INTO articles (id, title, username, published_at, nsfw_level, engagement, raw, fetched_at, "
            "detail_raw, detail_fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
            "SET detail_raw = excluded.detail_raw, detail_fetched_at = excluded.detail_fetched_at",
            (article.id, article.title, article.username, _iso(article), article.level,
             article.stats.engagement, raw, now, raw, now),
        )

    async def get(self, article_id: int) -> CachedArticle | None:
        row = await self.db.fetchone(
            "SELECT raw, detail_raw, fetched_at, detail_fetched_at FROM articles WHERE id = ?", (article_id,))
        if row is None:
            return None
        if row["detail_raw"] is not None:
            return CachedArticle(Article.from_json(json.loads(row["detail_raw"])), row["detail_fetched_at"], True)
        return CachedArticle(Article.from_json(json.loads(row["raw"])), row["fetched_at"], False)

    async def published_between(self, start_iso: str, end_iso: str, *, limit: int = 100) -> list[CachedArticle]:
        rows = await self.db.fetchall(
            "SELECT raw, fetched_at FROM articles WHERE published_at >= ? AND published_at < ? "
            "ORDER BY engagement DESC, id LIMIT ?", (start_iso, end_iso, limit))
        return [CachedArticle(Article.from_json(json.loads(r["raw"])), r["fetched_at"], False) for r in rows]


def _iso(article: Article) -> str | None:
    if article.published_at is None:
        return None
    return article.published_at.isoformat().replace("+00:00", "Z")
