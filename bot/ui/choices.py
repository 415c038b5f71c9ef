"""Autocomplete helpers shared by cogs."""

from __future__ import annotations

from discord import app_commands

from bot.catalog.search import choose
from bot.render.embeds import CHOICE_VALUE, choice_text


def complete_list(current: str, options: list[str]) -> list[app_commands.Choice[str]]:
    """Autocomplete for a comma-separated option: keep what was typed, complete the last item
    (prefix matches first, then substring matches)."""
    head, _, last = current.rpartition(",")
    chosen = {v.strip().lower() for v in head.split(",") if v.strip()}
    prefix = (head.strip() + ", ") if head.strip() else ""
    out = []
    for option in choose([o for o in options if o.lower() not in chosen], last, limit=25):
        value = prefix + option
        if len(value) <= CHOICE_VALUE:
            out.append(app_commands.Choice(name=choice_text(value), value=value))
    return out
