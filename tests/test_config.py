from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import (
    UNUSED_SECTIONS,
    ConfigError,
    Settings,
    config_warnings,
    load_config,
    load_settings,
    settings_from_mapping,
)
from bot.logs import configure_logging

REPO = Path(__file__).resolve().parents[1]
TOKEN = "MTIzNDU2Nzg5.secret-token-value.xyz"


def test_defaults_match_the_spec() -> None:
    s = settings_from_mapping({}, env={})
    assert s.discord.api_base == "https://discord.com/api/v10"
    assert s.hub.base_url == "https://civitai.com"
    assert s.hub.image_hosts == ("image.civitai.com",)
    assert s.cache.ttl_seconds == 300
    assert s.feeds.poll_interval_seconds == 600 and s.feeds.max_posts_per_poll == 10
    assert s.intake.max_file_bytes == 8589934592
    assert s.database.path == "data/bot.sqlite3"
    assert s.discord.connect_timeout_seconds == 30.0
    assert s.security.secret_key == ""


def test_example_config_is_valid_and_complete() -> None:
    s = load_settings(REPO / "config.example.toml", env={})
    assert s == Settings()  # the example documents exactly the defaults


def test_env_overrides_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hub]\nbase_url = "https://civitai.com"\n[database]\npath = "x.db"\n')
    s = load_settings(path, env={"HUB_BASE_URL": "http://127.0.0.1:9999", "BOT_DATABASE": "/tmp/y.db",
                                 "DISCORD_TOKEN": TOKEN, "CIVITAI_API_KEY": "key-123",
                                 "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10",
                                 "DISCORD_GATEWAY_URL": "ws://127.0.0.1:1/"})
    assert s.hub.base_url == "http://127.0.0.1:9999"
    assert s.database.path == "/tmp/y.db"
    assert s.discord.token == TOKEN and s.hub.api_key == "key-123"
    assert s.discord.api_base == "http://127.0.0.1:1/api/v10"
    assert s.discord.gateway_url == "ws://127.0.0.1:1"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"hub": {"timeout": 3}}, "hub.timeout"),
        ({"hubb": {}}, "hubb"),
        ({"hub": {"timeout_seconds": "soon"}}, "hub.timeout_seconds"),
        ({"hub": {"timeout_seconds": 0}}, "hub.timeout_seconds"),
        ({"hub": {"max_concurrency": 0}}, "hub.max_concurrency"),
        ({"hub": {"image_hosts": "image.civitai.com/x"}}, "hub.image_hosts[0]"),
        ({"hub": {"base_url": "civitai.com"}}, "hub.base_url"),
        ({"cache": {"ttl_seconds": -1}}, "cache.ttl_seconds"),
        ({"cache": {"ttl_seconds": 1.5}}, "cache.ttl_seconds"),
        ({"feeds": {"poll_interval_seconds": 0}}, "feeds.poll_interval_seconds"),
        ({"discord": {"sync_on_start": "maybe"}}, "discord.sync_on_start"),
        ({"discord": {"dev_guild_ids": [0]}}, "discord.dev_guild_ids[0]"),
        ({"discord": {"gateway_url": "https://gateway.discord.gg"}}, "discord.gateway_url"),
        ({"discord": {"connect_timeout_seconds": 0}}, "discord.connect_timeout_seconds"),
        ({"discord": {"connect_timeout_seconds": "soon"}}, "discord.connect_timeout_seconds"),
        ({"discord": {"connect_timeout_seconds": True}}, "discord.connect_timeout_seconds"),
        ({"security": {"secret_key": 123}}, "security.secret_key"),
        ({"digests": {"default_timezone": "Mars/Olympus"}}, "digests.default_timezone"),
        ({"intake": {"allow_private_networks": 1}}, "intake.allow_private_networks"),
        ({"logging": {"level": "LOUD"}}, "logging.level"),
        ({"database": "x"}, "database"),
    ],
)
def test_bad_values_name_the_key(data: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(data, env={})
    assert str(caught.value).startswith(named + ":")


def test_bad_env_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^hub\.base_url:"):
        settings_from_mapping({}, env={"HUB_BASE_URL": "not a url"})


def test_settings_are_frozen_and_hide_secrets_in_repr() -> None:
    s = settings_from_mapping({}, env={"DISCORD_TOKEN": TOKEN, "CIVITAI_API_KEY": "hub-key-456"})
    with pytest.raises(AttributeError):
        s.hub.base_url = "x"  # type: ignore[misc]
    assert TOKEN not in repr(s) and "hub-key-456" not in repr(s)
    masked = s.masked()
    assert masked["discord"]["token"] == "********" and masked["hub"]["api_key"] == "********"
    assert s.secrets() == (TOKEN, "hub-key-456")


def test_short_poll_against_public_hub_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        short = settings_from_mapping({"feeds": {"poll_interval_seconds": 60}}, env={})
    assert caplog.text == ""  # nothing printed while loading: the command line shows it as a warning
    (warning,) = config_warnings(short)
    assert warning.startswith("feeds.poll_interval_seconds is 60 s;")
    local = settings_from_mapping({"feeds": {"poll_interval_seconds": 5},
                                   "hub": {"base_url": "http://127.0.0.1:8081"}}, env={})
    assert config_warnings(local) == [] and config_warnings(Settings()) == []


def test_connect_timeout_and_secret_key_from_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[discord]\nconnect_timeout_seconds = 2.5\n[security]\nsecret_key = \"from-the-file-0123\"\n")
    s = load_settings(path, env={"BOT_SECRET_KEY": "from-env-secret!"})
    assert s.discord.connect_timeout_seconds == 2.5
    assert s.security.secret_key == "from-env-secret!" and s.masked()["security"]["secret_key"] == "********"
    assert "from-env-secret!" in s.secrets() and "from-env-secret!" not in repr(s)
    # a short secret would make the sealed hub keys easy to open: refused, without showing it
    with pytest.raises(ConfigError, match=r"security\.secret_key: too short") as refused:
        load_settings(path, env={"BOT_SECRET_KEY": "hunter2"})
    assert "hunter2" not in str(refused.value)


def test_the_config_file_is_optional_unless_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_config(None, env={"DISCORD_TOKEN": TOKEN})
    assert not loaded.found and loaded.settings.discord.token == TOKEN
    assert loaded.settings == settings_from_mapping({}, env={"DISCORD_TOKEN": TOKEN})
    assert loaded.notes() == ["no config file at config.toml: using defaults and the environment"]
    (tmp_path / "config.toml").write_text("[cache]\nttl_seconds = 5\n")
    loaded = load_config(None, env={})
    assert loaded.found and loaded.settings.cache.ttl_seconds == 5
    with pytest.raises(ConfigError, match=r"^nope\.toml: no such config file \(named by --config"):
        load_config("nope.toml", env={})
    with pytest.raises(ConfigError, match=r"gone\.toml: no such config file \(named by BOT_CONFIG"):
        load_config(None, env={"BOT_CONFIG": str(tmp_path / "gone.toml")})
    assert load_config(None, env={"BOT_CONFIG": "config.toml"}).found


def test_unused_sections_are_real_sections() -> None:
    assert set(UNUSED_SECTIONS) <= set(Settings.__dataclass_fields__)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[hub\nbase_url = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})


def test_log_lines_never_carry_secrets() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", secrets=[TOKEN, "hub-key-456"], stream=stream)
    try:
        logging.getLogger("anything").info("connecting with %s and Bearer hub-key-456", TOKEN)
        try:
            raise RuntimeError(f"failed for {TOKEN}")
        except RuntimeError:
            logging.getLogger("anything").exception("boom")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    out = stream.getvalue()
    assert TOKEN not in out and "hub-key-456" not in out
    assert out.count("********") == 3  # two in the message, one in the exception text


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "CIVITAI_API_KEY")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_cli_check_config_masks_the_token() -> None:
    result = _cli("check-config", "--config", "config.example.toml",
                  env={"DISCORD_TOKEN": TOKEN, "CIVITAI_API_KEY": "hub-key-456"})
    assert result.returncode == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert "hub-key-456" not in result.stdout + result.stderr
    assert 'token = "********"' in result.stdout
    assert "[intake]" in result.stdout


@pytest.mark.parametrize(
    ("content", "named"),
    [('[hub]\nbase_urll = "https://civitai.com"\n', "hub.base_urll"),
     ("[cache]\nttl_seconds = \"five\"\n", "cache.ttl_seconds")],
)
def test_cli_check_config_rejects_bad_config(tmp_path: Path, content: str, named: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    result = _cli("check-config", "--config", str(path))
    assert result.returncode == 1
    assert named in result.stderr
