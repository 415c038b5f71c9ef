"""Link intake as members and moderators see it: the one progress message of a job (a text progress
bar with bytes and bytes/s), the moderators' card, and lines of the queue. Everything that came from
the link or the file (names, metadata, notes) is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import discord

from bot.render.embeds import fit
from bot.render.text import escape, size_text, truncate

if TYPE_CHECKING:  # data types only
    from bot.intake import IntakeJobRow

BAR_WIDTH = 20
STATE_TEXT = {
    "queued": "⏳ queued", "running": "⚙️ working", "review": "🧑‍⚖️ waiting for a moderator",
    "approved": "✅ approved", "rejected": "⛔ rejected", "failed": "❌ failed", "duplicate": "♻️ already on the hub",
    "cancelled": "🚫 cancelled",
}
VERDICT_TEXT = {"safe": "✅ safe", "suspicious": "⚠️ suspicious", "dangerous": "☠️ dangerous"}
COLOURS = {"review": discord.Colour.gold(), "approved": discord.Colour.green(), "rejected": discord.Colour.red(),
           "failed": discord.Colour.red(), "duplicate": discord.Colour.blurple(),
           "cancelled": discord.Colour.dark_grey()}


def progress_bar(done: int, total: int | None, width: int = BAR_WIDTH) -> str:
    """``[██████░░░░░░░░░░░░░░]  30%`` (no bar when the total is unknown)."""
    if not total:
        return ""
    share = max(0.0, min(1.0, done / total))
    filled = round(share * width)
    return f"`[{'█' * filled}{'░' * (width - filled)}]` {share:4.0%}"


def rate_text(rate: float | None) -> str:
    return f"{size_text(rate)}/s" if rate else ""


def file_label(job: IntakeJobRow) -> str:
    return f"`{escape(truncate(job.file_name, 80), markdown=False).replace('`', 'ʼ')}`" if job.file_name else "the link"


def progress_text(job: IntakeJobRow, step: str, done: int | None = None, total: int | None = None,
                  rate: float | None = None) -> str:
    """The job's progress message while it runs."""
    lines = [f"**Submission #{job.id}** · {file_label(job)}", f"⚙️ {escape(step)}"]
    if done is not None:
        amount = f"{size_text(done)} of {size_text(total)}" if total else size_text(done)
        lines.append(" · ".join(x for x in (progress_bar(done, total), amount, rate_text(rate)) if x))
    return "\n".join(lines)


def outcome_text(job: IntakeJobRow) -> str:
    """The job's progress message once it has left ``running`` (what the submitter needs to know)."""
    head = f"**Submission #{job.id}** · {file_label(job)}\n{STATE_TEXT.get(job.state, job.state)}"
    if job.state == "failed":
        return f"{head}: {escape(job.error or 'for a reason the bot did not record')}"
    if job.state == "duplicate":
        dup = job.result.get("duplicate") or {}
        name = escape(truncate(dup.get("name") or "a model", 80))
        where = f" [{name}]({dup['url']})" if dup.get("url") else f" {name}"
        return f"{head}: the hub has this exact file already:{where}."
    if job.state == "review":
        return f"{head}. The file checked out; the server's moderators decide next, and you will hear from me."
    if job.state in ("approved", "rejected"):
        reason = f" Reason: {escape(truncate(job.decision_reason, 300))}" if job.decision_reason else ""
        return f"{head} by a moderator.{reason}"
    return head


def _hashes(job: IntakeJobRow) -> str:
    hashes = job.result.get("hashes") or {}
    order = ("SHA256", "AutoV1", "AutoV2", "AutoV3", "CRC32", "BLAKE3")
    return "\n".join(f"{k}: `{hashes[k]}`" for k in order if hashes.get(k)) or "not computed"


def job_embed(job: IntakeJobRow, *, source_label: str | None = None, when: datetime | None = None) -> discord.Embed:
    """The moderators' card (and ``/intake status``): file, size, the six hashes, type and base model,
    training metadata, the scan verdict, notes and the submitter."""
    result: dict[str, Any] = job.result
    detection = result.get("detection") or {}
    metadata = result.get("metadata") or {}
    scan = result.get("scan") or {}
    embed = discord.Embed(title=f"Submission #{job.id}: {truncate(job.file_name or 'a model file', 200)}",
                          colour=COLOURS.get(job.state, discord.Colour.light_grey()),
                          timestamp=when or datetime.fromtimestamp(job.created_at, UTC))
    embed.description = "\n".join(x for x in (
        f"{STATE_TEXT.get(job.state, job.state)} · submitted by <@{job.user_id}>",
        f"Source: `{truncate(source_label or job.url, 300).replace('`', '%60')}`",  # shown, never a masked link
        f"Notes: {escape(truncate(job.notes, 500))}" if job.notes else "",
        f"Why it failed: {escape(job.error)}" if job.state == "failed" and job.error else "",
    ) if x)
    size = (result.get("file") or {}).get("size") or job.size
    embed.add_field(name="File", value=f"{size_text(size)} · {(result.get('file') or {}).get('format') or '?'}")
    if detection:
        kind = detection.get("model_type") or "unknown"
        base = detection.get("base_model") or "base model unknown"
        variant = f" ({detection['variant']})" if detection.get("variant") else ""
        embed.add_field(name="Detected", value=escape(f"{kind} · {base}{variant}"))
    if scan:
        summary = escape(truncate(scan.get("summary") or "", 300))
        embed.add_field(name="Scan", value=f"{VERDICT_TEXT.get(scan.get('verdict'), scan.get('verdict'))}\n{summary}",
                        inline=False)
    if result.get("hashes"):
        embed.add_field(name="Hashes", value=_hashes(job), inline=False)
    highlights = metadata.get("highlights") or []
    if highlights:
        embed.add_field(name="Training metadata", inline=False, value="\n".join(
            f"{escape(truncate(str(k), 40))}: {escape(truncate(str(v), 120))}" for k, v in highlights[:10]))
    if metadata.get("trigger_words"):
        embed.add_field(name="Trigger words", value=escape(truncate(", ".join(metadata["trigger_words"]), 300)))
    warnings = [*(detection.get("warnings") or []), *(result.get("warnings") or [])]
    if warnings:
        embed.add_field(name="Check these", value="\n".join(f"• {escape(truncate(w, 200))}" for w in warnings[:6]),
                        inline=False)
    if job.state in ("approved", "rejected") and job.decided_by:
        reason = f": {escape(truncate(job.decision_reason, 300))}" if job.decision_reason else ""
        embed.add_field(name="Decision", value=f"{STATE_TEXT[job.state]} by <@{job.decided_by}>{reason}", inline=False)
    embed.set_footer(text=f"Intake #{job.id}")
    return fit(embed)


def queue_line(job: IntakeJobRow, position: int | None = None) -> str:
    place = f" · place {position}" if position else ""
    step = f" · {escape(truncate(job.step, 60))}" if job.state == "running" and job.step else ""
    return f"**#{job.id}** · {file_label(job)} · <@{job.user_id}> · {STATE_TEXT.get(job.state, job.state)}{place}{step}"
