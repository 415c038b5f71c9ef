"""Digests and articles as Discord embeds: the digest message, the /digest list, the /articles pages and
an article's card. All hub text is escaped; every embed goes through ``fit``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.hub.models import Article
from bot.render.cards import FOOTER_SEPARATOR
from bot.render.embeds import DESCRIPTION, TOTAL, choice_text, fit
from bot.render.html import excerpt
from bot.render.text import escape, plain_number, truncate

if TYPE_CHECKING:  # data types only: render does no I/O
    from bot.digests import ArticleCard, ArticleEntry, DigestContent, DigestRow, DigestRun
    from bot.media.previews import Preview

DIGEST_COLOUR = discord.Colour.from_rgb(232, 145, 45)
EXCERPT = 200  # characters of an article's text in a digest
CARD_EXCERPT = 500  # ... and on its card
TITLE = 120  # characters of an article's title in a list
DIGEST_PICTURE = "digest"
RUN_STATES = {"sent": "sent", "empty": "no articles in that period: nothing was sent",
              "missed": "missed", "dropped": "rejected by Discord", "planned": "waiting to be sent"}


def digest_footer(digest_id: int) -> str:
    """Every digest's footer starts with this; with the embed's timestamp (the period's end) it is how
    the bot recognises its own digest after a crash."""
    return f"Digest #{digest_id}"


def picture_file(picture: Preview | None, name: str = DIGEST_PICTURE) -> discord.File | None:
    if picture is None:
        return None
    extension = picture.filename.rsplit(".", 1)[-1]
    return discord.File(io.BytesIO(picture.data), filename=f"{name}.{extension}")


def _link_label(text: str, limit: int = TITLE) -> str:
    return escape(truncate(text, limit)).replace("[", "\\[").replace("]", "\\]")


def _byline(article: Article) -> str:
    parts = [f"by **{escape(truncate(article.username, 60))}**" if article.username else "by an unknown author"]
    if article.tags:
        parts.append(" · ".join(escape(truncate(t, 30)) for t in article.tags[:5]))
    return FOOTER_SEPARATOR.join(parts)


def digest_entry(number: int, entry: ArticleEntry) -> str:
    """``**1. [Title](url)**`` / by **author** · tags / excerpt."""
    article = entry.article
    lines = [f"**{number}. [{_link_label(article.title or f'Article {article.id}')}]({entry.url})**", _byline(article)]
    text = excerpt(entry.content, limit=EXCERPT, skip=article.title)
    if text:
        lines.append(escape(text))
    return "\n".join(lines)


def digest_title(content: DigestContent) -> str:
    period = "week" if content.digest.schedule == "weekly" else "day"
    count = len(content.entries)
    return f"📰 The {period}'s top article" if count == 1 else f"📰 The {period}'s top {count} articles"


def digest_embed(content: DigestContent) -> discord.Embed:
    """The digest: its articles, best first, each with linked title, author, tags and an excerpt; one
    cover collage; the footer and timestamp that mark it as this digest's for this period. Articles that
    would not fit in Discord's limits are left out whole, never cut in the middle."""
    footer = f"{digest_footer(content.digest.id)}{FOOTER_SEPARATOR}{content.period_label}"
    embed = discord.Embed(title=digest_title(content), colour=DIGEST_COLOUR, timestamp=content.window.end)
    embed.set_footer(text=footer)
    room = min(DESCRIPTION, TOTAL - len(embed) - 40)
    parts: list[str] = []
    for number, entry in enumerate(content.entries, start=1):
        part = digest_entry(number, entry)
        if len("\n\n".join([*parts, part])) > room:
            break
        parts.append(part)
    left = len(content.entries) - len(parts)
    if left:
        parts.append(f"…and {left} more that did not fit")
    embed.description = "\n\n".join(parts)
    if content.preview is not None:
        extension = content.preview.filename.rsplit(".", 1)[-1]
        embed.set_image(url=f"attachment://{DIGEST_PICTURE}.{extension}")
    return fit(embed)


def digest_matches(embed: discord.Embed, digest_id: int, period_end: datetime) -> bool:
    """Is this the embed of ``digest_id``'s digest for the period ending at ``period_end``? Exactly:
    ``Digest #1`` is not ``Digest #12``."""
    footer = (embed.footer.text or "").split(FOOTER_SEPARATOR, 1)[0]
    return footer == digest_footer(digest_id) and embed.timestamp is not None and \
        embed.timestamp == period_end


# ------------------------------------------------------------------ /digest list


def _when(moment: datetime | float | None) -> str:
    if moment is None:
        return "never"
    unix = moment.timestamp() if isinstance(moment, datetime) else moment
    return f"<t:{int(unix)}:R>"


def digest_choice(digest: DigestRow, channel_name: str | None, description: str) -> str:
    """A digest as an autocomplete choice: ``#3 → #news · daily at 09:00 UTC, top 5``."""
    return choice_text(f"#{digest.id} → #{channel_name or digest.channel_id} · {digest.state} · {description}")


def _message_link(run: DigestRun) -> str:
    return f"https://discord.com/channels/{run.guild_id}/{run.channel_id}/{run.message_id}"


def digest_line(digest: DigestRow, description: str, last: DigestRun | None, sent: DigestRun | None,
                next_time: datetime) -> str:
    """One digest in ``/digest list``: where, when, its state, and what became of its last period (sent,
    empty: nothing was sent, waiting, missed) with a link to its last digest."""
    icon = {"active": "🟢 active", "failing": "🟠 failing", "disabled": "🔴 disabled"}.get(digest.state, digest.state)
    lines = [f"**#{digest.id}** → <#{digest.channel_id}> · {icon}", escape(description)]
    if digest.state != "disabled":
        lines.append(f"next {_when(next_time)}")
    if last is not None:
        if last.state == "sent" and last.message_id:
            outcome = f"[sent]({_message_link(last)})"
        else:
            outcome = RUN_STATES.get(last.state, last.state)
            if last.state in ("planned", "missed", "dropped") and last.last_error:
                outcome += f" ({escape(truncate(last.last_error, 150))})"
        lines.append(f"last period, ended {_when(last.period_end)}: {outcome}")
    if sent is not None and sent.message_id and (last is None or sent.id != last.id):
        lines.append(f"[last digest]({_message_link(sent)}) {_when(sent.settled_at)}")
    if digest.state in ("failing", "disabled") and digest.last_error:
        lines.append(f"last error {_when(digest.last_error_at)}: {escape(truncate(digest.last_error, 200))}")
    return "\n".join(lines)


def digest_list_embeds(lines: Sequence[str], *, per_page: int = 6) -> list[discord.Embed]:
    if not lines:
        return [discord.Embed(title="Digests", description="No digests yet. Add one with `/digest add`.",
                              colour=DIGEST_COLOUR)]
    return [fit(discord.Embed(title=f"Digests ({len(lines)})", description="\n\n".join(lines[i:i + per_page]),
                              colour=DIGEST_COLOUR)) for i in range(0, len(lines), per_page)]


# ------------------------------------------------------------------ /articles


def articles_page_embed(articles: Sequence[Article], *, url_of: dict[int, str], first_number: int, page: int,
                        query: str | None, tag: str | None, note: str | None, more: bool) -> discord.Embed:
    what = " · ".join(x for x in (f"“{truncate(query, 60)}”" if query else None,
                                  f"tag {truncate(tag, 40)}" if tag else None) if x)
    title = f"Articles: {what}" if what else "The hub's newest articles"
    embed = discord.Embed(title=escape(title, markdown=False), colour=DIGEST_COLOUR)
    lines = []
    for number, article in enumerate(articles, start=first_number):
        when = f" · <t:{int(article.published_at.timestamp())}:d>" if article.published_at else ""
        label = _link_label(article.title or f"Article {article.id}", 90)
        lines.append(f"**{number}.** [{label}]({url_of[article.id]})\n{_byline(article)}{when}")
    if not lines:
        lines.append("No articles found." if page == 1 else "No more articles.")
    if note:
        lines.insert(0, f"*{escape(note)}*")
    embed.description = "\n\n".join(lines)
    embed.set_footer(text=f"Page {page}{' · more on the next page' if more else ''} · open one with the menu")
    return fit(embed)


def article_card_embed(card: ArticleCard) -> discord.Embed:
    """A short card: linked title, author, tags, date, stats, an excerpt, the cover (or placeholder)."""
    entry = card.entry
    article = entry.article
    embed = discord.Embed(title=escape(truncate(article.title or f"Article {article.id}", 256), markdown=False),
                          url=entry.url, colour=DIGEST_COLOUR)
    text = excerpt(entry.content, limit=CARD_EXCERPT, skip=article.title)
    embed.description = "\n".join(x for x in (_byline(article), escape(text)) if x)
    stats = article.stats
    embed.add_field(name="Reactions", value=f"👍 {plain_number(stats.likes)} · ❤️ {plain_number(stats.hearts)}")
    embed.add_field(name="Comments", value=plain_number(stats.comments))
    embed.add_field(name="Views", value=plain_number(stats.views))
    if article.published_at:
        embed.timestamp = article.published_at
    embed.set_footer(text=f"Article {article.id}")
    if card.picture is not None:
        extension = card.picture.filename.rsplit(".", 1)[-1]
        embed.set_image(url=f"attachment://cover.{extension}")
    return fit(embed)
