"""Discord's embed and message limits, enforced in ONE place, by truncation with an ellipsis.

Every embed the bot sends goes through ``fit`` (the bot sends one embed per message), so a 400 from
Discord for a too-long embed cannot happen. The numbers are Discord's (developers/resources/message.mdx).
"""

from __future__ import annotations

import discord

from bot.render.text import truncate

TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
TOTAL = 6000
CONTENT = 2000
SELECT_OPTIONS = 25
SELECT_LABEL = 100
SELECT_DESCRIPTION = 100
BUTTON_LABEL = 80
CUSTOM_ID = 100
AUTOCOMPLETE_CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100
DESCRIPTION_FLOOR = 600  # trimmed to this before fields are dropped


def fit(embed: discord.Embed, *, budget: int = TOTAL) -> discord.Embed:
    """Truncate every part of ``embed`` to Discord's limits, then trim (description first, then
    fields from the end) until the whole embed fits in ``budget`` characters. Returns ``embed``."""
    if embed.title:
        embed.title = truncate(embed.title, TITLE)
    if embed.description:
        embed.description = truncate(embed.description, DESCRIPTION)
    if embed.author and embed.author.name:
        embed.set_author(name=truncate(embed.author.name, AUTHOR), url=embed.author.url,
                         icon_url=embed.author.icon_url)
    if embed.footer and embed.footer.text:
        embed.set_footer(text=truncate(embed.footer.text, FOOTER), icon_url=embed.footer.icon_url)
    fields = embed.fields[:FIELDS]
    embed.clear_fields()
    for f in fields:
        embed.add_field(name=truncate(f.name or "\u200b", FIELD_NAME) or "\u200b",
                        value=truncate(f.value or "\u200b", FIELD_VALUE) or "\u200b", inline=f.inline)

    # Trim order: the description down to a floor, then fields from the end, then the rest.
    excess = len(embed) - budget
    if excess > 0 and embed.description and len(embed.description) > DESCRIPTION_FLOOR:
        keep = max(DESCRIPTION_FLOOR, len(embed.description) - excess)
        embed.description = truncate(embed.description, keep)
        excess = len(embed) - budget
    while excess > 0 and embed.fields:
        last = embed.fields[-1]
        room = len(last.value or "") - excess
        if room >= 16:
            embed.set_field_at(len(embed.fields) - 1, name=last.name, value=truncate(last.value, room),
                               inline=last.inline)
        else:
            embed.remove_field(len(embed.fields) - 1)
        excess = len(embed) - budget
    if excess > 0 and embed.description:
        embed.description = truncate(embed.description, max(0, len(embed.description) - excess)) or None
        excess = len(embed) - budget
    if excess > 0 and embed.footer and embed.footer.text:
        embed.set_footer(text=truncate(embed.footer.text, max(0, len(embed.footer.text) - excess)) or None,
                         icon_url=embed.footer.icon_url)
        excess = len(embed) - budget
    if excess > 0 and embed.author and embed.author.name:
        name = truncate(embed.author.name, max(0, len(embed.author.name) - excess))
        if name:
            embed.set_author(name=name, url=embed.author.url, icon_url=embed.author.icon_url)
        else:
            embed.remove_author()
        excess = len(embed) - budget
    if excess > 0 and embed.title:
        embed.title = truncate(embed.title, max(1, len(embed.title) - excess))
    return embed


def content(text: str | None) -> str | None:
    """Message content within 2000 characters."""
    return truncate(text, CONTENT) if text else text


def choice_text(text: str) -> str:
    """An autocomplete choice name or value (100 characters)."""
    return truncate(text, CHOICE_NAME)
