"""Link intake end to end (issue 12): /intake url against a loopback file server with Range support,
the moderators' card, Approve after a restart, and a job that outlives its interaction token."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from pathlib import Path
from typing import Any

import blake3
import pytest

from tests.fakes.file_server import FileServer
from tests.fakes.model_files import kohya_metadata, lora_sdxl
from tests.support import BotWorld, bot_world

MiB = 1024 * 1024


def _intake(tmp_path: Path) -> dict[str, Any]:
    # the loopback file server is plain http on 127.0.0.1: only allowed with allow_private_networks (tests)
    return {"allowed_hosts": ["127.0.0.1"], "allow_private_networks": True, "work_dir": str(tmp_path / "intake"),
            "max_concurrent_jobs": 2}


def expected_hashes(data: bytes) -> dict[str, str]:
    """The hub's six hashes, straight from their definitions (intake.md §1), not from the bot's code."""
    n = int.from_bytes(data[:8], "little")
    tail = data[8 + n:] if n < 16 * MiB else data[8:]
    return {
        "SHA256": hashlib.sha256(data).hexdigest().upper(),
        "AutoV1": hashlib.sha256(data[0x100000:0x110000]).hexdigest().upper()[:8],
        "AutoV2": hashlib.sha256(data).hexdigest().upper()[:10],
        "AutoV3": hashlib.sha256(tail).hexdigest().upper()[:12],
        "CRC32": zlib.crc32(data).to_bytes(4, "little").hex().upper(),
        "BLAKE3": blake3.blake3(data).hexdigest().upper(),
    }


async def _reply(rec: Any, *, wait: float = 10) -> dict[str, Any]:
    """The command's answer: at once (a refusal on its face), or after "thinking" (the job's first report)."""
    response = await rec.wait_response()
    if response["type"] == 4:
        return response["data"]
    return await rec.wait_original(lambda m: bool(m.get("content")), timeout=wait)


async def _set(world: BotWorld, key: str, value: str) -> None:
    rec = await world.slash("settings set", user="manager", options={"key": key, "value": value})
    assert "is now" in (await rec.wait_response())["data"]["content"]


def _card(world: BotWorld) -> dict[str, Any] | None:
    message = world.fake.last_message(world.channel("feeds"))
    return message if message and message.get("embeds") and message.get("components") else None


def _buttons(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["custom_id"]: c for row in message.get("components") or [] for c in row.get("components", [])
            if c.get("custom_id")}


async def test_a_lora_link_is_inspected_by_header_hashed_vetted_and_approved_after_a_restart(tmp_path: Path) -> None:
    path = lora_sdxl(tmp_path / "pixel_lora.safetensors", pad_to=3 * MiB,
                     metadata=kohya_metadata("sdxl_base_v1-0"))
    data = path.read_bytes()
    async with FileServer() as files, bot_world(tmp_path, start=False, intake=_intake(tmp_path)) as world:
        files.add_file("/loras/pixel_lora.safetensors", path, filename="pixel_lora.safetensors")
        url = files.url("/loras/pixel_lora.safetensors")
        async with world.running():
            await _set(world, "intake_channel", str(world.channel("feeds")))
            rec = await world.slash("intake url", options={"url": url, "notes": "My first LoRA @everyone"})
            reply = await _reply(rec)
            assert reply["flags"] & 64 and "Submission #1" in reply["content"]
            await world.fake.wait_until(lambda: _card(world) is not None, timeout=20)
            card = _card(world)
            assert card is not None
            # the progress message ended on the outcome, edited in place
            final = await rec.wait_original(lambda m: "moderators decide" in (m.get("content") or ""), timeout=10)
            assert "Submission #1" in final["content"]

        # the header was read with Range requests before the one full download
        lora = "/loras/pixel_lora.safetensors"
        ranged, full = files.ranged_gets(lora), files.full_gets(lora)
        assert ranged and len(full) == 1
        assert files.requests.index(ranged[0]) < files.requests.index(full[0])
        assert all(int(r.range.split("-")[1]) < 100_000 for r in ranged)  # the first 100 kB at most

        embed = card["embeds"][0]
        for kind, value in expected_hashes(data).items():
            assert f"{kind}: `{value}`" in embed_field(embed, "Hashes"), (kind, value)
        assert "LORA" in embed_field(embed, "Detected") and "SDXL 1.0" in embed_field(embed, "Detected")
        assert "safe" in embed_field(embed, "Scan")
        assert f"<@{world.member('member')}>" in embed["description"] and "@\u200beveryone" in embed["description"]
        assert not any((tmp_path / "intake").iterdir())  # the temp file is gone

        async with world.running():  # Approve works after a restart, for moderators only
            buttons = _buttons(card)
            approve = next(cid for cid in buttons if cid.startswith("intake:approve:"))
            rec = await world.fake.click(card, approve, user_id=world.member("member"))
            assert "moderator" in (await rec.wait_response())["data"]["content"].lower()
            rec = await world.fake.click(card, approve, user_id=world.member("moderator"))
            assert "Submission #1 approved" in (await _reply(rec))["content"]  # the moderator hears back
            dm = world.fake.dm_channel(world.member("member")).id
            await world.fake.wait_until(lambda: world.fake.last_message(dm) is not None, timeout=10)
            told = world.fake.last_message(dm)
            assert told is not None and "approved" in told["content"] and told["attachments"]
            assert "/models/create" in told["content"]
            (attachment,) = told["attachments"]
            draft = json.loads(world.fake.attachments[int(attachment["id"])])
            assert (draft["type"], draft["baseModel"], draft["file"]["hashes"]["SHA256"]) == \
                ("LORA", "SDXL 1.0", expected_hashes(data)["SHA256"])
            assert draft["source"] == url and draft["file"]["sizeKB"] == round(len(data) / 1024, 3)
        state = sqlite3.connect(world.db_path).execute("SELECT state, decided_by FROM intake_jobs").fetchone()
        assert state == ("approved", world.member("moderator"))


def embed_field(embed: dict[str, Any], name: str) -> str:
    return next((f["value"] for f in embed.get("fields", []) if f["name"] == name), "")


async def test_a_job_that_outlives_its_interaction_token_still_reports(tmp_path: Path) -> None:
    async with FileServer() as files, bot_world(tmp_path, intake=_intake(tmp_path)) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        # a slow download: 40 chunks of 64 KiB, one every 0.1 s
        files.add_stream("/slow/old_model.ckpt", chunk=b"\x80\x02}q\x00." + b"\0" * (65536 - 6), interval=0.1,
                         total=40 * 65536, content_length=40 * 65536)
        rec = await world.slash("intake url", options={"url": files.url("/slow/old_model.ckpt")})
        assert "Submission #1" in (await _reply(rec))["content"]
        world.fake.advance_clock(16 * 60)  # Discord's 15-minute token is now dead: edits through it fail
        dm = world.fake.dm_channel(world.member("member")).id
        await world.fake.wait_until(lambda: "Submission #1" in ((world.fake.last_message(dm) or {}).get("content")
                                                                 or ""), timeout=20)
        await world.fake.wait_until(lambda: _card(world) is not None, timeout=20)
        await world.fake.wait_until(lambda: "moderators decide" in (world.fake.last_message(dm) or {})["content"],
                                    timeout=10)
        assert len(world.fake.messages[dm]) == 1  # one progress message of the bot's own, edited
        assert rec.rejected  # the fake did refuse the dead token, and the bot moved on to its own message


async def test_a_file_the_hub_has_stops_before_the_download_and_a_reject_tells_why(tmp_path: Path) -> None:
    known = lora_sdxl(tmp_path / "known.safetensors", metadata=kohya_metadata("sdxl_base_v1-0"))
    fresh = lora_sdxl(tmp_path / "fresh.safetensors", metadata=kohya_metadata("sdxl_base_v1-0", dim=16))
    async with FileServer() as files, bot_world(tmp_path, intake=_intake(tmp_path)) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        sha = files.add_huggingface("/org/repo/resolve/main/known.safetensors", known.read_bytes(),
                                    filename="known.safetensors")
        model = world.hub.publish_model(type="LORA", name="Already Here", image_levels=[1])
        model["modelVersions"][0]["files"][0]["hashes"]["SHA256"] = sha.upper()
        world.hub.add_model(model)

        rec = await world.slash("intake url", options={"url": files.url("/org/repo/resolve/main/known.safetensors")})
        await rec.wait_response()
        done = await rec.wait_original(lambda m: "already on the hub" in (m.get("content") or ""), timeout=15)
        assert f"/models/{model['id']}?modelVersionId={model['modelVersions'][0]['id']}" in done["content"]
        assert files.full_gets() == []  # Hugging Face told the SHA-256: no download at all
        assert _card(world) is None

        files.add_file("/m/fresh.safetensors", fresh, filename="fresh.safetensors")
        rec = await world.slash("intake url", options={"url": files.url("/m/fresh.safetensors")})
        await rec.wait_response()
        await world.fake.wait_until(lambda: _card(world) is not None, timeout=20)
        card = _card(world)
        assert card is not None
        reject = next(cid for cid in _buttons(card) if cid.startswith("intake:reject:"))
        click = await world.fake.click(card, reject, user_id=world.member("moderator"))
        modal = (await click.wait_response())["data"]
        done = await world.fake.submit_modal(modal["custom_id"], {"intake:reject:reason": "Please add a preview"},
                                             guild_id=world.guild.id, channel_id=world.channel("feeds"),
                                             user_id=world.member("moderator"))
        await done.wait_response()
        dm = world.fake.dm_channel(world.member("member")).id
        await world.fake.wait_until(lambda: "rejected" in ((world.fake.last_message(dm) or {}).get("content") or ""))
        assert "Please add a preview" in world.fake.last_message(dm)["content"]
        with pytest.raises(LookupError):  # decided: the card lost its buttons, a second decision cannot happen
            await world.fake.click(card, reject, user_id=world.member("moderator"))


async def test_one_job_per_member_a_queue_for_the_rest_and_cancel(tmp_path: Path) -> None:
    settings = {**_intake(tmp_path), "max_concurrent_jobs": 1}
    async with FileServer() as files, bot_world(tmp_path, intake=settings) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        files.add_stream("/slow/a.ckpt", chunk=b"\0" * 65536, interval=0.2, total=200 * 65536,
                         content_length=200 * 65536)
        files.add_stream("/slow/b.ckpt", chunk=b"\0" * 65536, interval=0.2, total=200 * 65536,
                         content_length=200 * 65536)
        first = await world.slash("intake url", options={"url": files.url("/slow/a.ckpt")})
        await first.wait_response()
        again = await world.slash("intake url", options={"url": files.url("/slow/b.ckpt")})
        assert "in progress already (#1)" in (await _reply(again))["content"]
        other = await world.slash("intake url", user="moderator", options={"url": files.url("/slow/b.ckpt")})
        assert "next in line" in (await _reply(other))["content"]  # one at a time: it queues

        rec = await world.slash("intake cancel", user="moderator", options={"id": 1})
        assert "cancelled" in (await rec.wait_response())["data"]["content"]  # a moderator may cancel any
        state = sqlite3.connect(world.db_path).execute("SELECT state FROM intake_jobs WHERE id = 1").fetchone()
        assert state == ("cancelled",)
        await world.fake.wait_until(lambda: sqlite3.connect(world.db_path).execute(
            "SELECT state FROM intake_jobs WHERE id = 2").fetchone() == ("running",), timeout=10)
        assert not list((tmp_path / "intake").glob("job-1*"))  # the cancelled job's file is gone
        rec = await world.slash("intake cancel", options={"id": 2})  # not hers
        assert "Only the member who submitted it" in (await rec.wait_response())["data"]["content"]
        rec = await world.slash("intake queue", user="moderator")
        queue = (await rec.wait_response())["data"]["embeds"][0]["description"]
        assert "#2" in queue and "#1" not in queue


async def test_links_the_intake_refuses_say_why(tmp_path: Path) -> None:
    async with FileServer() as files, bot_world(tmp_path, intake=_intake(tmp_path)) as world:
        rec = await world.slash("intake url", options={"url": files.url("/m/x.safetensors")})
        assert "no intake channel" in (await _reply(rec))["content"]
        await _set(world, "intake_channel", str(world.channel("feeds")))
        for url, why in (("https://internal.example.com/x.safetensors", "not an allowed host"),
                         ("ftp://127.0.0.1/x.safetensors", "http"),
                         (files.url("/login"), "web page")):
            files.add_html("/login")
            rec = await world.slash("intake url", options={"url": url})
            text = (await _reply(rec))["content"]
            if "Submission #" in text:  # accepted on its face: the refusal comes as the job's outcome
                text = (await rec.wait_original(lambda m: "failed" in (m.get("content") or ""), timeout=10))["content"]
            assert why in text.lower(), (url, text)


async def test_a_pickle_that_runs_code_reaches_the_moderators_marked_dangerous(tmp_path: Path) -> None:
    # GLOBAL os.system, a string, a 1-tuple, REDUCE: what `pickle.loads` would run. Built by hand, never loaded.
    evil = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03."
    async with FileServer() as files, bot_world(tmp_path, intake=_intake(tmp_path)) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        files.add_file("/m/evil.ckpt", evil, filename="evil.ckpt")
        rec = await world.slash("intake url", options={"url": files.url("/m/evil.ckpt")})
        await rec.wait_response()
        await world.fake.wait_until(lambda: _card(world) is not None, timeout=20)
        card = _card(world)
        assert card is not None
        scan = embed_field(card["embeds"][0], "Scan")
        assert "dangerous" in scan and "os.system" in scan


async def test_a_download_cut_by_a_restart_runs_again_and_finishes(tmp_path: Path) -> None:
    async with FileServer() as files, bot_world(tmp_path, start=False, intake=_intake(tmp_path)) as world:
        files.add_stream("/slow/resumed.ckpt", chunk=b"\0" * 65536, interval=0.05, total=60 * 65536,
                         content_length=60 * 65536)
        async with world.running():
            await _set(world, "intake_channel", str(world.channel("feeds")))
            rec = await world.slash("intake url", options={"url": files.url("/slow/resumed.ckpt")})
            await rec.wait_response()
            await world.fake.wait_until(lambda: any(r.sent for r in files.full_gets()), timeout=10)
        # stopped mid-download: the job is still 'running' in SQLite, its temp file deleted at stop
        assert sqlite3.connect(world.db_path).execute("SELECT state FROM intake_jobs").fetchone() == ("running",)
        assert not list((tmp_path / "intake").glob("job-*"))
        async with world.running():  # ... and runs again from the link after the restart
            await world.fake.wait_until(lambda: _card(world) is not None, timeout=30)
        assert len(files.full_gets("/slow/resumed.ckpt")) == 2
        assert sqlite3.connect(world.db_path).execute("SELECT state FROM intake_jobs").fetchone() == ("review",)


async def test_what_a_restart_left_untold_is_told_at_start(tmp_path: Path) -> None:
    async with FileServer() as files, bot_world(tmp_path, start=False, intake=_intake(tmp_path)) as world:
        work = tmp_path / "intake"
        work.mkdir()
        (work / "job-99.part").write_bytes(b"left by a crash")  # an orphan of an earlier run
        async with world.running():
            await _set(world, "intake_channel", str(world.channel("feeds")))
        now = 1_800_000_000.0
        conn = sqlite3.connect(world.db_path)
        with conn:  # as a crash leaves them: checked but no card; cut short by restarts three times already
            conn.execute("INSERT INTO intake_jobs (guild_id, user_id, url, state, file_name, size, result, created_at, "
                         "updated_at) VALUES (?, ?, ?, 'review', 'card_lost.safetensors', 1000, '{}', ?, ?)",
                         (world.guild.id, world.member("member"), files.url("/m/card_lost.safetensors"), now, now))
            conn.execute("INSERT INTO intake_jobs (guild_id, user_id, url, state, attempts, created_at, updated_at) "
                         "VALUES (?, ?, ?, 'running', 3, ?, ?)",
                         (world.guild.id, world.member("moderator"), files.url("/m/crashes.ckpt"), now, now))
        conn.close()
        async with world.running():
            await world.fake.wait_until(lambda: _card(world) is not None, timeout=10)
            card = _card(world)
            assert card is not None and "card_lost.safetensors" in card["embeds"][0]["title"]
            dm = world.fake.dm_channel(world.member("moderator")).id
            await world.fake.wait_until(lambda: world.fake.last_message(dm) is not None, timeout=10)
            assert "restarted during it 3 times" in world.fake.last_message(dm)["content"]
        assert not (work / "job-99.part").exists()
        assert files.requests == []  # neither job fetched anything again


async def test_closed_dms_send_the_outcome_and_the_draft_to_the_intake_channel(tmp_path: Path) -> None:
    path = lora_sdxl(tmp_path / "dm_less.safetensors", metadata=kohya_metadata("sdxl_base_v1-0"))
    async with FileServer() as files, bot_world(tmp_path, intake=_intake(tmp_path)) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        world.fake.users[world.member("member")].accepts_dms = False
        files.add_file("/m/dm_less.safetensors", path, filename="dm_less.safetensors")
        rec = await world.slash("intake url", options={"url": files.url("/m/dm_less.safetensors")})
        await _reply(rec)
        await world.fake.wait_until(lambda: _card(world) is not None, timeout=20)
        card = _card(world)
        assert card is not None and "`http://127.0.0.1" in card["embeds"][0]["description"]  # shown, not a link
        approve = next(cid for cid in _buttons(card) if cid.startswith("intake:approve:"))
        click = await world.fake.click(card, approve, user_id=world.member("moderator"))
        assert "approved" in (await _reply(click))["content"]
        told = [m for m in world.fake.messages[world.channel("feeds")]
                if m["content"].startswith(f"<@{world.member('member')}>")]
        assert len(told) == 1 and "approved" in told[0]["content"]
        (attachment,) = told[0]["attachments"]
        assert json.loads(world.fake.attachments[int(attachment["id"])])["type"] == "LORA"  # a fresh, full file


async def test_a_link_with_a_key_in_it_is_refused_and_queue_places_count_right(tmp_path: Path) -> None:
    settings = {**_intake(tmp_path), "max_concurrent_jobs": 1}
    async with FileServer() as files, bot_world(tmp_path, intake=settings) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        rec = await world.slash("intake url", options={"url": files.url("/m/x.safetensors") + "?token=abcd1234"})
        text = (await _reply(rec))["content"]
        assert "carries a key" in text and "abcd1234" not in text
        for name in ("a", "b", "c"):
            files.add_stream(f"/slow/{name}.ckpt", chunk=b"\0" * 65536, interval=0.2, total=100 * 65536,
                             content_length=100 * 65536)
        replies = []
        for user, name in (("member", "a"), ("moderator", "b"), ("owner", "c")):
            rec = await world.slash("intake url", user=user, options={"url": files.url(f"/slow/{name}.ckpt")})
            replies.append((await _reply(rec))["content"])
            if name == "a":  # the first one starts (its reply comes first, then it runs): the others queue
                await world.fake.wait_until(lambda: sqlite3.connect(world.db_path).execute(
                    "SELECT state FROM intake_jobs WHERE url LIKE '%/a.ckpt'").fetchone() == ("running",))
        assert "next in line" in replies[1] and "1 ahead of it" in replies[2]


async def test_an_intake_role_limits_who_may_submit(tmp_path: Path) -> None:
    async with FileServer() as files, bot_world(tmp_path, intake=_intake(tmp_path)) as world:
        await _set(world, "intake_channel", str(world.channel("feeds")))
        await _set(world, "intake_role", "Moderators")
        files.add_file("/m/role.ckpt", b"\x80\x02}q\x00.", filename="role.ckpt")
        rec = await world.slash("intake url", options={"url": files.url("/m/role.ckpt")})
        assert "role here" in (await _reply(rec))["content"]
        assert files.requests == []
        rec = await world.slash("intake url", user="moderator", options={"url": files.url("/m/role.ckpt")})
        assert "Submission #1" in (await _reply(rec))["content"]
