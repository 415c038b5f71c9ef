"""Link intake on Discord: the one progress message of each job, the moderators' card with Approve /
Reject (dynamic items: they work after a restart), the reject form, and telling the submitter.

A job's progress message is first the reply to ``/intake`` (edited through the interaction). An
interaction token dies after 15 minutes, and downloads can take longer: from ``TOKEN_MARGIN`` before
that, or as soon as Discord refuses the token, the job reports through a message the bot owns (a DM
to the submitter, or the channel where they ran the command), remembered in SQLite."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

import discord

from bot.core.errors import UserError
from bot.intake import IntakeJobRow
from bot.render.intake import job_embed, outcome_text, progress_text
from bot.ui.base import ServicesBot
from bot.ui.checks import NotModerator, is_moderator, policy_for
from bot.ui.errors import report
from bot.ui.respond import send

log = logging.getLogger(__name__)

TOKEN_LIFE = 15 * 60.0
TOKEN_MARGIN = 60.0  # stop using a token this long before Discord would refuse it
UNKNOWN_MESSAGE = 10008
DECIDE_TEMPLATE = r"intake:(?P<action>approve|reject):(?P<job_id>[0-9]{1,18})"
NONE = discord.AllowedMentions.none()


class DiscordIntakeReporter:
    """``bot.intake.IntakeReporter`` on Discord."""

    def __init__(self, bot: ServicesBot) -> None:
        self.bot = bot
        self._replies: dict[int, tuple[discord.Interaction[Any], float]] = {}

    def follow(self, job_id: int, interaction: discord.Interaction[Any]) -> None:
        """Report job ``job_id`` through ``interaction``'s reply while its token lives."""
        age = (discord.utils.utcnow() - interaction.created_at).total_seconds()
        self._replies[job_id] = (interaction, time.monotonic() - max(0.0, age))

    async def progress(self, job: IntakeJobRow, step: str, done: int | None = None, total: int | None = None,
                       rate: float | None = None) -> None:
        await self._show(job, progress_text(job, step, done, total, rate))

    async def finished(self, job: IntakeJobRow) -> None:
        """The card first (a job in review must reach the moderators whatever happens to the progress
        message), then the progress message; a job changed meanwhile (cancelled) gets no card."""
        fresh = await self.bot.services.intake.get(job.id, job.guild_id)
        if fresh.state == "review" and fresh.card_message_id is None:
            await self.post_card(fresh)
        await self.show_outcome(fresh)

    async def show_outcome(self, job: IntakeJobRow) -> None:
        try:
            await self._show(job, outcome_text(job), final=True)
        except discord.HTTPException as exc:
            log.warning("intake: the outcome of job %d is not shown: %s", job.id, exc)

    async def post_card(self, job: IntakeJobRow) -> None:
        """The moderators' card in the server's intake channel (the submitter is told if there is none)."""
        channel = await self._intake_channel(job)
        if channel is None:
            await self.tell_submitter(job, f"Submission #{job.id} is checked, but this server has no intake channel "
                                           "for moderators right now: ask a manager to set `intake_channel`.")
            return
        try:
            message = await channel.send(embed=job_embed(job), view=decision_view(job.id), allowed_mentions=NONE)
        except discord.HTTPException as exc:  # posted again at the next start (the job has no card yet)
            log.warning("intake: cannot post job %d to the intake channel %s: %s", job.id, channel.id, exc)
            await self.tell_submitter(job, f"Submission #{job.id} is checked, but I cannot post it to the "
                                           "moderators' channel: ask a manager to check my permissions there.")
            return
        await self.bot.services.intake.set_card(job.id, channel.id, message.id)

    async def tell_submitter(self, job: IntakeJobRow, content: str,
                             file: Callable[[], discord.File] | None = None) -> bool:
        """A new message for the submitter: their DMs, else the intake channel (moderators and, if it
        lets them in, the submitter), naming them there. ``file`` makes a fresh attachment per attempt
        (a sent one is spent)."""
        return await self._to_submitter(job, content, name_them=True, file=file) is not None

    async def _to_submitter(self, job: IntakeJobRow, content: str, *, name_them: bool,
                            file: Callable[[], discord.File] | None = None) -> discord.Message | None:
        """Send to the submitter's DMs, else to the intake channel; the message, or None if neither took it."""
        extra = (lambda: {"file": file()}) if file is not None else dict
        user = self.bot.get_user(job.user_id)
        try:
            if user is None:
                user = await self.bot.fetch_user(job.user_id)
            return await user.send(content, allowed_mentions=NONE, **extra())
        except discord.HTTPException:
            pass  # DMs closed
        channel = await self._intake_channel(job)
        if channel is not None:
            text = f"<@{job.user_id}> {content}" if name_them else content
            try:
                return await channel.send(text, allowed_mentions=NONE, **extra())
            except discord.HTTPException as exc:
                log.warning("intake: nowhere to reach the submitter of job %d: %s", job.id, exc)
        return None

    async def _intake_channel(self, job: IntakeJobRow) -> discord.TextChannel | None:
        policy = await self.bot.services.guild_settings.get(job.guild_id)
        channel = self.bot.get_channel(policy.intake_channel_id) if policy.intake_channel_id else None
        return channel if isinstance(channel, discord.TextChannel) else None

    # ------------------------------------------------------------------ the one progress message

    async def _show(self, job: IntakeJobRow, text: str, *, final: bool = False) -> None:
        reply = self._replies.get(job.id)
        if reply is not None:
            interaction, since = reply
            if time.monotonic() - since < TOKEN_LIFE - TOKEN_MARGIN:
                try:
                    await interaction.edit_original_response(content=text, allowed_mentions=NONE)
                    if final:
                        self._replies.pop(job.id, None)
                    return
                except discord.HTTPException as exc:  # a dead token (50027), a deleted reply, Discord down
                    log.info("intake: job %d reports through its own message from now on (%s)", job.id, exc)
            self._replies.pop(job.id, None)  # the token is (nearly) dead: a message of our own from now on
        await self._owned(job, text)

    async def _owned(self, job: IntakeJobRow, text: str) -> None:
        fresh = await self.bot.services.intake.get(job.id, job.guild_id)
        if fresh.report_channel_id and fresh.report_message_id:
            channel = self.bot.get_partial_messageable(fresh.report_channel_id)
            try:
                await channel.get_partial_message(fresh.report_message_id).edit(content=text, allowed_mentions=NONE)
                return
            except discord.HTTPException as exc:
                if exc.code != UNKNOWN_MESSAGE:
                    log.warning("intake: cannot edit the progress of job %d: %s", job.id, exc)
                    return
        message = await self._to_submitter(job, text, name_them=False)
        if message is not None:
            await self.bot.services.intake.set_report_message(job.id, message.channel.id, message.id)


# ---------------------------------------------------------------------------- moderators' decision


def decision_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(DecisionButton("approve", job_id))
    view.add_item(DecisionButton("reject", job_id))
    return view


class DecisionButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=DECIDE_TEMPLATE):
    """Approve or Reject under a card in the intake channel: moderators only; Reject asks why."""

    def __init__(self, action: str, job_id: int) -> None:
        approve = action == "approve"
        super().__init__(discord.ui.Button(
            label="Approve" if approve else "Reject", emoji="✅" if approve else "⛔",
            style=discord.ButtonStyle.success if approve else discord.ButtonStyle.danger,
            custom_id=f"intake:{action}:{job_id}"))
        self.action, self.job_id = action, job_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> DecisionButton:
        return cls(match["action"], int(match["job_id"]))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:  # type: ignore[override]
        if is_moderator(interaction.user, await policy_for(interaction), interaction.permissions):
            return True
        await report(interaction, NotModerator(), where="intake decision")
        return False

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        try:
            if self.action == "reject":
                await interaction.response.send_modal(RejectModal(self.job_id, interaction.message))
                return
            await decide(interaction, self.job_id, approve=True, reason=None, card=interaction.message)
        except Exception as exc:
            await report(interaction, exc, where="intake decision")


class RejectModal(discord.ui.Modal, title="Reject the submission"):
    def __init__(self, job_id: int, card: discord.Message | None) -> None:
        super().__init__(timeout=600)
        self.job_id, self.card = job_id, card
        self.reason: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="intake:reject:reason", style=discord.TextStyle.paragraph, min_length=3, max_length=500,
            placeholder="The submitter reads this")
        self.add_item(discord.ui.Label(text="Why", component=self.reason))

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        await decide(interaction, self.job_id, approve=False, reason=self.reason.value, card=self.card)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception) -> None:  # type: ignore[override]
        await report(interaction, error, where="intake reject form")


async def decide(interaction: discord.Interaction[Any], job_id: int, *, approve: bool, reason: str | None,
                 card: discord.Message | None) -> IntakeJobRow:
    """Record a moderator's decision, update the card, and tell the submitter (with the draft when
    approved)."""
    bot: ServicesBot = interaction.client
    if interaction.guild_id is None:
        raise UserError("Submissions live in servers.")
    if not is_moderator(interaction.user, await policy_for(interaction), interaction.permissions):
        raise NotModerator()
    await interaction.response.defer(ephemeral=True, thinking=True)  # the card, the DM, the draft: > 3 s
    service = bot.services.intake
    job = await service.decide(job_id, interaction.guild_id, by=interaction.user.id, approve=approve, reason=reason)
    reporter = reporter_of(bot)
    if card is not None:
        try:
            await card.edit(embed=job_embed(job), view=None, allowed_mentions=NONE)
        except discord.HTTPException as exc:
            log.warning("intake: cannot update the card of job %d: %s", job.id, exc)
    outcome = outcome_text(job)
    if approve:
        draft = service.draft(job)
        link = draft["createUrl"]
        note = f"{outcome}\nThe draft for the hub's form is attached; create the model at {link}"
        if card is not None:
            await _send_draft(card.channel, job, note, draft)
        told = await reporter.tell_submitter(job, note, file=lambda: _draft_file(job, draft))
    else:
        told = await reporter.tell_submitter(job, outcome)
    await send(interaction, f"Submission #{job.id} {job.state}." + ("" if told else
               " I could not reach the submitter (DMs closed and no channel): tell them yourself."), ephemeral=True)
    return job


def _draft_file(job: IntakeJobRow, draft: dict[str, Any]) -> discord.File:
    data = json.dumps(draft, indent=2, ensure_ascii=False).encode()
    return discord.File(io.BytesIO(data), filename=f"intake-{job.id}-draft.json")


async def _send_draft(channel: Any, job: IntakeJobRow, text: str, draft: dict[str, Any]) -> None:
    try:
        await channel.send(text, file=_draft_file(job, draft), allowed_mentions=NONE)
    except discord.HTTPException as exc:
        log.warning("intake: cannot post the draft of job %d: %s", job.id, exc)


def reporter_of(bot: ServicesBot) -> DiscordIntakeReporter:
    reporter = bot.services.intake.reporter
    if not isinstance(reporter, DiscordIntakeReporter):
        reporter = DiscordIntakeReporter(bot)
        bot.services.intake.reporter = reporter
    return reporter
