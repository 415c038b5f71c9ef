"""The ``/status`` and ``/settings show`` embeds."""

from __future__ import annotations

import time

import discord

from bot.core.timefmt import describe_age
from bot.health.status import StatusReport
from bot.policy.settings import SETTINGS, GuildPolicy, SettingKind
from bot.render.embeds import fit
from bot.render.text import escape, size_text

OK_COLOUR = discord.Colour.green()
WARN_COLOUR = discord.Colour.orange()


def _when(unix: float | None) -> str:
    return f"<t:{int(unix)}:R>" if unix else "never"


def status_embed(report: StatusReport) -> discord.Embed:
    hub = report.hub
    healthy = hub.healthy
    embed = discord.Embed(title="Bot status", colour=OK_COLOUR if healthy else WARN_COLOUR)
    embed.add_field(name="Version", value=report.version)
    embed.add_field(name="Uptime", value=describe_age(report.uptime_seconds))
    embed.add_field(name="Servers", value=str(report.guilds))
    cache_lines = [f"{report.cached_models:,} models", size_text(report.database_bytes) + " on disk",
                   f"last refresh {_when(report.newest_fetch)}"]
    embed.add_field(name="Cache", value="\n".join(cache_lines))
    hub_lines = ["answering" if healthy else f"failing ({hub.consecutive_failures} in a row)",
                 f"last success {_when(hub.last_success_at)}"]
    if hub.last_latency_ms is not None:
        hub_lines.append(f"latency {hub.last_latency_ms:.0f} ms")
    if hub.last_error:
        hub_lines.append(f"last error {_when(hub.last_error_at)}: {escape(hub.last_error)}")
    embed.add_field(name="Hub", value="\n".join(hub_lines), inline=False)
    if report.feeds is not None:
        states = report.feeds["states"]
        active = states.get("active", 0)
        lines = [f"{active} active" + "".join(f", {n} {state}" for state, n in sorted(states.items())
                                               if state != "active" and n)]
        lines.append(f"last poll {_when(report.feeds['last_poll'])}")
        pending, oldest = report.feeds["pending"], report.feeds["oldest_pending"]
        lag = f", oldest waiting {describe_age(time.time() - oldest)}" if pending and oldest else ""
        lines.append(f"{pending} post{'s' if pending != 1 else ''} waiting{lag}")
        embed.add_field(name="Feeds", value="\n".join(lines))
    if report.jobs:
        jobs = [f"`{escape(j.name, markdown=False)}` next {_when(j.next_run.timestamp()) if j.next_run else 'paused'}"
                for j in report.jobs]
        embed.add_field(name="Scheduled jobs", value="\n".join(jobs), inline=False)
    if report.failed_extensions:
        embed.add_field(name="Features not loaded", value=", ".join(report.failed_extensions), inline=False)
    if report.latency_ms is not None:
        embed.set_footer(text=f"Gateway latency {report.latency_ms:.0f} ms")
    return fit(embed)


def setting_text(policy: GuildPolicy, key: str) -> str:
    """A setting's current value as shown to managers (roles and channels as mentions, which in
    replies with no allowed mentions and in embeds never ping)."""
    kind, value = SETTINGS[key][0], policy.value_of(key)
    if kind is SettingKind.ROLE:
        return f"<@&{value}>" if value else "not set"
    if kind is SettingKind.CHANNEL:
        return f"<#{value}>" if value else "not set"
    if kind is SettingKind.SWITCH:
        return "on" if value else "off"
    return str(value)


def settings_embed(policy: GuildPolicy, guild_name: str) -> discord.Embed:
    embed = discord.Embed(title=f"Settings for {escape(guild_name)}", colour=discord.Colour.blurple())
    for key, (_, _, help_text) in SETTINGS.items():
        embed.add_field(name=key, value=f"**{setting_text(policy, key)}**\n{help_text}", inline=False)
    embed.set_footer(text="Change one with /settings set key value")
    return fit(embed)
