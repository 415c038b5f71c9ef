"""Feed posts' headings, the summary of overflow posts, and the /feed list pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.hub.models import Model, ModelVersion
from bot.render.cards import CARD_COLOUR, FOOTER_SEPARATOR
from bot.render.embeds import choice_text, fit
from bot.render.text import escape, truncate

if TYPE_CHECKING:  # a data type only: render does no I/O
    from bot.feeds import SubscriptionRow

STATE_ICONS = {"active": "🟢 active", "paused": "⏸ paused", "failing": "🟠 failing", "disabled": "🔴 disabled"}


def feed_footer(subscription_id: int) -> str:
    """Every feed post's footer starts with this; the bot recognises its own posts by it."""
    return f"Feed #{subscription_id}"


def feed_choice(sub: SubscriptionRow, channel_name: str | None, description: str) -> str:
    """A feed as an autocomplete choice: ``#3 → #releases · active · types LORA``."""
    return choice_text(f"#{sub.id} → #{channel_name or sub.channel_id} · {sub.state} · {description}")


def post_heading(kind: str, model: Model, version: ModelVersion | None) -> str:
    if kind == "new_version" and version is not None:
        return f"🆕 **New version** {escape(version.name or str(version.id))}"
    return "🆕 **New model**"


def summary_embed(subscription_id: int, items: Sequence[tuple[str, str | None, str | None]], marker_url: str, *,
                  total: int | None = None) -> discord.Embed:
    """``items``: (model name, version name, hub url) of (the first of ``total``) posts that did not fit
    in one poll."""
    total = len(items) if total is None else total
    embed = discord.Embed(title=f"{total} more new release{'s' if total != 1 else ''}", url=marker_url,
                          colour=CARD_COLOUR)
    lines = []
    for name, version, url in items:
        label = escape(truncate(f"{name} — {version}" if version else name, 90)).replace("]", "\\]")
        lines.append(f"• [{label}]({url})" if url else f"• {label}")
    if total > len(items):
        lines.append(f"…and {total - len(items)} more")
    embed.description = "\n".join(lines)
    embed.set_footer(text=f"{feed_footer(subscription_id)}{FOOTER_SEPARATOR}more than this feed posts at once")
    return fit(embed)


def _when(unix: float | None) -> str:
    return f"<t:{int(unix)}:R>" if unix else "never"


def feed_line(sub: SubscriptionRow, describe: str, last_post_url: str | None) -> str:
    lines = [f"**#{sub.id}** → <#{sub.channel_id}> · {STATE_ICONS.get(sub.state, sub.state)}",
             escape(describe)]
    post = f"last post {_when(sub.last_post_at)}"
    if last_post_url and sub.last_post_at:
        post = f"[last post]({last_post_url}) {_when(sub.last_post_at)}"
    lines.append(post)
    if sub.state in ("failing", "disabled") and sub.last_error:
        lines.append(f"last error {_when(sub.last_error_at)}: {escape(truncate(sub.last_error, 200))}")
    return "\n".join(lines)


def feed_list_embeds(lines: Sequence[str], *, per_page: int = 6) -> list[discord.Embed]:
    if not lines:
        embed = discord.Embed(title="Feeds", description="No feeds yet. Add one with `/feed add`.",
                              colour=CARD_COLOUR)
        return [embed]
    pages = []
    for start in range(0, len(lines), per_page):
        embed = discord.Embed(title=f"Feeds ({len(lines)})", description="\n\n".join(lines[start:start + per_page]),
                              colour=CARD_COLOUR)
        pages.append(fit(embed))
    return pages
