"""Names and mentions typed into ``/settings set`` -> the guild's role or text channel id (or a short
error saying what is wrong)."""

from __future__ import annotations

import re

import discord

from bot.core.errors import UserError

_ID = re.compile(r"^(?:<[@#]&?)?(\d{15,21})>?$")


def resolve_role(guild: discord.Guild, text: str) -> int:
    match = _ID.match(text.strip())
    role = guild.get_role(int(match.group(1))) if match else None
    if role is None:
        wanted = text.strip().lstrip("@").lower()
        role = next((r for r in guild.roles if r.name.lower() == wanted), None)
    if role is None or role.is_default():
        raise UserError(f"No role called {discord.utils.escape_markdown(text)[:80]} here. Pick one from the list.")
    return role.id


def resolve_channel(guild: discord.Guild, text: str) -> int:
    match = _ID.match(text.strip())
    channel = guild.get_channel(int(match.group(1))) if match else None
    if channel is None:
        wanted = text.strip().lstrip("#").lower()
        channel = next((c for c in guild.text_channels if c.name.lower() == wanted), None)
    if not isinstance(channel, discord.TextChannel):
        raise UserError(f"No text channel called {discord.utils.escape_markdown(text)[:80]} here.")
    me = guild.me
    if me is not None:
        perms = channel.permissions_for(me)
        missing = [name for name, ok in (("View Channel", perms.view_channel), ("Send Messages", perms.send_messages),
                                         ("Embed Links", perms.embed_links)) if not ok]
        if missing:
            raise UserError(f"I cannot post in #{channel.name}: I am missing {', '.join(missing)} there.")
    return channel.id
