"""Reviews that reach the hub (issue 10, part 6): /hub link|unlink|status, hub_reviews, and /review
posting a linked member's review to the (fake) hub's tRPC ``resourceReview.upsert`` with exactly that
member's key; the key sealed at rest and never in a log line or a message."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.logs import configure_logging
from tests.support import BotWorld, bot_world

SECRET = "operator-secret-for-tests-0123456789"
SOCIAL_WRITE = 524288  # hub-api.md §1
USER_READ = 1


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """The bot's own logging set-up (as ``python -m bot run`` makes it) at DEBUG, into a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in
                                           ("httpx", "httpcore", "discord.gateway", "apscheduler", "aiosqlite")}
    buffer = io.StringIO()
    configure_logging("DEBUG", secrets=[SECRET], stream=buffer)
    try:
        yield buffer
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)


async def _reply(rec: Any) -> dict[str, Any]:
    """The message a modal submission or command ended with (direct, or after "thinking")."""
    response = await rec.wait_response()
    if response["type"] == 4:
        return response["data"]
    assert response["type"] == 5, response
    return await rec.wait_original(lambda m: bool(m.get("content") or m.get("embeds")), timeout=10)


async def _link(world: BotWorld, key: str, user: str = "member") -> dict[str, Any]:
    rec = await world.slash("hub link", user=user)
    modal = (await rec.wait_response())["data"]
    assert modal["custom_id"] and any(c.get("type") == 10 for c in modal["components"])  # says where to get a key
    rec = await world.fake.submit_modal(modal["custom_id"], {"hub:key": key}, guild_id=world.guild.id,
                                        channel_id=world.channel("general"), user_id=world.member(user))
    return await _reply(rec)


async def _review_form(world: BotWorld, model_id: int, user: str = "member") -> dict[str, Any]:
    rec = await world.slash("review", user=user, options={"model": str(model_id)})
    response = await rec.wait_response()
    assert response["type"] == 9, response
    return response["data"]


def _inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["component"]["custom_id"]: c["component"] for c in modal["components"] if c.get("type") == 18}


async def _submit_review(world: BotWorld, modal: dict[str, Any], values: dict[str, Any],
                         user: str = "member") -> dict[str, Any]:
    rec = await world.fake.submit_modal(modal["custom_id"], values, guild_id=world.guild.id,
                                        channel_id=world.channel("general"), user_id=world.member(user))
    return await _reply(rec)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row.get("components", [])]


def _database_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def _everything_discord_saw(world: BotWorld) -> str:
    return "\n".join(json.dumps(r.json) if r.json is not None else "" for r in world.fake.requests)


async def test_a_linked_member_posts_their_review_to_the_hub_with_their_own_key(tmp_path: Path,
                                                                                log_text: io.StringIO) -> None:
    async with bot_world(tmp_path, security={"secret_key": SECRET}, start=False) as world:
        alice = world.hub.add_user("alice_makes_loras", scopes={"SocialWrite", "UserRead"})
        mod_key = world.hub.add_user("mod_on_the_hub", scopes={"SocialWrite"})["key"]
        model = world.hub.publish_model(type="LORA", name="Hub Bound Lora", image_levels=[1])
        version_id = model["modelVersions"][0]["id"]
        async with world.running():
            rec = await world.slash("settings set", user="manager", options={"key": "hub_reviews", "value": "on"})
            assert "now **on**" in (await rec.wait_response())["data"]["content"]

            # a wrong key is refused at link time, and nothing is stored
            refused = await _link(world, "0123456789abcdef0123456789abcdef")
            assert "did not accept" in refused["content"] and refused["flags"] & 64
            assert sqlite3.connect(world.db_path).execute("SELECT count(*) FROM hub_links").fetchone() == (0,)

            linked = await _link(world, alice["key"])
            assert "alice\\_makes\\_loras" in linked["content"] and linked["flags"] & 64
            await _link(world, mod_key, user="moderator")  # another member's key, which must stay theirs
            stored = _database_bytes(world.db_path)
            assert alice["key"].encode() not in stored and mod_key.encode() not in stored  # sealed at rest
            assert sqlite3.connect(world.db_path).execute("SELECT count(*) FROM hub_links").fetchone() == (2,)

            modal = await _review_form(world, model["id"])
            offer = _inputs(modal)["review:hub"]
            assert offer["type"] == 23 and not offer.get("default")  # "also post on the hub", asked
            reply = await _submit_review(world, modal, {"review:verdict": ["recommend"],
                                                        "review:text": "Crisp <b>lines</b> & good hands.\nTry 0.8",
                                                        "review:hub": True})
            assert "Posted on the hub" in reply["content"] and reply["flags"] & 64
            (post,) = world.hub.review_posts
            assert post["apiKey"] == alice["key"] and post["username"] == "alice_makes_loras"  # exactly hers
            assert (post["modelId"], post["modelVersionId"], post["rating"], post["recommended"]) == \
                (model["id"], version_id, 5, True)
            assert post["details"] == "<p>Crisp &lt;b&gt;lines&lt;/b&gt; &amp; good hands.<br>Try 0.8</p>"
            assert [b["url"] for b in _buttons(reply) if b.get("url")] == \
                [f"{world.hub.base_url}/models/{model['id']}?modelVersionId={version_id}"]

            # editing it keeps the hub in step (the form comes ticked), as the member's own again
            modal = await _review_form(world, model["id"])
            assert _inputs(modal)["review:hub"].get("default") is True
            await _submit_review(world, modal, {"review:verdict": ["not"], "review:text": "", "review:hub": True})
            assert world.hub.review_by("alice_makes_loras", version_id)["recommended"] is False
            assert [p["apiKey"] for p in world.hub.review_posts] == [alice["key"]] * 2

            # the moderator did not ask: their key is never used by anyone's review
            modal = await _review_form(world, model["id"], user="moderator")
            await _submit_review(world, modal, {"review:verdict": ["recommend"], "review:hub": False},
                                 user="moderator")
            assert all(p["apiKey"] == alice["key"] for p in world.hub.review_posts)

            rec = await world.slash("reviews model", options={"model": str(model["id"])})
            page = await _reply(rec)
            assert page["embeds"][0]["description"].count("also on the hub") == 1

        async with world.running():  # links, reviews and the setting survive a restart
            rec = await world.slash("hub status")
            status = (await rec.wait_response())["data"]["content"]
            assert "alice\\_makes\\_loras" in status and "lets linked members post" in status
            rec = await world.slash("hub unlink")
            assert "deleted" in (await rec.wait_response())["data"]["content"]
            assert sqlite3.connect(world.db_path).execute(
                "SELECT count(*) FROM hub_links WHERE user_id = ?", (world.member("member"),)).fetchone() == (0,)
            modal = await _review_form(world, model["id"])
            inputs = _inputs(modal)
            assert [o["value"] for o in inputs["review:verdict"]["options"] if o.get("default")] == ["not"]  # kept
            assert "review:hub" not in inputs  # unlinked: no offer, and the hand-made way instead
            reply = await _submit_review(world, modal, {"review:verdict": ["recommend"], "review:text": "Back"})
            assert "button opens the model's page" in reply["content"]
            assert any(b.get("url", "").endswith(f"?modelVersionId={version_id}") for b in _buttons(reply))
            assert len(world.hub.review_posts) == 2

        for key in (alice["key"], mod_key):  # never echoed, logged or shown
            assert key not in _everything_discord_saw(world)
            assert key not in log_text.getvalue()
        assert "Dispatching event interaction" in log_text.getvalue()  # the log did see the run, at DEBUG


async def test_hub_post_failures_keep_the_review_and_say_why(tmp_path: Path, log_text: io.StringIO) -> None:
    async with bot_world(tmp_path, security={"secret_key": SECRET}, start=False) as world:
        alice = world.hub.add_user("alice_retries", scopes={"SocialWrite"})
        model = world.hub.publish_model(type="LORA", name="Flaky Hub Lora", image_levels=[1])
        async with world.running():
            rec = await world.slash("settings set", user="manager", options={"key": "hub_reviews", "value": "on"})
            await rec.wait_response()
            await _link(world, alice["key"])

            world.hub.fail(503, times=10, path="/api/trpc")  # the hub is down: saved here, with a retry button
            modal = await _review_form(world, model["id"])
            reply = await _submit_review(world, modal, {"review:verdict": ["recommend"], "review:text": "Solid",
                                                        "review:hub": True})
            assert "saved here" in reply["content"] and "Posted" not in reply["content"]
            assert sqlite3.connect(world.db_path).execute("SELECT count(*) FROM reviews").fetchone() == (1,)
            assert world.hub.review_posts == []
            (retry,) = [b for b in _buttons(reply) if b.get("custom_id", "").startswith("review:hubpost:")]
            rec = await world.slash("status")  # a member's failed post is not the hub failing for everyone
            assert "503" not in json.dumps((await rec.wait_response())["data"])

        world.hub.clear_faults()
        async with world.running():  # the retry button still works after a restart
            rec = await world.fake.click(reply, retry["custom_id"], user_id=world.member("member"))
            await rec.wait_response()
            updated = await rec.wait_original(lambda m: "Posted on the hub" in (m.get("content") or ""), timeout=10)
            assert not any(b.get("custom_id", "").startswith("review:hubpost:") for b in _buttons(updated))
            assert [p["apiKey"] for p in world.hub.review_posts] == [alice["key"]]
            await _more_failures(world, alice["key"], model["id"])
    assert alice["key"] not in log_text.getvalue()


async def _more_failures(world: BotWorld, key: str, model_id: int) -> None:
    # the key loses its scope on the hub: 403, said in words, and no retry button (it cannot help)
    world.hub.api_keys[key]["scope"] = USER_READ
    modal = await _review_form(world, model_id)
    reply = await _submit_review(world, modal, {"review:verdict": ["not"], "review:hub": True})
    assert "lacks the SocialWrite scope" in reply["content"]
    assert not any(b.get("custom_id", "").startswith("review:hubpost:") for b in _buttons(reply))

    # the key is revoked: 401, "no longer valid"
    world.hub.revoke_key(key)
    modal = await _review_form(world, model_id)
    reply = await _submit_review(world, modal, {"review:verdict": ["not"], "review:hub": True})
    assert "no longer accepts your linked key" in reply["content"]
    assert len(world.hub.review_posts) == 1
    assert key not in _everything_discord_saw(world)


async def test_without_the_operator_secret_nobody_links_and_reviews_stay_local(tmp_path: Path) -> None:
    async with bot_world(tmp_path) as world:
        model = world.hub.publish_model(type="LORA", name="Local Only Lora", image_levels=[1])
        rec = await world.slash("hub link")
        assert "operator has not set a secret" in (await rec.wait_response())["data"]["content"]
        rec = await world.slash("settings set", user="manager", options={"key": "hub_reviews", "value": "on"})
        assert "security.secret_key" in (await rec.wait_response())["data"]["content"]
        modal = await _review_form(world, model["id"])
        assert "review:hub" not in _inputs(modal)
        reply = await _submit_review(world, modal, {"review:verdict": ["recommend"], "review:text": "Nice"})
        assert any(b.get("url", "").startswith(f"{world.hub.base_url}/models/{model['id']}?modelVersionId=")
                   for b in _buttons(reply))
        assert world.hub.requests_to("/api/trpc") == [] and world.hub.requests_to("/api/v1/me") == []
