"""Hub articles for digests and ``/articles``: a period's articles with fresh stats, their ranking,
their bodies (cached), their covers under a channel's rating rules, and article tags.

The hub lists articles newest first with cursor paging only (hub-api.md §7). A period is read from the
top down to its start; the answer is cached in SQLite, and a read of the same variant done within the
cache's time to live (the hub's own edge cache is five minutes) serves every digest due at the same time,
so ten servers with a digest at 09:00 cost the hub one read. Articles come in two variants: ``nsfw=false``
lists only PG articles, ``nsfw=true`` every level; the bot asks for the second only for channels that
may show more than PG, and always filters by the channel's rules itself.

Article requests share the hub's articles rate limit (60 a minute per IP, 120 with a key, their own
bucket): the hub client closes that family's gate on a 429 and callers fail fast; a digest then waits
(``bot.digests.service``) and ``/articles`` says so or serves the cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.errors import UserError
from bot.core.rating import ChannelPolicy, Rating, allowed_mask, may_show
from bot.hub.client import HubClient
from bot.hub.errors import HubError, HubNotFound, HubRateLimited, HubUnavailable
from bot.hub.models import Article
from bot.media.previews import MAX_TILES, Preview, PreviewImage, PreviewService, cdn_image_url
from bot.store import Store
from bot.store.articles import ArticleRead, iso_utc

log = logging.getLogger(__name__)

PAGE_SIZE = 100  # the hub's largest page of articles
MAX_PAGES = 20  # per read of a period: 2,000 articles
DETAIL_TTL = 7 * 86400.0  # an article body is fetched again after this long (or when the article changed)
LIST_PAGE = 10  # /articles: articles a page
LIST_FETCH = 30  # /articles: articles asked of the hub at once
LEARN_INTERVAL = 60.0  # seconds between background reads for tag autocomplete (while none is known)


@dataclass(frozen=True, slots=True)
class ArticleEntry:
    """One article as a digest or a card shows it: the list item (stats, tags, cover), the body's HTML
    (from the detail), its hub page, and its cover where the channel may show it."""

    article: Article
    content: str | None
    url: str
    cover: PreviewImage | None


def engagement_order(articles: Iterable[Article]) -> list[Article]:
    """Most engaging first (``ArticleStats.engagement``: likes + hearts + 2 × comments + views / 100);
    equal scores: the newer first."""
    def key(a: Article) -> tuple[float, float, int]:
        published = a.published_at.timestamp() if a.published_at else 0.0
        return -a.stats.engagement, -published, -a.id

    return sorted(articles, key=key)


def allowed_here(article: Article, policy: ChannelPolicy) -> bool:
    """May this article be listed in the channel at all? Its own level (the OR of its content's
    levels) must be within the channel's limit: unlike a model, whose images are filtered one by one,
    an article's text cannot be shown in part."""
    return may_show(article.level, age_restricted=policy.age_restricted, max_rating=policy.max_rating)


def has_tag(article: Article, tags: Sequence[str]) -> bool:
    """Does the article carry any of ``tags`` (names, any case)? No tags: every article."""
    if not tags:
        return True
    wanted = {t.lower() for t in tags}
    return any(t.lower() in wanted for t in article.tags)


class ArticleService:
    def __init__(self, hub: HubClient, store: Store, previews: PreviewService, *, hub_base_url: str,
                 image_base_url: str, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.store = store
        self.previews = previews
        self.hub_base_url = hub_base_url.rstrip("/")
        self.image_base_url = image_base_url.rstrip("/")
        self.ttl = ttl_seconds
        self.clock = clock
        self._learning: asyncio.Task[None] | None = None
        self._learned_at = -LEARN_INTERVAL

    def url_of(self, article_id: int) -> str:
        """The article's page on the hub (the configured hub, as model links)."""
        return f"{self.hub_base_url}/articles/{article_id}"

    @staticmethod
    def wants_nsfw(policy: ChannelPolicy) -> bool:
        """Ask the hub for every level (``nsfw=true``) only where more than PG may be shown: without it
        the hub lists PG articles only."""
        allowed = allowed_mask(age_restricted=policy.age_restricted, max_rating=policy.max_rating)
        return bool(allowed & ~int(Rating.PG))

    def paused_for(self) -> float:
        """Seconds until the hub's articles rate limit lets requests through again (0: now)."""
        return self.hub.paused_for("/articles")[0]

    # ------------------------------------------------------------------ a period's articles

    async def period(self, start: datetime, end: datetime, *, nsfw: bool) -> list[Article]:
        """The articles published in [start, end), with their current stats. Raises the hub's errors
        (``HubRateLimited``, ``HubUnavailable``...) when the list cannot be read."""
        now = self.clock()
        read = await self._fresh_read("all", start, now)
        if read is None and not nsfw:
            read = await self._fresh_read("pg", start, now)
        if read is None:
            read = await self._read("all" if nsfw else "pg", start, nsfw=nsfw)
        return await self.store.articles.published_between(iso_utc(start), iso_utc(end), seen_since=read.started_at)

    async def _fresh_read(self, variant: str, start: datetime, now: float) -> ArticleRead | None:
        """A read of this variant that covers ``start`` and is recent enough to serve again."""
        read = await self.store.articles.last_read(variant)
        if read is not None and read.read_from <= iso_utc(start) and read.started_at >= now - self.ttl:
            return read
        return None

    async def _read(self, variant: str, since: datetime, *, nsfw: bool) -> ArticleRead:
        """Page the hub's newest articles down to ``since`` (cursor paging), caching every page."""
        started = self.clock()
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.hub.list_articles(sort="Newest", nsfw=nsfw, cursor=cursor, limit=PAGE_SIZE)
            await self.store.articles.put_articles(page.items, fetched_at=started)
            dates = [a.published_at for a in page.items if a.published_at is not None]
            if not page.next_cursor or page.next_cursor == cursor or (dates and min(dates) < since):
                break
            cursor = page.next_cursor
        else:
            log.warning("articles: more than %d articles since %s; the oldest were not read",
                        MAX_PAGES * PAGE_SIZE, iso_utc(since))
        read = ArticleRead(variant, iso_utc(since), started, self.clock())
        await self.store.articles.record_read(read)
        return read

    # ------------------------------------------------------------------ bodies and covers

    async def detail(self, article: Article) -> Article | None:
        """The article with its body: from the cache while it is fresh and the article unchanged, else
        from the hub (then cached). None: the hub no longer has it."""
        cached = await self.store.articles.get(article.id)
        if cached is not None and cached.has_detail and cached.fetched_at >= self.clock() - DETAIL_TTL and \
                (article.updated_at is None or cached.article.updated_at == article.updated_at):
            return cached.article
        try:
            detail = await self.hub.get_article(article.id)
        except HubNotFound:
            return None
        await self.store.articles.put_detail(detail, fetched_at=self.clock())
        return detail

    def cover_of(self, article: Article, policy: ChannelPolicy) -> PreviewImage | None:
        """The article's cover image, if this channel may show it (its own rating, checked alone)."""
        cover = article.cover
        if cover is None or (cover.type or "image") != "image":
            return None
        if not may_show(cover.level, age_restricted=policy.age_restricted, max_rating=policy.max_rating):
            return None
        url = cdn_image_url(cover.url, self.image_base_url, name=cover.id)
        if url is None:
            return None
        return PreviewImage(url=url, width=cover.width, height=cover.height, blurhash=cover.blurhash)

    async def entries(self, ranked: Sequence[Article], policy: ChannelPolicy, size: int) -> list[ArticleEntry]:
        """The first ``size`` of ``ranked`` that the hub still has and the channel may show, with
        their bodies."""
        out: list[ArticleEntry] = []
        for article in ranked:
            if len(out) >= size:
                break
            detail = await self.detail(article)
            if detail is None:
                continue
            if not allowed_here(detail, policy):  # the detail knows better (re-rated since it was listed)
                continue
            out.append(ArticleEntry(article, detail.content, self.url_of(article.id), self.cover_of(article, policy)))
        return out

    async def collage(self, entries: Sequence[ArticleEntry]) -> Preview | None:
        """One picture of the first covers that may be shown (the media code of model previews)."""
        covers = [e.cover for e in entries if e.cover is not None][:MAX_TILES]
        return await self.previews.collage(covers) if covers else None

    async def cover_picture(self, article: Article, policy: ChannelPolicy) -> Preview | None:
        """An article card's picture: its cover where allowed, else a BlurHash placeholder (colours
        only; never of a Blocked cover), else none."""
        cover = self.cover_of(article, policy)
        if cover is not None:
            picture = await self.previews.collage([cover])
            if picture is not None:
                return picture
        if article.cover is not None and article.cover.blurhash and not article.cover.level & Rating.BLOCKED:
            return await self.previews.placeholder(article.cover.blurhash, article.cover.width, article.cover.height)
        return None

    # ------------------------------------------------------------------ /articles

    def browse(self, policy: ChannelPolicy, *, query: str | None = None, tag: str | None = None) -> ArticleResults:
        return ArticleResults(self, policy, query=(query or "").strip()[:200] or None,
                              tag=(tag or "").strip()[:100] or None)

    async def card(self, article_id: int, policy: ChannelPolicy, *, with_picture: bool = True) -> ArticleCard:
        """One article for a card: its list item and body (the detail), under the channel's rules."""
        cached = await self.store.articles.get(article_id)
        listed = cached.article if cached is not None else None
        if listed is not None:
            detail = await self.detail(listed)
        else:
            try:
                detail = await self.hub.get_article(article_id)
            except HubNotFound:
                detail = None
            else:
                await self.store.articles.put_detail(detail, fetched_at=self.clock())
        if detail is None:
            raise UserError(f"The hub has no article {article_id} (any more).")
        article = listed or detail
        if not allowed_here(article, policy) or not allowed_here(detail, policy):
            raise UserError("That article is rated above what this channel may show.")
        entry = ArticleEntry(article, detail.content, self.url_of(article.id), self.cover_of(article, policy))
        picture = await self.cover_picture(article, policy) if with_picture else None
        return ArticleCard(entry, picture)

    async def tag_choices(self, text: str) -> list[str]:
        """Article tags the bot has seen on the hub's articles (autocomplete: never waits for the hub).
        While none is known (a fresh install), the hub's newest articles are read in the background,
        at most once a minute, so that the next keystrokes find their tags."""
        names = await self.store.articles.tag_names(text.strip(), limit=25)
        if not names and not await self.store.articles.tag_count():
            self._learn_tags_soon()
        return names

    def _learn_tags_soon(self) -> None:
        now = time.monotonic()
        if (self._learning is not None and not self._learning.done()) or now - self._learned_at < LEARN_INTERVAL:
            return
        self._learned_at = now

        async def learn() -> None:
            try:
                # PG articles only: tag names are offered in every channel
                page = await self.hub.list_articles(sort="Newest", nsfw=False, limit=PAGE_SIZE)
                await self.store.articles.put_articles(page.items, fetched_at=self.clock())
            except HubError as exc:
                log.info("articles: could not read the newest articles for their tags: %s", exc)

        self._learning = asyncio.get_running_loop().create_task(learn(), name="article tags")

    async def aclose(self) -> None:
        if self._learning is not None and not self._learning.done():
            self._learning.cancel()
            await asyncio.gather(self._learning, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class ArticleCard:
    entry: ArticleEntry
    picture: Preview | None


class ArticleResults:
    """``/articles``: the hub's newest (or matching) articles, read a few pages ahead with its cursor,
    filtered by the channel's rules; the cache when the hub is not answering."""

    def __init__(self, service: ArticleService, policy: ChannelPolicy, *, query: str | None, tag: str | None) -> None:
        self.service = service
        self.policy = policy
        self.query = query
        self.tag = tag
        self.articles: list[Article] = []
        self.cursor: str | None = None
        self.exhausted = False
        self.note: str | None = None
        self._tag_ids: tuple[int, ...] | None = None

    async def _tag_filter(self) -> tuple[int, ...]:
        if self.tag is None:
            return ()
        if self._tag_ids is None:
            tag_id = await self.service.store.articles.tag_id(self.tag)
            if tag_id is None:
                raise UserError(f"No article tag “{self.tag[:60]}” is known. Pick one from the suggestions.")
            self._tag_ids = (tag_id,)
        return self._tag_ids

    async def fetch_more(self) -> None:
        if self.exhausted:
            return
        tag_ids = await self._tag_filter()
        try:
            page = await self.service.hub.list_articles(
                query=self.query, sort="Newest", nsfw=self.service.wants_nsfw(self.policy), cursor=self.cursor,
                limit=LIST_FETCH, tag_ids=tag_ids)
        except (HubRateLimited, HubUnavailable) as exc:
            if self.articles or self.cursor:
                raise
            await self._from_cache(exc)
            return
        await self.service.store.articles.put_articles(page.items, fetched_at=self.service.clock())
        self.articles += [a for a in page.items if allowed_here(a, self.policy)]
        if not page.next_cursor or page.next_cursor == self.cursor:
            self.exhausted = True
        self.cursor = page.next_cursor

    async def _from_cache(self, error: Exception) -> None:
        cached = await self.service.store.articles.newest(title=self.query, tag=self.tag, limit=100)
        self.articles = [a for a in cached if allowed_here(a, self.policy)]
        self.exhausted = True
        wait = self.service.paused_for()
        self.note = ("The hub is not answering right now" + (f" (try again in {int(wait) + 1} s)" if wait else "")
                     + ": these are the articles the bot has cached.")
        log.info("articles: serving the cache: %s", error)

    async def page(self, index: int) -> list[Article] | None:
        """The articles of page ``index`` (0-based); None past the end."""
        want = (index + 1) * LIST_PAGE
        rounds = 0
        while len(self.articles) < want and not self.exhausted and rounds < 5:  # all filtered out: a few more
            await self.fetch_more()
            rounds += 1
        chunk = self.articles[index * LIST_PAGE:want]
        return chunk or (None if index else [])

    @property
    def known_pages(self) -> int | None:
        if not self.exhausted:
            return None
        return max(1, -(-len(self.articles) // LIST_PAGE))

    def more_after(self, index: int) -> bool:
        return not self.exhausted or len(self.articles) > (index + 1) * LIST_PAGE
