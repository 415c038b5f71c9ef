"""Command line: ``python -m bot run|check-config|sync [--config PATH]``."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Sequence

from bot import __version__
from bot.config import (
    DEFAULT_CONFIG_PATH,
    ENV_OVERRIDES,
    UNUSED_SECTIONS,
    ConfigError,
    LoadedConfig,
    config_warnings,
    load_config,
)

CONFIG_HELP = (f"TOML config file (default: $BOT_CONFIG, else {DEFAULT_CONFIG_PATH} if it exists; with no file, "
               "every key takes its default and the environment supplies the token). A file named here "
               "must exist")

ENVIRONMENT = "environment (wins over the file):\n" + "\n".join(
    f"  {name:<20} {key}" for name, key in ENV_OVERRIDES.items()
) + "\n  BOT_CONFIG           the config file, when --config is not given"

COMMANDS = {
    "run": ("connect to Discord and serve",
            "Connect to Discord and serve until SIGTERM or Ctrl-C (exit 0). Gives up with one line and "
            "exit 1 when Discord cannot be reached within discord.connect_timeout_seconds (30 s) or "
            "refuses the token; exit 2 without a token."),
    "check-config": ("validate the config and print it with secrets masked",
                     "Validate the configuration (file and environment) and print the effective values "
                     "with secrets masked, and which sections are not used yet. Exit 0 if valid, 1 if not."),
    "sync": ("push the slash commands to Discord (globally, or to one guild)",
             "Log in over REST only (no gateway), push the slash commands and exit. Global commands can "
             "take up to an hour to appear; --guild makes them appear at once in that server."),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The hub community Discord bot.")
    parser.add_argument("--version", action="version", version=f"hubbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,check-config,sync}")
    for name, (help_text, description) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=textwrap.fill(description, 78),
                                 epilog=ENVIRONMENT,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_argument("--config", metavar="PATH", default=None, help=CONFIG_HELP)
        if name == "sync":
            command.add_argument("--guild", metavar="ID", type=int, default=None,
                                 help="sync to this guild (server) id only, instantly; default: globally")
    return parser


def check_config(loaded: LoadedConfig) -> int:
    settings = loaded.settings
    source = loaded.path if loaded.found else f"the defaults and the environment (no file at {loaded.path})"
    print(f"# effective configuration, secrets masked, from {source}")
    if UNUSED_SECTIONS:
        print(f"# not used yet (their features are not built): {', '.join(f'[{s}]' for s in UNUSED_SECTIONS)}")
    print(_as_toml(settings.masked()))
    for warning in config_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    if not settings.discord.token:
        print("note: discord.token is empty; set it in the file or with DISCORD_TOKEN before `run`",
              file=sys.stderr)
    return 0


def _as_toml(data: dict[str, dict[str, object]]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]" + ("  # not used yet" if section in UNUSED_SECTIONS else ""))
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    if args.command == "check-config":
        return check_config(loaded)
    from bot.runner import run_bot, sync_commands  # imported late: discord.py is slow to import

    if args.command == "run":
        return run_bot(loaded.settings, notes=loaded.notes())
    return sync_commands(loaded.settings, guild_id=args.guild, notes=loaded.notes())


if __name__ == "__main__":
    sys.exit(main())
