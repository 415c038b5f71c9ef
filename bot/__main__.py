"""Command line: ``python -m bot run|check-config|sync [--config PATH]``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.config import DEFAULT_CONFIG_PATH, ConfigError, Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The hub community Discord bot.")
    parser.add_argument("--version", action="version", version=f"hubbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    default = os.environ.get("BOT_CONFIG") or DEFAULT_CONFIG_PATH
    for name, help_text in (
        ("run", "connect to Discord and serve"),
        ("check-config", "validate the config and print it with secrets masked"),
        ("sync", "push the slash commands to Discord (globally, or to one guild)"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--config", default=default, help=f"TOML config file (default {default})")
        if name == "sync":
            command.add_argument("--guild", type=int, default=None, help="sync to this guild id only")
    return parser


def _load(path: str) -> Settings:
    return load_settings(path)


def check_config(path: str) -> int:
    try:
        settings = _load(path)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    print(f"# effective configuration from {path} (secrets masked)")
    print(_as_toml(settings.masked()))
    if not settings.discord.token:
        print("# note: discord.token is empty; set it in the file or with DISCORD_TOKEN before `run`",
              file=sys.stderr)
    return 0


def _as_toml(data: dict[str, dict[str, object]]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check-config":
        return check_config(args.config)
    try:
        settings = _load(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 1
    from bot.runner import run_bot, sync_commands  # imported late: discord.py is slow to import

    if args.command == "run":
        return run_bot(settings)
    return sync_commands(settings, guild_id=args.guild)


if __name__ == "__main__":
    sys.exit(main())
