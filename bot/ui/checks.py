"""Who may do what: managers (Manage Server or the configured role) and moderators."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.policy.settings import GuildPolicy
from bot.ui.base import ServicesBot


class NotManager(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("Only server managers can do this: you need the Manage Server permission "
                         "or this server's manager role.")


class NotModerator(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("Only moderators can do this: you need this server's moderator role "
                         "(or the Manage Server permission).")


class GuildOnly(app_commands.CheckFailure):
    def __init__(self) -> None:
        super().__init__("This command works in servers only.")


def _roles(member: discord.Member | discord.User) -> set[int]:
    return {r.id for r in getattr(member, "roles", ())}


def is_manager(member: discord.Member | discord.User, policy: GuildPolicy,
               permissions: discord.Permissions | None = None) -> bool:
    perms = permissions or getattr(member, "guild_permissions", None)
    if perms is not None and (perms.manage_guild or perms.administrator):
        return True
    return policy.manager_role_id is not None and policy.manager_role_id in _roles(member)


def is_moderator(member: discord.Member | discord.User, policy: GuildPolicy,
                 permissions: discord.Permissions | None = None) -> bool:
    if is_manager(member, policy, permissions) or (permissions is not None and permissions.manage_messages):
        return True  # Manage Messages moderates a channel on Discord already
    return policy.moderator_role_id is not None and policy.moderator_role_id in _roles(member)


async def policy_for(interaction: discord.Interaction[Any]) -> GuildPolicy:
    if interaction.guild_id is None:
        raise GuildOnly()
    bot: ServicesBot = interaction.client  # type: ignore[assignment]
    return await bot.services.guild_settings.get(interaction.guild_id)


def manager_only() -> Any:
    """``@manager_only()`` on an app command: Manage Server or the configured manager role."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        policy = await policy_for(interaction)
        if not is_manager(interaction.user, policy, interaction.permissions):
            raise NotManager()
        return True

    return app_commands.check(predicate)


def moderator_only() -> Any:
    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        policy = await policy_for(interaction)
        if not is_moderator(interaction.user, policy, interaction.permissions):
            raise NotModerator()
        return True

    return app_commands.check(predicate)
