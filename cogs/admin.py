"""/settings show|set and /status."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.core.errors import UserError
from bot.core.rating import MAX_RATING_CHOICES, parse_max_rating
from bot.policy.settings import SETTINGS, SettingError, SettingKind, is_clear, parse_switch
from bot.render.embeds import choice_text
from bot.render.status import setting_text, settings_embed, status_embed
from bot.ui.checks import manager_only
from bot.ui.resolve import resolve_channel, resolve_role
from bot.ui.respond import send

EXPIRED_AFTER = 2.0  # seconds: views answer (or defer) within ~1 s


class Admin(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction[HubBot]) -> None:
        """A button or menu nobody handles (its view timed out, or the bot restarted since) gets a short
        answer instead of Discord's "This interaction failed"."""
        if interaction.type is not discord.InteractionType.component:
            return
        await asyncio.sleep(EXPIRED_AFTER)
        if interaction.response.is_done() or interaction.is_expired():
            return
        try:
            await interaction.response.send_message(
                "These buttons no longer work (the menu timed out or the bot restarted). Run the command again.",
                ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException:
            pass  # answered meanwhile

    settings_group = app_commands.Group(name="settings", description="This server's policies for the bot",
                                        guild_only=True)

    @settings_group.command(name="show", description="Show this server's bot settings")
    @manager_only()
    async def settings_show(self, interaction: discord.Interaction[HubBot]) -> None:
        assert interaction.guild is not None
        policy = await self.bot.services.guild_settings.get(interaction.guild.id)
        await send(interaction, embed=settings_embed(policy, interaction.guild.name), ephemeral=True)

    @settings_group.command(name="set", description="Change one of this server's bot settings")
    @app_commands.describe(key="The setting to change", value="The new value (none to clear a role or channel)")
    @app_commands.choices(key=[app_commands.Choice(name=k, value=k) for k in SETTINGS])
    @manager_only()
    async def settings_set(self, interaction: discord.Interaction[HubBot], key: str, value: str) -> None:
        guild = interaction.guild
        assert guild is not None
        kind = SETTINGS[key][0]
        typed: Any
        try:
            if kind is SettingKind.RATING:
                typed = parse_max_rating(value)
            elif kind is SettingKind.SWITCH:
                typed = parse_switch(value)
            elif is_clear(value):
                typed = None
            elif kind is SettingKind.ROLE:
                typed = resolve_role(guild, value)
            else:
                typed = resolve_channel(guild, value)
            policy = await self.bot.services.guild_settings.set(guild.id, key, typed, updated_by=interaction.user.id)
        except (SettingError, ValueError) as exc:
            if isinstance(exc, UserError):
                raise
            raise UserError(f"`{key}`: {exc}.") from None
        await send(interaction, f"`{key}` is now **{setting_text(policy, key)}**.", ephemeral=True)

    @settings_set.autocomplete("value")
    async def settings_value_autocomplete(self, interaction: discord.Interaction[HubBot],
                                          current: str) -> list[app_commands.Choice[str]]:
        key = getattr(interaction.namespace, "key", None)
        kind = SETTINGS[key][0] if key in SETTINGS else None
        guild = interaction.guild
        options: list[str]
        if kind is SettingKind.RATING:
            options = list(MAX_RATING_CHOICES)
        elif kind is SettingKind.SWITCH:
            options = ["on", "off"]
        elif kind is SettingKind.ROLE and guild is not None:
            options = ["none", *(r.name for r in reversed(guild.roles) if not r.is_default() and not r.managed)]
        elif kind is SettingKind.CHANNEL and guild is not None:
            options = ["none", *(c.name for c in guild.text_channels)]
        else:
            options = []
        needle = current.strip().lower().lstrip("#@")
        matches = [o for o in options if needle in o.lower()][:25]
        return [app_commands.Choice(name=choice_text(o), value=choice_text(o)) for o in matches]

    @app_commands.command(name="status", description="Version, uptime, cache and hub health")
    async def status(self, interaction: discord.Interaction[HubBot]) -> None:
        latency = self.bot.latency
        report = await self.bot.services.status(
            started_at=self.bot.started_at, guilds=len(self.bot.guilds),
            latency_ms=latency * 1000 if latency == latency else None,  # NaN before the first heartbeat
            failed_extensions=tuple(self.bot.failed_extensions))
        await send(interaction, embed=status_embed(report))


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Admin(bot))
