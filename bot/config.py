"""Configuration: one TOML file plus environment overrides -> one frozen Settings object.

Every key of SPEC.md is declared once, in ``SCHEMA`` below, with its type, default and allowed
range. Unknown keys, wrong types and out-of-range values raise ``ConfigError`` naming the key and
what is allowed; nothing starts on a bad config.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG_PATH = "config.toml"
SECRET_KEYS = frozenset({"discord.token", "hub.api_key", "security.secret_key"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Environment variables that win over the file: env name -> dotted key.
ENV_OVERRIDES: dict[str, str] = {
    "DISCORD_TOKEN": "discord.token",
    "CIVITAI_API_KEY": "hub.api_key",
    "DISCORD_API_BASE": "discord.api_base",
    "DISCORD_GATEWAY_URL": "discord.gateway_url",
    "HUB_BASE_URL": "hub.base_url",
    "BOT_DATABASE": "database.path",
    "BOT_SECRET_KEY": "security.secret_key",
}

# Sections that are read and validated but whose features are not built yet (``check-config`` says
# so). Each feature's work removes its section from here.
UNUSED_SECTIONS: tuple[str, ...] = ()


class ConfigError(Exception):
    """A bad configuration. The message names the key and says what is allowed."""


# --------------------------------------------------------------------------- the settings object


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    token: str = field(default="", repr=False)
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg"
    dev_guild_ids: tuple[int, ...] = ()
    sync_on_start: bool = False
    connect_timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class HubSettings:
    base_url: str = "https://civitai.com"
    api_key: str = field(default="", repr=False)
    timeout_seconds: float = 20.0
    max_concurrency: int = 4
    image_hosts: tuple[str, ...] = ("image.civitai.com",)
    image_base_url: str = "https://image.civitai.com"


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    path: str = "data/bot.sqlite3"


@dataclass(frozen=True, slots=True)
class CacheSettings:
    ttl_seconds: int = 300


@dataclass(frozen=True, slots=True)
class FeedsSettings:
    poll_interval_seconds: int = 600
    max_posts_per_poll: int = 10
    max_failures: int = 5


@dataclass(frozen=True, slots=True)
class DigestsSettings:
    default_timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    allowed_hosts: tuple[str, ...] = (
        "huggingface.co",
        "hf.co",
        "civitai.com",
        "github.com",
        "githubusercontent.com",
    )
    allow_private_networks: bool = False
    max_file_bytes: int = 8 * 1024**3
    work_dir: str = "data/intake"
    max_concurrent_jobs: int = 2


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    secret_key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Settings:
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    hub: HubSettings = field(default_factory=HubSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)
    digests: DigestsSettings = field(default_factory=DigestsSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    def masked(self) -> dict[str, dict[str, Any]]:
        """The effective config as plain data, with secrets masked (safe to print or log)."""
        out: dict[str, dict[str, Any]] = {}
        for section in fields(self):
            values = getattr(self, section.name)
            out[section.name] = {}
            for f in fields(values):
                value = getattr(values, f.name)
                if f"{section.name}.{f.name}" in SECRET_KEYS:
                    value = mask_secret(value)
                elif isinstance(value, tuple):
                    value = list(value)
                out[section.name][f.name] = value
        return out

    def secrets(self) -> tuple[str, ...]:
        """The secret values that are set (for log redaction)."""
        return tuple(s for s in (self.discord.token, self.hub.api_key, self.security.secret_key) if s)


def mask_secret(value: str) -> str:
    """``""`` stays empty (so "not set" is visible); anything else becomes asterisks."""
    return "********" if value else ""


# --------------------------------------------------------------------------- validation rules

Validator = Callable[[str, Any], Any]


def _type_name(value: Any) -> str:
    return type(value).__name__ if not isinstance(value, bool) else "boolean"


def _string(*, nonempty: bool = False) -> Validator:
    def check(key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_type_name(value)}")
        if nonempty and not value.strip():
            raise ConfigError(f"{key}: must not be empty")
        return value

    return check


def _secret(*, min_length: int) -> Validator:
    """An optional secret: empty, or at least ``min_length`` characters (the message never shows it)."""
    def check(key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_type_name(value)}")
        if value and len(value) < min_length:
            raise ConfigError(f"{key}: too short ({len(value)} characters): use at least {min_length} random "
                              "characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe())'`")
        return value

    return check


def _bool() -> Validator:
    def check(key: str, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0", "yes", "no"}:
            return value.strip().lower() in {"true", "1", "yes"}
        raise ConfigError(f"{key}: expected true or false, got {_type_name(value)}")

    return check


def _int(*, minimum: int | None = None, maximum: int | None = None) -> Validator:
    def check(key: str, value: Any) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())  # from an environment variable
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer{_range(minimum, maximum)}, got {_type_name(value)}")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ConfigError(f"{key}: {value} is out of range; allowed: an integer{_range(minimum, maximum)}")
        return value

    return check


def _number(*, minimum: float, exclusive: bool = False) -> Validator:
    def check(key: str, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {_type_name(value)}")
        if value < minimum or (exclusive and value == minimum):
            op = ">" if exclusive else ">="
            raise ConfigError(f"{key}: {value} is out of range; allowed: a number {op} {minimum:g}")
        return float(value)

    return check


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _url(*schemes: str) -> Validator:
    def check(key: str, value: Any) -> str:
        value = _string(nonempty=True)(key, value).strip()
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            raise ConfigError(f"{key}: {value!r} is not a URL; allowed: a {' or '.join(schemes)} URL")
        return value.rstrip("/")

    return check


def _list(item: Validator, *, nonempty: bool = False) -> Validator:
    def check(key: str, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str):  # environment form: comma separated
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {_type_name(value)}")
        if nonempty and not value:
            raise ConfigError(f"{key}: must not be empty")
        return tuple(item(f"{key}[{i}]", v) for i, v in enumerate(value))

    return check


def _snowflake() -> Validator:
    def check(key: str, value: Any) -> int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{key}: expected a Discord id (a positive integer), got {value!r}")
        return value

    return check


def _host() -> Validator:
    def check(key: str, value: Any) -> str:
        value = _string(nonempty=True)(key, value).strip().lower()
        if "/" in value or " " in value or value.startswith("."):
            raise ConfigError(f"{key}: {value!r} is not a host name; allowed: a host such as example.com")
        return value

    return check


def _choice(*allowed: str, upper: bool = False) -> Validator:
    def check(key: str, value: Any) -> str:
        value = _string()(key, value)
        if upper:
            value = value.upper()
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not allowed; allowed: {', '.join(allowed)}")
        return value

    return check


def _timezone() -> Validator:
    def check(key: str, value: Any) -> str:
        value = _string(nonempty=True)(key, value)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{key}: {value!r} is not a known time zone; allowed: an IANA name such as "
                              "UTC or Europe/Berlin") from None
        return value

    return check


SCHEMA: dict[str, dict[str, Validator]] = {
    "discord": {
        "token": _string(),
        "api_base": _url("https", "http"),
        "gateway_url": _url("wss", "ws"),
        "dev_guild_ids": _list(_snowflake()),
        "sync_on_start": _bool(),
        "connect_timeout_seconds": _number(minimum=0, exclusive=True),
    },
    "hub": {
        "base_url": _url("https", "http"),
        "api_key": _string(),
        "timeout_seconds": _number(minimum=0, exclusive=True),
        "max_concurrency": _int(minimum=1, maximum=64),
        "image_hosts": _list(_host()),
        "image_base_url": _url("https", "http"),
    },
    "database": {"path": _string(nonempty=True)},
    "cache": {"ttl_seconds": _int(minimum=0)},
    "feeds": {
        "poll_interval_seconds": _int(minimum=1),
        "max_posts_per_poll": _int(minimum=1, maximum=100),
        "max_failures": _int(minimum=1, maximum=100),
    },
    "digests": {"default_timezone": _timezone()},
    "intake": {
        "allowed_hosts": _list(_host()),
        "allow_private_networks": _bool(),
        "max_file_bytes": _int(minimum=1),
        "work_dir": _string(nonempty=True),
        "max_concurrent_jobs": _int(minimum=1, maximum=32),
    },
    "security": {"secret_key": _secret(min_length=16)},  # bot.core.crypto.MIN_SECRET_LENGTH
    "logging": {"level": _choice(*LOG_LEVELS, upper=True)},
}

_SECTION_TYPES = {f.name: f.default_factory for f in fields(Settings)}  # type: ignore[misc]


# --------------------------------------------------------------------------- loading


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    require_file: bool = True,
) -> Settings:
    """Read the TOML file at ``path`` (default ``BOT_CONFIG`` or ``config.toml``), apply env overrides,
    validate everything, and return the frozen settings. Raises ``ConfigError``."""
    env = os.environ if env is None else env
    path = Path(path or env.get("BOT_CONFIG") or DEFAULT_CONFIG_PATH)
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the file: {exc.strerror}") from None
    elif require_file:
        raise ConfigError(f"{path}: no such config file (copy config.example.toml to start)")
    return settings_from_mapping(data, env=env)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """What the command line loaded: the settings, the file it looked for, whether it was there."""

    settings: Settings
    path: Path
    found: bool

    def notes(self) -> list[str]:
        """Where the settings came from, one line (the command line logs it at INFO)."""
        if self.found:
            return [f"config file {self.path}"]
        return [f"no config file at {self.path}: using defaults and the environment"]


def load_config(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """The command line's loader. A file named with ``--config`` (``path``) or ``BOT_CONFIG`` must
    exist; without either, ``config.toml`` is read if it is there, and otherwise every key takes its
    default and the environment supplies the rest (the token). Raises ``ConfigError``."""
    env = os.environ if env is None else env
    if path is not None:
        source, given = Path(path), "--config"
    elif env.get("BOT_CONFIG"):
        source, given = Path(env["BOT_CONFIG"]), "BOT_CONFIG"
    else:
        source, given = Path(DEFAULT_CONFIG_PATH), ""
    found = source.exists()
    if given and not found:
        raise ConfigError(f"{source}: no such config file (named by {given}; copy config.example.toml "
                          f"there, or name no file to run on the defaults)")
    return LoadedConfig(load_settings(source, env=env, require_file=False), source, found)


def settings_from_mapping(data: Mapping[str, Any], *, env: Mapping[str, str] | None = None) -> Settings:
    """Validate a parsed TOML mapping (plus env overrides) into ``Settings``."""
    for section, values in data.items():
        if section not in SCHEMA:
            raise ConfigError(f"{section}: unknown section; allowed: {', '.join(SCHEMA)}")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section}: expected a table ([{section}]), got {_type_name(values)}")
        for key in values:
            if key not in SCHEMA[section]:
                raise ConfigError(
                    f"{section}.{key}: unknown key; allowed in [{section}]: {', '.join(SCHEMA[section])}"
                )
    merged: dict[str, dict[str, Any]] = {s: dict(data.get(s, {})) for s in SCHEMA}
    for env_name, dotted in ENV_OVERRIDES.items():
        value = (env or {}).get(env_name)
        if value is not None and value != "":
            section, key = dotted.split(".")
            merged[section][key] = value

    sections: dict[str, Any] = {}
    for section, rules in SCHEMA.items():
        default = _SECTION_TYPES[section]()
        kwargs = {key: rules[key](f"{section}.{key}", merged[section][key])
                  for key in rules if key in merged[section]}
        sections[section] = type(default)(**kwargs)
    return Settings(**sections)


def config_warnings(settings: Settings) -> list[str]:
    """Valid but doubtful settings, one line each, for the command line to show as warnings (it
    does, once logging is set up: ``run`` and ``sync`` log them, ``check-config`` prints them)."""
    warnings: list[str] = []
    host = urlsplit(settings.hub.base_url).hostname or ""
    if settings.feeds.poll_interval_seconds < 300 and host.endswith("civitai.com"):
        warnings.append(
            f"feeds.poll_interval_seconds is {settings.feeds.poll_interval_seconds} s; the public hub's "
            "edge cache is 5 minutes, so polling it faster than every 300 s gains nothing"
        )
    return warnings
