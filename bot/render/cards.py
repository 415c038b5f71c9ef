"""Model cards and search result pages as embeds, views of link buttons, licence terms in words."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.hub.models import Model, ModelFile, ModelVersion
from bot.render.embeds import fit
from bot.render.html import html_to_markdown
from bot.render.text import escape, plain_number, size_text, truncate

if TYPE_CHECKING:  # a data type only: render does no I/O and imports no service at run time
    from bot.catalog.cards import ModelCard, Score

CARD_COLOUR = discord.Colour.from_rgb(31, 126, 206)
FOOTER_SEPARATOR = " · "  # between the parts of a card's footer (feed posts are recognised by the first part)
PREVIEW_FILENAME = "preview"

_COMMERCIAL = {
    "Image": "sell generated images",
    "RentCivit": "use on the hub's generator",
    "Rent": "use on generation services",
    "Sell": "sell the model or merges",
}


def licence_text(model: Model) -> str:
    """The model's permissions in words."""
    parts = []
    if model.allow_no_credit is False:
        parts.append("credit the creator")
    elif model.allow_no_credit:
        parts.append("no credit needed")
    uses = [_COMMERCIAL[u] for u in ("Image", "RentCivit", "Rent", "Sell") if u in model.allow_commercial_use]
    parts.append("commercial: " + ", ".join(uses) if uses else "no commercial use")
    if model.allow_derivatives is False:
        parts.append("no sharing merges")
    elif model.allow_derivatives:
        parts.append("merges allowed" + (" under other terms" if model.allow_different_license
                                         else " (same permissions)" if model.allow_different_license is False else ""))
    return "; ".join(parts).capitalize() if parts else "Not stated"


def _code(text: str) -> str:
    """Inline code that cannot be broken out of (backticks replaced)."""
    return "`" + text.replace("`", "ˋ").replace("\n", " ")[:200] + "`"


def _date(version: ModelVersion) -> str:
    return f"<t:{int(version.date.timestamp())}:d>" if version.date else "unpublished"


def file_text(f: ModelFile) -> str:
    details = [d for d in (f.format, size_text(f.size_bytes) if f.size_kb is not None else None, f.fp, f.size) if d]
    lines = [f"{escape(f.name or 'file')}" + (f" — {', '.join(details)}" if details else "")]
    for kind in ("AutoV2", "SHA256"):
        if kind in f.hashes:
            lines.append(f"{kind} {_code(f.hashes[kind])}")
    return "\n".join(lines)


def versions_text(model: Model, shown: ModelVersion | None, *, limit: int = 5) -> str:
    ordered = sorted(model.versions, key=lambda v: (v.date is not None, v.date, v.id), reverse=True)
    lines = []
    for v in ordered[:limit]:
        marker = "▸ " if shown is not None and v.id == shown.id else ""
        base = f" · {escape(v.base_model)}" if v.base_model else ""
        lines.append(f"{marker}**{escape(v.name or str(v.id))}**{base} · {_date(v)}")
    if len(ordered) > limit:
        lines.append(f"…and {len(ordered) - limit} more")
    return "\n".join(lines)


def stats_text(model: Model) -> str:
    s = model.stats
    parts = [f"⬇ {plain_number(s.download_count)}"]
    if s.thumbs_up is not None:
        parts.append(f"👍 {plain_number(s.thumbs_up)}")
    if s.thumbs_down is not None:
        parts.append(f"👎 {plain_number(s.thumbs_down)}")
    return " · ".join(parts)


def model_card_embed(card: ModelCard, *, compact: bool = False, heading: str | None = None,
                     footer_prefix: str | None = None) -> discord.Embed:
    model, version = card.model, card.version
    embed = discord.Embed(title=escape(model.name or f"Model {model.id}", markdown=False), url=card.hub_url,
                          colour=CARD_COLOUR)
    description = html_to_markdown(model.description, limit=350 if compact else 900)
    if heading:
        description = f"{heading}\n\n{description}" if description else heading
    embed.description = description or None
    embed.add_field(name="Type", value=escape(model.type or "unknown"))
    base = version.base_model if version and version.base_model else ", ".join(model.base_models[:3])
    embed.add_field(name="Base model", value=escape(base or "unknown"))
    embed.add_field(name="Creator", value=escape(model.creator_name or "unknown"))
    if not compact:
        embed.add_field(name="Hub stats", value=stats_text(model))
        if card.score is not None:
            embed.add_field(name="This server", value=score_text(card.score))
        if model.tags:
            embed.add_field(name="Tags", value=", ".join(escape(t) for t in model.tags[:12]), inline=False)
        if model.versions:
            embed.add_field(name="Versions", value=versions_text(model, version), inline=False)
    else:
        if version is not None:
            embed.add_field(name="Version", value=f"**{escape(version.name or str(version.id))}** · {_date(version)}")
        if card.score is not None:
            embed.add_field(name="This server", value=score_text(card.score))
    if version is not None and version.trained_words:
        words = ", ".join(_code(w) for w in version.trained_words[:10 if not compact else 5])
        embed.add_field(name="Trigger words", value=words, inline=False)
    primary = version.primary_file if version else None
    if primary is not None:
        embed.add_field(name="Primary file", value=file_text(primary), inline=False)
    if not compact:
        embed.add_field(name="Licence", value=licence_text(model), inline=False)
    if card.preview is not None:
        embed.set_image(url=f"attachment://{card.preview.filename}")
    footer = [footer_prefix] if footer_prefix else []
    footer.append(f"Model {model.id}" + (f" · version {version.id}" if version else ""))
    if card.withheld:
        footer.append(f"{card.withheld} image{'s' if card.withheld != 1 else ''} hidden by this channel's rating")
    if card.preview is not None and card.preview.placeholder:
        footer.append("blurred placeholder")
    if card.stale_note:
        footer.append(card.stale_note)
    embed.set_footer(text=FOOTER_SEPARATOR.join(footer))
    return fit(embed)


def preview_file(card: ModelCard) -> discord.File | None:
    if card.preview is None:
        return None
    return discord.File(io.BytesIO(card.preview.data), filename=card.preview.filename)


def search_page_embed(query_text: str, models: Sequence[Model], *, page: int, first_number: int,
                      hub_base_url: str, note: str | None = None, more: bool = False) -> discord.Embed:
    title = f"Models matching “{escape(truncate(query_text, 80), markdown=False)}”" if query_text else "Models"
    embed = discord.Embed(title=title, colour=CARD_COLOUR)
    lines = []
    for number, model in enumerate(models, start=first_number):
        latest = model.latest_version
        base = latest.base_model if latest and latest.base_model else next(iter(model.base_models), None)
        meta = [escape(model.type or "?")]
        if base:
            meta.append(escape(base))
        if model.creator_name:
            meta.append(f"by {escape(model.creator_name)}")
        meta.append(stats_text(model))
        name = escape(truncate(model.name or f"Model {model.id}", 90)).replace("]", "\\]")
        url = f"{hub_base_url.rstrip('/')}/models/{model.id}"
        lines.append(f"**{number}.** [{name}]({url})\n{' · '.join(meta)}")
    embed.description = "\n".join(lines) if lines else "Nothing (more) found."
    footer = [f"Page {page}" + (" · more on the next page" if more else "")]
    if note:
        footer.append(note)
    embed.set_footer(text=" · ".join(footer))
    return fit(embed)


def hit_label(name: str | None, type_: str | None, creator: str | None) -> str:
    """A model as an autocomplete choice: ``Name · LORA · by creator``."""
    return " · ".join(x for x in (name, type_, creator and f"by {creator}") if x)


def score_text(score: Score) -> str:
    """This server's votes: ``👍 3 · 👎 1 · 75% recommend``, or that there are none yet."""
    if not score.total:
        return "no votes here yet"
    return f"👍 {score.up} · 👎 {score.down} · {round(100 * score.up / score.total)}% recommend"

