"""Replying to interactions: one ``send`` whatever state the interaction is in, and ``deferred``,
which defers only when the work is slow (> ~1 s) so fast answers stay a single round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import discord

T = TypeVar("T")
DEFER_AFTER = 0.8  # seconds: Discord wants an answer within 3 s; defer well before


async def send(interaction: discord.Interaction[Any], content: str | None = None, *,
               ephemeral: bool = False, **kwargs: Any) -> discord.Message | None:
    """Send a reply: the initial response if none was made, else a follow-up (which, after a defer,
    replaces the "thinking" message). Never pings anyone. Returns the message sent, when Discord says."""
    kwargs.setdefault("allowed_mentions", discord.AllowedMentions.none())
    if interaction.response.is_done():
        return await interaction.followup.send(content, ephemeral=ephemeral, wait=True, **kwargs)
    callback = await interaction.response.send_message(content, ephemeral=ephemeral, **kwargs)
    resource = getattr(callback, "resource", None)
    return resource if isinstance(resource, discord.Message) else None


async def edit(interaction: discord.Interaction[Any], **kwargs: Any) -> None:
    """Edit the message a component sits on: through the response if none was made yet, else (after a
    deferred update) through ``edit_original_response``."""
    if interaction.response.is_done():
        await interaction.edit_original_response(**kwargs)
    else:
        await interaction.response.edit_message(**kwargs)


async def deferred(interaction: discord.Interaction[Any], work: Awaitable[T], *, ephemeral: bool = False,
                   after: float = DEFER_AFTER, update: bool = False) -> T:
    """Await ``work``; if it takes longer than ``after`` seconds, defer the interaction meanwhile so
    the 3-second deadline is never missed: with "thinking" (ephemeral as given) for a new reply, or,
    with ``update``, as a deferred update of the message a component sits on (then answer with
    ``edit_original_response``)."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=after)
        if not done and not interaction.response.is_done():
            if update:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=ephemeral, thinking=True)
                interaction.extras["deferred_public"] = not ephemeral
        return await task
    except BaseException:
        if not task.done():
            task.cancel()
        raise
