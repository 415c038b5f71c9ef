"""A newcomer's first run (issue 9): ``python -m bot run`` / ``sync`` as processes.

Expected failures — a Discord that accepts connections and never answers, a refused port, a host
that does not resolve, a bad token, a Discord 5xx — end within a bounded time with exit 1 and one
line that names what could not be reached, never a traceback. No config file: the defaults. The
command line explains itself. Nothing here reaches the internet (``.invalid`` never resolves).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest

from bot import __main__ as cli
from bot.config import UNUSED_SECTIONS, Settings
from bot.logs import configure_logging
from bot.runner import _brief_reconnects, describe_failure
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.hub_server import FakeHub
from tests.support import TOKEN

REPO = Path(__file__).resolve().parents[1]
ERROR_LINE = re.compile(r"^\S+ \S+ (ERROR|CRITICAL)\s", re.M)


def _env(**extra: str) -> dict[str, str]:
    """The parent's environment without the bot's variables (as on a newcomer's machine), the
    repository importable from any directory, and ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DISCORD_TOKEN", "CIVITAI_API_KEY", "BOT_CONFIG", "BOT_DATABASE", "HUB_BASE_URL",
                        "DISCORD_API_BASE", "DISCORD_GATEWAY_URL", "BOT_SECRET_KEY"}}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


async def _bot(*args: str, cwd: Path, env: dict[str, str], limit: float = 30) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=cwd, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=limit)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode(), time.monotonic() - started


def _one_clear_line(stderr: str, *names: str) -> str:
    """The failure is one ERROR line naming what could not be reached, and there is no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = ERROR_LINE.findall(stderr)
    assert len(errors) == 1, stderr
    line = next(x for x in stderr.splitlines() if ERROR_LINE.match(x))
    for name in names:
        assert name in line, line
    assert TOKEN not in stderr
    return line


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """Accepts TCP connections and never answers (nor closes them)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)


def _config(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[discord]\nconnect_timeout_seconds = 1.5\n' + text)
    return path


# --------------------------------------------------------------------------- 1. bounded connect


async def test_a_discord_that_never_answers_is_given_up_within_the_timeout(tmp_path: Path) -> None:
    async with _silent_server() as port, FakeHub(samples=False) as hub:
        env = _env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=f"http://127.0.0.1:{port}/api/v10",
                   DISCORD_GATEWAY_URL=f"ws://127.0.0.1:{port}", HUB_BASE_URL=hub.base_url,
                   BOT_DATABASE=str(tmp_path / "bot.sqlite3"))
        config = str(_config(tmp_path))
        (run, _, run_err, run_time), (sync, _, sync_err, sync_time) = await asyncio.gather(
            _bot("run", "--config", config, cwd=tmp_path, env=env),
            _bot("sync", "--config", config, cwd=tmp_path, env=env))
    assert (run, sync) == (1, 1), run_err + sync_err
    assert run_time < 10 and sync_time < 10  # 1.5 s, plus starting Python and importing discord.py
    for err in (run_err, sync_err):
        line = _one_clear_line(err, f"http://127.0.0.1:{port}/api/v10", "did not answer within 1.5 s")
        assert "discord.connect_timeout_seconds" in line


async def test_a_gateway_that_never_answers_or_refuses_is_given_up_within_the_timeout(tmp_path: Path) -> None:
    closed = _closed_port()
    async with _silent_server() as port, FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN) as fake:
        fake.add_default_guild()

        def env(gateway: str, db: str) -> dict[str, str]:
            return _env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.api_base, DISCORD_GATEWAY_URL=gateway,
                        HUB_BASE_URL=hub.base_url, BOT_DATABASE=str(tmp_path / db))

        config = str(_config(tmp_path))
        silent, refused = await asyncio.gather(
            _bot("run", "--config", config, cwd=tmp_path, env=env(f"ws://127.0.0.1:{port}", "a.sqlite3")),
            _bot("run", "--config", config, cwd=tmp_path, env=env(f"ws://127.0.0.1:{closed}", "b.sqlite3")))
    assert silent[0] == 1 and silent[3] < 10, silent[2]
    _one_clear_line(silent[2], f"the Discord gateway at ws://127.0.0.1:{port}", "within 1.5 s")
    assert refused[0] == 1 and refused[3] < 10, refused[2]
    # discord.py gives up on a first connection that fails (later ones it retries, up to the bound)
    _one_clear_line(refused[2], f"the Discord gateway at ws://127.0.0.1:{closed}", "connection refused")


# --------------------------------------------------------------------------- 2. expected failures


@pytest.mark.parametrize("command", ["run", "sync"])
async def test_no_network_refused_or_unresolvable_is_one_line(tmp_path: Path, command: str) -> None:
    port = _closed_port()
    cases = {
        "refused": (f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}", "connection refused"),
        "dns": ("http://nonexistent.invalid/api/v10", "ws://nonexistent.invalid", "does not resolve"),
    }
    results = await asyncio.gather(*(
        _bot(command, cwd=tmp_path, env=_env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=api, DISCORD_GATEWAY_URL=gw,
                                             HUB_BASE_URL=f"http://127.0.0.1:{port}",
                                             BOT_DATABASE=str(tmp_path / f"{name}.sqlite3")))
        for name, (api, gw, _) in cases.items()))
    for (name, (api, _, words)), (code, _, err, elapsed) in zip(cases.items(), results, strict=True):
        assert code == 1, (name, err)
        assert elapsed < 20, name
        _one_clear_line(err, f"the Discord API at {api}", words)
        assert not (tmp_path / f"{name}.sqlite3").exists()  # it stopped before opening anything


async def test_a_bad_token_and_a_discord_server_error_are_one_line(tmp_path: Path) -> None:
    async with FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN) as fake:
        fake.add_default_guild()

        def env(token: str, db: str) -> dict[str, str]:
            return _env(DISCORD_TOKEN=token, DISCORD_API_BASE=fake.api_base, DISCORD_GATEWAY_URL=fake.gateway_url,
                        HUB_BASE_URL=hub.base_url, BOT_DATABASE=str(tmp_path / db))

        bad = "MTE4MDAwMDAwMDAwMDAwMDAwMQ.wrong.token-nobody-issued"
        config = str(_config(tmp_path))
        run, sync = await asyncio.gather(_bot("run", "--config", config, cwd=tmp_path, env=env(bad, "a.sqlite3")),
                                         _bot("sync", "--config", config, cwd=tmp_path, env=env(bad, "b.sqlite3")))
        for code, _, err, _ in (run, sync):
            assert code == 1, err
            line = _one_clear_line(err, "Discord refused the token", "DISCORD_TOKEN")
            assert bad not in err and "401" in line

        fake.fail_next("GET", r"^/users/@me$", 503, times=2)
        run, sync = await asyncio.gather(_bot("run", "--config", config, cwd=tmp_path, env=env(TOKEN, "c.sqlite3")),
                                         _bot("sync", "--config", config, cwd=tmp_path, env=env(TOKEN, "d.sqlite3")))
        for code, _, err, _ in (run, sync):
            assert code == 1, err
            _one_clear_line(err, f"the Discord API at {fake.api_base}", "answered 503")
    assert fake.identify_payloads == []  # none of them got as far as the gateway


def test_failures_are_described_in_one_line_and_bugs_are_not() -> None:
    what = "the Discord API at https://discord.example/api/v10"
    key = aiohttp.client_reqrep.ConnectionKey("discord.example", 443, True, None, None, None, None)
    tls = aiohttp.ClientConnectorCertificateError(key, ValueError("certificate has expired"))
    assert describe_failure(tls, what=what).startswith(f"cannot reach {what}: TLS error")
    unreachable = aiohttp.ClientConnectorError(key, OSError(101, "Network is unreachable"))
    assert describe_failure(unreachable, what=what) == f"cannot reach {what}: Network is unreachable"
    assert describe_failure(TimeoutError(), what=what) == f"{what} did not answer in time"
    closed = discord.ConnectionClosed(type("Socket", (), {"close_code": 4004})(), shard_id=None)
    assert "refused the token" in describe_failure(closed, what=what)
    for text in (describe_failure(e, what=what) for e in (tls, unreachable, closed)):
        assert "\n" not in text
    assert describe_failure(KeyError("a bug"), what=what) is None
    assert describe_failure(RuntimeError("a bug"), what=what) is None


# --------------------------------------------------------------------------- 4. no config file


async def test_no_config_file_starts_on_the_defaults(tmp_path: Path) -> None:
    async with FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN) as fake:
        fake.add_default_guild()
        env = _env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.api_base, DISCORD_GATEWAY_URL=fake.gateway_url,
                   HUB_BASE_URL=hub.base_url)  # nothing else: no file, no database path
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await fake.wait_for_ready(timeout=30)
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), timeout=15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    stderr = err.decode()
    assert proc.returncode == 0, stderr
    assert "no config file at config.toml: using defaults and the environment" in stderr
    assert "Traceback" not in stderr and TOKEN not in stderr
    assert (tmp_path / "data" / "bot.sqlite3").is_file()  # the default database.path


async def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    env = _env(DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=f"http://127.0.0.1:{_closed_port()}/api/v10")
    (flag, _, flag_err, _), (var, _, var_err, _) = await asyncio.gather(
        _bot("run", "--config", "missing.toml", cwd=tmp_path, env=env),
        _bot("run", cwd=tmp_path, env={**env, "BOT_CONFIG": str(tmp_path / "gone.toml")}))
    assert flag == 1 and "missing.toml: no such config file (named by --config" in flag_err
    assert var == 1 and "gone.toml: no such config file (named by BOT_CONFIG" in var_err
    assert "Traceback" not in flag_err + var_err


# --------------------------------------------------------------------------- 5. the command line explains itself


def test_run_and_sync_help_describe_their_options(capsys: pytest.CaptureFixture[str]) -> None:
    texts = {}
    for command in ("run", "sync", "check-config"):
        with pytest.raises(SystemExit) as done:
            cli.main([command, "--help"])
        assert done.value.code == 0
        texts[command] = capsys.readouterr().out
    for text in texts.values():
        assert "--config PATH" in text and "BOT_CONFIG" in text and "DISCORD_TOKEN" in text
        assert "it exists" in text  # the file is optional unless named
    assert "connect_timeout_seconds" in texts["run"] and "SIGTERM" in texts["run"]
    assert "--guild ID" in texts["sync"] and "guild (server) id" in texts["sync"]
    assert "REST only" in texts["sync"]


async def test_a_short_poll_interval_reads_as_a_warning(tmp_path: Path) -> None:
    config = tmp_path / "short.toml"
    config.write_text("[feeds]\npoll_interval_seconds = 60\n")
    env = _env()  # no token: `run` stops at once, after the warning
    (run, _, run_err, _), (check, _, check_err, _) = await asyncio.gather(
        _bot("run", "--config", str(config), cwd=tmp_path, env=env),
        _bot("check-config", "--config", str(config), cwd=tmp_path, env=env))
    assert run == 2 and check == 0
    warned = [line for line in run_err.splitlines() if "poll_interval_seconds" in line]
    assert len(warned) == 1 and " WARNING " in warned[0] and " bot: " in warned[0]
    assert "warning: feeds.poll_interval_seconds is 60 s" in check_err


def test_check_config_lists_every_section_and_none_as_unused(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_CONFIG", "DISCORD_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert UNUSED_SECTIONS == ()  # every feature is built: no section is read for nothing
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "no file at config.toml" in out and "not used yet" not in out
    assert all(f"[{s}]\n" in out for s in Settings.__dataclass_fields__)

    monkeypatch.setattr(cli, "UNUSED_SECTIONS", ("intake",))  # the day a new section lands before its feature
    assert cli.main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "[intake]  # not used yet" in out and "# not used yet (their features are not built): [intake]" in out


def test_the_example_config_marks_the_same_sections_unused() -> None:
    marked = re.findall(r"^\[(\w+)\]\s+# not used yet", (REPO / "config.example.toml").read_text(), re.M)
    assert tuple(marked) == UNUSED_SECTIONS


def test_discord_reconnects_after_start_log_one_line_not_a_traceback() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", stream=stream, brief=_brief_reconnects(Settings()))
    try:
        key = aiohttp.client_reqrep.ConnectionKey("gateway.discord.gg", 443, True, None, None, None, None)
        try:
            raise aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connect call failed"))
        except aiohttp.ClientError:
            logging.getLogger("discord.client").exception("Attempting a reconnect in %.2fs", 1.5)
        try:
            raise KeyError("a bug")
        except KeyError:
            logging.getLogger("discord.client").exception("Ignoring exception in on_ready")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    first, *rest = stream.getvalue().splitlines()
    assert " WARNING " in first and "Attempting a reconnect in 1.50s: cannot reach the Discord gateway at " \
        "wss://gateway.discord.gg: connection refused" in first
    assert " ERROR " in rest[0] and "Traceback" in rest[1]  # a bug keeps its traceback
