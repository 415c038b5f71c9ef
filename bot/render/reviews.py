"""Reviews as members see them: one review, a page of a model's reviews with the score, the top list.
Review text is escaped (no markdown tricks) and shown with mentions that never ping (messages carry
``allowed_mentions`` none)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import discord

from bot.render.cards import CARD_COLOUR, score_text
from bot.render.embeds import fit
from bot.render.text import escape, truncate

if TYPE_CHECKING:  # data types only
    from bot.catalog.cards import Score
    from bot.reviews.service import RankedModel, ReviewRow

VERDICT = {True: "👍 Recommends", False: "👎 Does not recommend"}
PERIOD_TITLES = {"week": "this week", "month": "this month", "all": "of all time"}


def _when(timestamp: float) -> str:
    return f"<t:{int(timestamp)}:R>"


def review_line(row: ReviewRow) -> str:
    text = escape(truncate(row.text, 900)) if row.text else "*(no text)*"
    on_hub = " · also on the hub" if row.hub_posted_at else ""
    return f"**#{row.id}** · <@{row.user_id}> · {VERDICT[row.recommended]} · {_when(row.updated_at)}{on_hub}\n{text}"


def review_embed(row: ReviewRow, model_name: str, hub_url: str) -> discord.Embed:
    """One review, as the server sees it."""
    embed = discord.Embed(title=f"Review of {escape(model_name, markdown=False)}", url=hub_url, colour=CARD_COLOUR,
                          description=review_line(row))
    embed.set_footer(text=f"Review #{row.id} · model {row.model_id} · version {row.model_version_id}")
    return fit(embed)


def reviews_page_embed(model_name: str, hub_url: str, score: Score, rows: Sequence[ReviewRow], *, page: int,
                       total: int, per_page: int) -> discord.Embed:
    pages = max(1, -(-total // per_page))
    embed = discord.Embed(title=f"Reviews of {escape(model_name, markdown=False)} in this server", url=hub_url,
                          colour=CARD_COLOUR)
    lines = [review_line(r) for r in rows]
    embed.description = "\n\n".join(lines) if lines else "No reviews here yet: be the first with `/review`."
    embed.add_field(name="This server", value=score_text(score))
    embed.set_footer(text=f"Page {page + 1} of {pages} · {total} review{'s' if total != 1 else ''} · newest first")
    return fit(embed)


def top_embed(period: str, ranked: Sequence[RankedModel], names: dict[int, str], hub_base_url: str,
              when: datetime | None = None) -> discord.Embed:
    embed = discord.Embed(title=f"Most recommended here {PERIOD_TITLES.get(period, period)}", colour=CARD_COLOUR,
                          timestamp=when or datetime.now(UTC))
    base = hub_base_url.rstrip("/")
    lines = []
    for n, r in enumerate(ranked, start=1):
        name = escape(truncate(names.get(r.model_id) or f"Model {r.model_id}", 80), markdown=False)
        total = r.up + r.down
        lines.append(f"**{n}.** [{name}]({base}/models/{r.model_id}) · 👍 {r.up} · 👎 {r.down} · "
                     f"{round(100 * r.up / total)}% of {total} · `/model {r.model_id}`")
    embed.description = "\n".join(lines) if lines else "No votes here in that period yet."
    embed.set_footer(text="Ranked by the lower bound of the 95% Wilson interval: a few votes weigh less than many")
    return fit(embed)
