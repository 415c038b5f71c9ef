"""The one error handler for app commands and views: a short ephemeral message for the user, and
for unexpected errors a logged traceback under an error id the user can quote."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import discord
from discord import app_commands

from bot.core.errors import UserError
from bot.hub.errors import HubError, HubRateLimited

log = logging.getLogger("bot.core.errors")


def new_error_id() -> str:
    return secrets.token_hex(4)


def _unwrap(error: BaseException) -> BaseException:
    """The exception a command raised (app_commands wraps it in CommandInvokeError or, raised by a
    transformer, in TransformerError)."""
    while isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    # a transformer (e.g. a feed id looked up in this server) that refused the value says why itself
    if isinstance(error, app_commands.TransformerError) and isinstance(error.__cause__, (UserError, HubError)):
        error = error.__cause__
    return error


def user_message(error: BaseException) -> tuple[str, bool]:
    """(message for the user, whether this was unexpected and must be logged with a traceback)."""
    error = _unwrap(error)
    if isinstance(error, UserError):
        return error.message, False
    if isinstance(error, HubRateLimited) and error.retry_after:
        return f"The model hub is rate-limiting the bot. Try again in {int(error.retry_after) + 1} s.", False
    if isinstance(error, HubError):
        return error.user_message, False
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s.", False
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in servers only.", False
    if isinstance(error, app_commands.BotMissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"I am missing a permission here: {missing}.", False
    if isinstance(error, app_commands.MissingPermissions):
        missing = ", ".join(p.replace("_", " ") for p in error.missing_permissions)
        return f"You need this permission: {missing}.", False
    if isinstance(error, app_commands.CheckFailure):
        text = str(error)
        return (text if text and not text.startswith("The check functions") else
                "You cannot use this command here."), False
    if isinstance(error, app_commands.TransformerError):
        return f"That is not a valid value: {str(error.value)[:80]!r}.", False
    if isinstance(error, discord.Forbidden):
        return "Discord refused: I lack a permission in that channel (view, send, embed links or attach files).", False
    return "", True


async def report(interaction: discord.Interaction[Any], error: BaseException, *, where: str = "") -> None:
    message, unexpected = user_message(error)
    if unexpected:
        error_id = new_error_id()
        command = interaction.command.qualified_name if interaction.command else where or "interaction"
        log.error("error %s in %s (guild %s, user %s)", error_id, command, interaction.guild_id,
                  interaction.user.id if interaction.user else None, exc_info=_unwrap(error))
        message = ("Something went wrong on our side. If it keeps happening, tell the bot's operator: "
                   f"error `{error_id}`.")
    try:
        if interaction.extras.pop("deferred_public", False):
            # The public "thinking…" message would become the error for everyone to see: remove it,
            # so the error reaches only the member, like every other error.
            try:
                await interaction.delete_original_response()
            except discord.HTTPException:
                pass
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())
        else:
            await interaction.response.send_message(message, ephemeral=True,
                                                    allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as exc:  # the interaction expired, or Discord is failing
        log.warning("could not deliver an error message (%s): %s", exc.status, message)


class HubCommandTree(app_commands.CommandTree):
    """The bot's command tree: every app-command error goes through ``report``."""

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /) -> None:
        await report(interaction, error)
