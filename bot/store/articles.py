"""Hub articles cached for digests and ``/articles``: list items (with their stats), details (with the
HTML body), how recently the hub's newest articles were read, and the article tags seen."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.hub.models import Article
from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class CachedArticle:
    article: Article
    fetched_at: float
    has_detail: bool


@dataclass(frozen=True, slots=True)
class ArticleRead:
    """The last complete read of the hub's newest articles in one variant (``pg``: ``nsfw=false``,
    ``all``: ``nsfw=true``): everything published since ``read_from`` was read, between
    ``started_at`` and ``finished_at``."""

    variant: str
    read_from: str
    started_at: float
    finished_at: float


class ArticleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put_articles(self, articles: Iterable[Article], *, fetched_at: float | None = None) -> None:
        """List items (no body). A detail fetched earlier is kept. Their tags join the vocabulary."""
        now = time.time() if fetched_at is None else fetched_at
        articles = list(articles)
        tags: dict[str, tuple[int | None, bool, int]] = {}
        for a in articles:
            for tag in a.tag_refs:
                _, _, seen = tags.get(tag.name.lower(), (None, False, 0))
                tags[tag.name.lower()] = (tag.id, tag.is_category, seen + 1)
        names = {t.name.lower(): t.name for a in articles for t in a.tag_refs}
        async with self.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO articles (id, title, username, published_at, nsfw_level, engagement, raw, fetched_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
                "username = excluded.username, published_at = excluded.published_at, "
                "nsfw_level = excluded.nsfw_level, engagement = excluded.engagement, raw = excluded.raw, "
                "fetched_at = excluded.fetched_at",
                [(a.id, a.title, a.username, _iso(a), a.level, a.stats.engagement,
                  json.dumps(dict(a.raw), ensure_ascii=False), now) for a in articles],
            )
            await conn.executemany(
                "INSERT INTO article_tags (name, id, is_category, seen, seen_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET id = coalesce(excluded.id, article_tags.id), "
                "is_category = excluded.is_category, seen = article_tags.seen + excluded.seen, "
                "seen_at = excluded.seen_at",
                [(names[key], tag_id, int(category), seen, now) for key, (tag_id, category, seen) in tags.items()],
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

    async def published_between(self, start_iso: str, end_iso: str, *, seen_since: float = 0.0,
                                limit: int = 5000) -> list[Article]:
        """List items published in [start, end) that were (re)read from the hub at ``seen_since`` or
        later (older rows may be of articles the hub no longer lists), most engaging first."""
        rows = await self.db.fetchall(
            "SELECT raw FROM articles WHERE published_at >= ? AND published_at < ? AND fetched_at >= ? "
            "ORDER BY engagement DESC, published_at DESC, id DESC LIMIT ?", (start_iso, end_iso, seen_since, limit))
        return [Article.from_json(json.loads(r["raw"])) for r in rows]

    async def newest(self, *, title: str | None = None, tag: str | None = None, limit: int = 100) -> list[Article]:
        """The newest cached list items, optionally whose title contains ``title`` and that carry the
        tag ``tag`` (for ``/articles`` while the hub is not answering)."""
        sql = "SELECT raw FROM articles WHERE published_at IS NOT NULL"
        params: list[object] = []
        if title:
            sql += " AND instr(lower(title), lower(?)) > 0"
            params.append(title)
        if tag:
            sql += " AND EXISTS (SELECT 1 FROM json_each(articles.raw, '$.tags') t " \
                   "WHERE lower(coalesce(json_extract(t.value, '$.name'), t.value)) = lower(?))"
            params.append(tag)
        sql += " ORDER BY published_at DESC, id DESC LIMIT ?"
        params.append(limit)
        return [Article.from_json(json.loads(r["raw"])) for r in await self.db.fetchall(sql, params)]

    # ------------------------------------------------------------------ reads of the hub's list

    async def last_read(self, variant: str) -> ArticleRead | None:
        row = await self.db.fetchone("SELECT * FROM article_reads WHERE variant = ?", (variant,))
        if row is None:
            return None
        return ArticleRead(row["variant"], row["read_from"], row["started_at"], row["finished_at"])

    async def record_read(self, read: ArticleRead) -> None:
        await self.db.execute(
            "INSERT INTO article_reads (variant, read_from, started_at, finished_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (variant) DO UPDATE SET read_from = excluded.read_from, started_at = excluded.started_at, "
            "finished_at = excluded.finished_at", (read.variant, read.read_from, read.started_at, read.finished_at))

    # ------------------------------------------------------------------ tags

    async def tag_names(self, text: str, *, limit: int = 25) -> list[str]:
        """Article tags seen, containing ``text`` (those starting with it first), categories and the
        most common first."""
        rows = await self.db.fetchall(
            "SELECT name FROM article_tags WHERE instr(lower(name), lower(?)) > 0 "
            "ORDER BY instr(lower(name), lower(?)) != 1, is_category DESC, seen DESC, name LIMIT ?",
            (text, text, limit))
        return [r["name"] for r in rows]

    async def tag_id(self, name: str) -> int | None:
        return await self.db.fetchval("SELECT id FROM article_tags WHERE name = ?", (name.strip(),))

    async def tag_count(self) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM article_tags") or 0)


def iso_utc(moment: datetime) -> str:
    """One fixed ISO-8601 form (UTC, microseconds, ``Z``), so that stored dates compare as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _iso(article: Article) -> str | None:
    return iso_utc(article.published_at) if article.published_at is not None else None
