"""Text from the hub (names, descriptions, usernames) made safe for Discord.

``escape`` neutralises markdown and every mention form; ``truncate`` shortens on a character budget
with an ellipsis. Rendering code passes all hub text through ``escape`` before it reaches an embed.
"""

from __future__ import annotations

import re

import discord

ELLIPSIS = "…"
_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(\d{15,21})>")
_ZWSP = "\u200b"


def escape(text: str | None, *, markdown: bool = True) -> str:
    """Hub text -> safe Discord text: markdown escaped, ``@everyone``/``@here`` and
    user/role/channel mentions broken with a zero-width space (they render but never ping)."""
    if not text:
        return ""
    text = str(text)
    if markdown:
        text = discord.utils.escape_markdown(text, as_needed=False, ignore_links=False)
    return _neutralise_mentions(text)


def _neutralise_mentions(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        if match.group(1):
            return f"@{_ZWSP}{match.group(1)}"
        return f"<{match.group(2)}{_ZWSP}{match.group(3)}>"

    return _MENTION.sub(repl, text)


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters; cut text ends with an ellipsis (on a word boundary when one
    is near)."""
    if limit <= 0:
        return ""
    if len(text) <= limit:
        return text
    if limit == 1:
        return ELLIPSIS
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.8:
        cut = cut[:space]
    # never leave a dangling escape backslash or half a surrogate pair
    cut = cut.rstrip("\\ \n")
    return cut + ELLIPSIS


def plain_number(value: int | None, *, hidden: str = "hidden") -> str:
    """12345 -> "12.3k"; None -> "hidden" (the hub hides some download counts)."""
    if value is None:
        return hidden
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return f"{value / 1_000_000:.1f}M".replace(".0M", "M")


def size_text(size_bytes: float | None) -> str:
    if size_bytes is None:
        return "unknown size"
    units = ["B", "KB", "MB", "GB", "TB"]
    value = float(size_bytes)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}".replace(".00 ", " ")
        value /= 1024
    return f"{value:.2f} TB"  # pragma: no cover
