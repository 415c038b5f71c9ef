"""/intake url|status|queue|cancel: members submit model files by link; moderators vet them."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import HubBot
from bot.core.errors import UserError
from bot.intake import queue_step
from bot.render.intake import job_embed, outcome_text, progress_text, queue_line
from bot.ui.checks import is_moderator, moderator_only, policy_for
from bot.ui.intake import DecisionButton, reporter_of
from bot.ui.respond import send

Interaction = discord.Interaction[HubBot]
log = logging.getLogger(__name__)


class Intake(commands.Cog):
    def __init__(self, bot: HubBot) -> None:
        self.bot = bot
        self._starter: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(DecisionButton)
        reporter_of(self.bot)
        self._starter = asyncio.create_task(self._start(), name="intake start")

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(DecisionButton)
        if self._starter is not None:
            self._starter.cancel()

    async def _start(self) -> None:
        """Once connected (reports need the channel cache): clean up and resume the queue."""
        await self.bot.wait_until_ready()
        if not self.bot.is_stopping:
            try:
                await self.bot.services.intake.start()
            except Exception:  # the queue then starts with the next submission
                log.exception("intake: the queue could not start")

    intake = app_commands.Group(name="intake", description="Submit model files by link for moderators to vet",
                                guild_only=True)

    @intake.command(name="url", description="Submit a model file by link (checked, hashed and scanned first)")
    @app_commands.describe(url="An https link to a .safetensors (or .ckpt/.pt/.pth/.bin) file on an allowed host",
                           notes="Anything the moderators should know (optional)")
    async def url(self, interaction: Interaction, url: str, notes: str | None = None) -> None:
        assert interaction.guild_id is not None
        policy = await policy_for(interaction)
        moderator = is_moderator(interaction.user, policy, interaction.permissions)
        if policy.intake_role_id and not moderator and \
                policy.intake_role_id not in {r.id for r in getattr(interaction.user, "roles", ())}:
            raise UserError(f"Submitting needs the <@&{policy.intake_role_id}> role here.")
        if not policy.intake_channel_id:
            raise UserError("This server has no intake channel for moderators yet: a manager sets one with "
                            "`/settings set intake_channel`.")
        service = self.bot.services.intake
        await interaction.response.defer(ephemeral=True, thinking=True)  # the queue's database work: no 3 s race
        job, position = await service.submit(guild_id=interaction.guild_id, channel_id=interaction.channel_id,
                                             user_id=interaction.user.id, url=url, notes=notes)
        try:
            await send(interaction, progress_text(job, queue_step(position)), ephemeral=True)
            reporter_of(self.bot).follow(job.id, interaction)  # the reply exists: the job may report now
        finally:  # without a reply (Discord refused it) the job still runs and reports by DM
            await service.kick()

    @intake.command(name="status", description="Where a submission stands")
    @app_commands.describe(id="The submission's number")
    async def status(self, interaction: Interaction, id: int) -> None:
        assert interaction.guild_id is not None
        job = await self.bot.services.intake.get(id, interaction.guild_id)
        moderator = is_moderator(interaction.user, await policy_for(interaction), interaction.permissions)
        if job.user_id != interaction.user.id and not moderator:
            raise UserError("Only the member who submitted it, or a moderator, can see a submission.")
        text = progress_text(job, job.step or job.state) if job.state in ("queued", "running") else outcome_text(job)
        await send(interaction, text, embed=job_embed(job), ephemeral=True)

    @intake.command(name="queue", description="Submissions in progress and waiting for a decision (moderators)")
    @moderator_only()
    async def queue(self, interaction: Interaction) -> None:
        assert interaction.guild_id is not None
        service = self.bot.services.intake
        jobs = await service.queue(interaction.guild_id)
        lines = [queue_line(job, await service.position(job.id) if job.state == "queued" else None) for job in jobs]
        embed = discord.Embed(title="Intake queue", colour=discord.Colour.gold(),
                              description="\n".join(lines)[:4000] if lines else "Nothing waiting.")
        await send(interaction, embed=embed, ephemeral=True)

    @intake.command(name="cancel", description="Cancel a submission (yours, or any as a moderator)")
    @app_commands.describe(id="The submission's number")
    async def cancel(self, interaction: Interaction, id: int) -> None:
        assert interaction.guild_id is not None
        moderator = is_moderator(interaction.user, await policy_for(interaction), interaction.permissions)
        service = self.bot.services.intake
        await service.cancel(id, interaction.guild_id, by=interaction.user.id, moderator=moderator)
        job = await service.get(id, interaction.guild_id)  # as it is now, with a card posted meanwhile
        await send(interaction, f"Submission #{job.id} cancelled.", ephemeral=True)
        reporter = reporter_of(self.bot)
        await reporter.show_outcome(job)
        if job.card_channel_id and job.card_message_id:
            card = self.bot.get_partial_messageable(job.card_channel_id).get_partial_message(job.card_message_id)
            try:
                await card.edit(embed=job_embed(job), view=None)
            except discord.HTTPException:
                pass  # the card is gone: nothing to update
        if job.user_id != interaction.user.id:
            await reporter.tell_submitter(job, outcome_text(job))


async def setup(bot: HubBot) -> None:
    await bot.add_cog(Intake(bot))
