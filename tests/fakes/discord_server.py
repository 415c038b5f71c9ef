"""A loopback, Discord-compatible fake server (REST + gateway) for end-to-end tests.

The real, unmodified discord.py connects to it (see ``tests/fakes/discord_harness.py`` for the two
constants to patch).  Everything runs on ``127.0.0.1`` on an ephemeral port, in the test's event loop,
using only aiohttp and the standard library.

What it models (deliberately, see ``tests/fakes/README.md``):

* a small world: users, guilds with roles (permission bit strings), channels (with ``nsfw`` and
  ``permission_overwrites``), members; DM channels;
* REST: login (``/users/@me``, ``/oauth2/applications/@me``), ``/gateway[/bot]``, application command
  sync, interaction callbacks (``with_response``), follow-up webhooks and ``@original``, channel
  messages (JSON or multipart with files), typing, own reactions, DMs, a few guild/user reads;
* Discord's validation (400 / code 50035 with the nested ``errors`` tree), permissions (403 / 50013,
  50001 when the channel is not visible), unknown resources (404 / 10003, 10008, ...), upload size
  (413 / 40005), ``enforce_nonce`` de-duplication, and ``allowed_mentions`` (``mention_everyone``,
  ``mentions`` and ``mention_roles`` of created messages say who would really be pinged);
* the gateway: HELLO, heartbeat ACK, IDENTIFY (recorded; optional 4014 for privileged intents; 4004 on a
  bad token), READY, GUILD_CREATE per guild, RESUME/RESUMED with replay, sharding, intent filtering of
  events, optional zlib-stream compression;
* driving the bot like users do: slash commands, autocomplete, button/select clicks, modal submits,
  reactions, user messages, raw dispatches, channel deletion and permission changes;
* Discord's rate limits: per-route buckets per channel (create 5/5 s, edit 5/5 s, delete 5/1 s,
  reactions 1/0.25 s) and the global 50 requests/s per bot token (interaction callbacks exempt), with
  the ``X-RateLimit-*`` headers discord.py paces itself by and real 429s (``Via`` + ``retry_after``);
  interaction tokens that expire after 15 minutes (401 / 50027);
* fault injection: ``fail_next`` and ``rate_limit_next`` (a 429 that discord.py honours and retries).

Every REST request is recorded in :attr:`FakeDiscord.requests` (as :class:`RecordedRequest`); requests
for routes the fake does not know are answered 404 and also listed in :attr:`FakeDiscord.unhandled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import itertools
import json
import math
import re
import secrets
import time
import uuid
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

__all__ = [
    "ApiError",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "InteractionRecord",
    "InteractionRejected",
    "P",
    "RecordedFile",
    "RecordedRequest",
    "overwrite",
]

DISCORD_EPOCH_MS = 1420070400000
JSON_TYPE = "application/json"


class P:
    """Permission bits (``discord-api-docs`` ``topics/permissions``)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    PRIORITY_SPEAKER = 1 << 8
    STREAM = 1 << 9
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    VIEW_GUILD_INSIGHTS = 1 << 19
    CONNECT = 1 << 20
    SPEAK = 1 << 21
    MUTE_MEMBERS = 1 << 22
    DEAFEN_MEMBERS = 1 << 23
    MOVE_MEMBERS = 1 << 24
    USE_VAD = 1 << 25
    CHANGE_NICKNAME = 1 << 26
    MANAGE_NICKNAMES = 1 << 27
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    MANAGE_GUILD_EXPRESSIONS = 1 << 30
    USE_APPLICATION_COMMANDS = 1 << 31
    REQUEST_TO_SPEAK = 1 << 32
    MANAGE_EVENTS = 1 << 33
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    CREATE_PRIVATE_THREADS = 1 << 36
    USE_EXTERNAL_STICKERS = 1 << 37
    SEND_MESSAGES_IN_THREADS = 1 << 38
    USE_EMBEDDED_ACTIVITIES = 1 << 39
    MODERATE_MEMBERS = 1 << 40
    SEND_VOICE_MESSAGES = 1 << 46
    SEND_POLLS = 1 << 49
    USE_EXTERNAL_APPS = 1 << 50

    ALL = (1 << 51) - 1

    #: what a new server's @everyone role gets
    EVERYONE_DEFAULT = (
        CREATE_INSTANT_INVITE | ADD_REACTIONS | STREAM | VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS
        | ATTACH_FILES | READ_MESSAGE_HISTORY | USE_EXTERNAL_EMOJIS | CONNECT | SPEAK | USE_VAD
        | CHANGE_NICKNAME | USE_APPLICATION_COMMANDS | REQUEST_TO_SPEAK | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS | USE_EXTERNAL_STICKERS | SEND_MESSAGES_IN_THREADS
        | USE_EMBEDDED_ACTIVITIES | SEND_VOICE_MESSAGES | SEND_POLLS | USE_EXTERNAL_APPS
    )
    #: the bot's managed (integration) role in the default guilds
    BOT_DEFAULT = (
        VIEW_CHANNEL | SEND_MESSAGES | SEND_MESSAGES_IN_THREADS | EMBED_LINKS | ATTACH_FILES
        | READ_MESSAGE_HISTORY | ADD_REACTIONS | USE_EXTERNAL_EMOJIS | MENTION_EVERYONE
    )
    #: permissions everyone has in a DM channel
    DM_DEFAULT = (
        VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | ADD_REACTIONS
        | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS | SEND_TTS_MESSAGES
    )


class Intent:
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
    ALL = (1 << 26) - 1


# event -> intent needed (int: guild-only; tuple: (in guilds, in DMs)); events not listed are always sent
_EVENT_INTENTS: dict[str, int | tuple[int, int]] = {
    **dict.fromkeys(
        [
            "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE", "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE",
            "GUILD_ROLE_DELETE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE", "THREAD_CREATE",
            "THREAD_UPDATE", "THREAD_DELETE", "THREAD_LIST_SYNC",
        ],
        Intent.GUILDS,
    ),
    **dict.fromkeys(["GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"], Intent.GUILD_MEMBERS),
    "PRESENCE_UPDATE": Intent.GUILD_PRESENCES,
    **dict.fromkeys(
        ["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"],
        (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
    ),
    **dict.fromkeys(
        [
            "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL",
            "MESSAGE_REACTION_REMOVE_EMOJI",
        ],
        (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS),
    ),
    "TYPING_START": (Intent.GUILD_MESSAGE_TYPING, Intent.DIRECT_MESSAGE_TYPING),
    "CHANNEL_PINS_UPDATE": (Intent.GUILDS, Intent.DIRECT_MESSAGES),
}

# channel types
GUILD_TEXT, DM, GUILD_VOICE, GUILD_CATEGORY, GUILD_ANNOUNCEMENT, GUILD_FORUM = 0, 1, 2, 4, 5, 15

# message flags
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15

_SELECT_TYPES = (3, 5, 6, 7, 8)
_MODAL_INPUT_TYPES = (3, 4, 5, 6, 7, 8, 19, 21, 22, 23)


#: Link-button ``url`` limit (``developers/components/reference``: button ``url`` max 512 characters)
BUTTON_URL_MAX = 512

#: Discord's rate limits, ``bucket -> (requests, per seconds)``.  ``global`` is documented
#: (``developers/topics/rate-limits``: 50 requests/s per bot token, interaction endpoints exempt); the
#: per-route numbers are what Discord's ``X-RateLimit-*`` headers report (they are not documented and may
#: change), each per channel.  ``webhook`` (interaction follow-ups and ``@original``, per app id + token)
#: is not limited unless a test sets it.  Override with ``FakeDiscord(rate_limit_buckets={...})``; ``None``
#: switches one bucket off.
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float] | None] = {
    "global": (50, 1.0),
    "message_create": (5, 5.0),  # POST /channels/{id}/messages
    "message_edit": (5, 5.0),  # PATCH /channels/{id}/messages/{mid}
    "message_delete": (5, 1.0),  # DELETE /channels/{id}/messages/{mid}
    "reaction": (1, 0.25),  # PUT/DELETE /channels/{id}/messages/{mid}/reactions/{emoji}/@me (and /{user})
    "webhook": None,  # POST /webhooks/{app}/{token}, GET/PATCH/DELETE .../messages/{mid}
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# world model
# --------------------------------------------------------------------------------------------------


@dataclass
class FakeUser:
    """A Discord user.  ``accepts_dms=False`` makes DMs to the user fail with 403 / 50007."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    locale: str = "en-US"
    accepts_dms: bool = True

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "primary_guild": None,
            "collectibles": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeRole:
    """A guild role; ``permissions`` is the integer bit set (sent as a string, like Discord does)."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    managed: bool = False
    bot_id: int | None = None

    def to_payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {"primary_color": self.color, "secondary_color": None, "tertiary_color": None},
            "hoist": self.hoist,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "icon": None,
            "unicode_emoji": None,
            "description": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


def overwrite(target_id: int, *, allow: int = 0, deny: int = 0, member: bool = False) -> dict[str, Any]:
    """A ``permission_overwrites`` entry for a role (default) or a member (``member=True``)."""
    return {"id": str(target_id), "type": 1 if member else 0, "allow": str(allow), "deny": str(deny)}


@dataclass
class FakeChannel:
    """A guild channel or a DM channel (``type`` 1, ``recipients``)."""

    id: int
    name: str
    type: int = GUILD_TEXT
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    nsfw: bool = False
    topic: str | None = None
    permission_overwrites: list[dict[str, Any]] = field(default_factory=list)
    rate_limit_per_user: int = 0
    recipients: list[FakeUser] = field(default_factory=list)
    last_message_id: int | None = None
    deleted: bool = False

    def to_payload(self, *, with_guild_id: bool = True) -> dict[str, Any]:
        if self.type == DM:
            return {
                "id": str(self.id),
                "type": DM,
                "last_message_id": str(self.last_message_id) if self.last_message_id else None,
                "recipients": [u.to_payload() for u in self.recipients],
                "flags": 0,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "parent_id": str(self.parent_id) if self.parent_id else None,
            "permission_overwrites": copy.deepcopy(self.permission_overwrites),
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if with_guild_id and self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.type != GUILD_CATEGORY:
            data["topic"] = self.topic
            data["rate_limit_per_user"] = self.rate_limit_per_user
            data["last_message_id"] = str(self.last_message_id) if self.last_message_id else None
        if self.type in (GUILD_VOICE, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass
class FakeMember:
    """A guild member: a user plus role ids (``@everyone`` is implicit, as on Discord)."""

    user: FakeUser
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=_now_iso)
    flags: int = 0

    @property
    def id(self) -> int:
        return self.user.id

    def to_payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": self.flags,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    """A guild.  Look things up by name with :meth:`channel`, :meth:`role` and :meth:`member`."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    preferred_locale: str = "en-US"
    filesize_limit: int = 10 * 1024 * 1024
    joined_at: str = field(default_factory=_now_iso)
    bot_role_id: int | None = None

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    def channel(self, name: str) -> FakeChannel:
        for ch in self.channels.values():
            if ch.name == name:
                return ch
        raise KeyError(f"no channel named {name!r} in guild {self.name!r}")

    def role(self, name: str) -> FakeRole:
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(f"no role named {name!r} in guild {self.name!r}")

    def member(self, name: str) -> FakeMember:
        for m in self.members.values():
            if m.user.username == name:
                return m
        raise KeyError(f"no member named {name!r} in guild {self.name!r}")

    def to_payload(self, *, for_gateway: bool = False) -> dict[str, Any]:
        text_channels = [c for c in self.channels.values() if c.type == GUILD_TEXT]
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(text_channels[0].id) if text_channels else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": self.preferred_locale,
            "nsfw_level": 0,
        }
        if for_gateway:
            data.update(
                joined_at=self.joined_at,
                large=len(self.members) >= 250,
                unavailable=False,
                member_count=len(self.members),
                members=[m.to_payload() for m in self.members.values()],
                channels=[c.to_payload(with_guild_id=False) for c in self.channels.values() if not c.deleted],
                threads=[],
                presences=[],
                voice_states=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return data


# --------------------------------------------------------------------------------------------------
# recording
# --------------------------------------------------------------------------------------------------


@dataclass
class RecordedFile:
    """One uploaded file of a multipart request (``field`` is ``files[n]``)."""

    field: str
    filename: str
    content_type: str | None
    data: bytes

    @property
    def name(self) -> str:
        return self.filename

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class RecordedRequest:
    """One REST request the bot made, and how the fake answered it.

    ``path`` is relative to the API base (``/channels/1/messages``), percent-decoded; ``json`` is the
    decoded JSON body, or the decoded ``payload_json`` part of a multipart body; ``files`` are the
    uploaded files; ``time`` is ``time.monotonic()`` on arrival; ``status`` and ``response`` are set once
    answered; ``response_headers`` are the headers the fake set (``X-RateLimit-*``, ``Retry-After``,
    ``Via``...); ``errors`` lists validation failures as ``(dotted.path, CODE, message)``.
    """

    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[RecordedFile]
    time: float
    status: int | None = None
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    injected: bool = False
    interaction: InteractionRecord | None = field(default=None, repr=False, compare=False)

    def matches(self, method: str, path_regex: str) -> bool:
        return (method in ("*", self.method)) and re.search(path_regex, self.path) is not None

    @property
    def allowed_mentions(self) -> Any:
        """``allowed_mentions`` as sent (for interaction callbacks: inside ``data``); None if absent."""
        body = self.json if isinstance(self.json, dict) else {}
        if self.path.endswith("/callback") and isinstance(body.get("data"), dict):
            body = body["data"]
        return body.get("allowed_mentions")

    @property
    def error_code(self) -> int | None:
        return self.response.get("code") if isinstance(self.response, dict) else None

    def __repr__(self) -> str:
        return f"<RecordedRequest #{self.index} {self.method} {self.path} -> {self.status}>"


class ApiError(Exception):
    """Raised inside route handlers; becomes a Discord-style JSON error response."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: list[tuple[str, str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            tree: dict[str, Any] = {}
            for path, code, msg in self.errors:
                node = tree
                for part in path.split(".") if path else []:
                    node = node.setdefault(part, {})
                node.setdefault("_errors", []).append({"code": code, "message": msg})
            data["errors"] = tree
        return data


def _unknown(code: int, what: str) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def _forbidden(code: int = 50013, message: str = "Missing Permissions") -> ApiError:
    return ApiError(403, code, message)


class InteractionRejected(Exception):
    """The bot answered an interaction in a way Discord rejects (the callback got a 4xx)."""

    def __init__(self, record: InteractionRecord, request: RecordedRequest) -> None:
        super().__init__(f"interaction callback rejected: {request.status} {request.response}")
        self.record = record
        self.request = request


class _Changed:
    """A tiny "something changed" broadcast: ``await wait()`` returns after the next ``notify()``."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class InteractionRecord:
    """One interaction the fake sent to the bot, and everything the bot answered.

    * ``payload`` -- the INTERACTION_CREATE ``d`` sent over the gateway;
    * ``callback`` -- the body of ``POST /interactions/{id}/{token}/callback`` (``{"type": t, "data": ...}``),
      ``None`` until answered; ``response_type`` is ``callback["type"]`` (4 message, 5 deferred message,
      6 deferred update, 7 update message, 8 autocomplete result, 9 modal);
    * ``followups`` -- messages created through the follow-up webhook (snapshots at creation).  As on
      Discord, the first follow-up after a type 5 defer *edits the loading message* (same id);
    * ``original`` -- the current ``@original`` message (after PATCHes), ``None`` while there is none.  For
      component interactions answered with 6/7 it is the message the component sits on;
    * ``requests`` -- the REST requests that referred to this interaction; ``rejected`` those answered 4xx.
    """

    def __init__(self, fake: FakeDiscord, payload: dict[str, Any], command: dict[str, Any] | None) -> None:
        self._fake = fake
        self.payload = payload
        self.command = command
        self.id: int = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.guild_id: int | None = int(payload["guild_id"]) if payload.get("guild_id") else None
        self.channel_id: int | None = int(payload["channel_id"]) if payload.get("channel_id") else None
        user = payload["member"]["user"] if "member" in payload else payload["user"]
        self.user_id: int = int(user["id"])
        self.callback: dict[str, Any] | None = None
        self.callback_files: list[RecordedFile] = []
        self.followups: list[dict[str, Any]] = []
        self.original_id: int | None = None
        self.original_deleted: bool = False
        self.requests: list[RecordedRequest] = []
        self.dispatched_at: float = time.monotonic()
        self._changed = _Changed()

    def __repr__(self) -> str:
        return f"<InteractionRecord id={self.id} type={self.type} response_type={self.response_type}>"

    @property
    def name(self) -> str | None:
        return (self.payload.get("data") or {}).get("name")

    @property
    def custom_id(self) -> str | None:
        return (self.payload.get("data") or {}).get("custom_id")

    @property
    def response_type(self) -> int | None:
        return self.callback["type"] if self.callback else None

    @property
    def data(self) -> dict[str, Any]:
        """``callback["data"]`` (``{}`` if absent)."""
        return (self.callback or {}).get("data") or {}

    @property
    def original(self) -> dict[str, Any] | None:
        if self.original_id is None or self.original_deleted:
            return None
        return self._fake._message_index.get(self.original_id)

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        """Autocomplete choices the bot sent (callback type 8)."""
        return self.data.get("choices") if self.response_type == 8 else None

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal the bot opened (callback type 9): ``{"custom_id", "title", "components"}``."""
        return self.data if self.response_type == 9 else None

    @property
    def rejected(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.status is not None and r.status >= 400]

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & FLAG_EPHEMERAL)

    def _notify(self) -> None:
        self._changed.notify()
        self._fake._changed.notify()

    async def wait_for(
        self, predicate: Callable[[InteractionRecord], bool], *, timeout: float = 5.0  # noqa: ASYNC109
    ) -> InteractionRecord:
        """Wait until ``predicate(self)`` is true (re-checked whenever the bot touches this interaction,
        and every 20 ms for changes made through other routes)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.02)
        except TimeoutError:
            raise TimeoutError(
                f"{self!r} ({self.name or self.custom_id}): condition not met within {timeout}s; "
                f"callback={self.callback!r} followups={len(self.followups)} requests={self.requests!r}"
            ) from None
        return self

    async def wait_response(self, *, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait for the callback (initial response) and return its body ``{"type": ..., "data": ...}``.

        Raises :class:`InteractionRejected` if Discord would have refused it, :class:`TimeoutError` if the
        bot did not answer (check the ``discord`` logger: discord.py logs exceptions from handlers).
        """
        await self.wait_for(lambda r: r.callback is not None or bool(r._callback_rejections()), timeout=timeout)
        if self.callback is None:
            raise InteractionRejected(self, self._callback_rejections()[0])
        return self.callback

    async def wait_followup(self, count: int = 1, *, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until ``count`` follow-ups exist and return the ``count``-th (1-based)."""
        await self.wait_for(lambda r: len(r.followups) >= count, timeout=timeout)
        return self.followups[count - 1]

    async def wait_original(
        self, predicate: Callable[[dict[str, Any]], bool] | None = None, *, timeout: float = 5.0  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Wait until ``@original`` exists (and satisfies ``predicate``) and return it."""

        def ok(r: InteractionRecord) -> bool:
            msg = r.original
            return msg is not None and (predicate is None or predicate(msg))

        await self.wait_for(ok, timeout=timeout)
        assert self.original is not None
        return self.original

    def _callback_rejections(self) -> list[RecordedRequest]:
        return [r for r in self.rejected if r.path.endswith("/callback")]


# --------------------------------------------------------------------------------------------------
# validation (discord-api-docs: resources/message, components/reference, interactions/*)
# --------------------------------------------------------------------------------------------------

_URL_RE = re.compile(r"^(https?://[^\s/$.?#][^\s]*|attachment://\S+)$", re.IGNORECASE)


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[str, str, str]] = []

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append((path, code, message))

    def max_len(self, path: str, value: Any, limit: int, *, required: bool = False) -> None:
        if value is None or value == "":
            if required:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Must be a string.")
        elif len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def length(self, path: str, value: Any, lo: int, hi: int) -> None:
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_REQUIRED" if value is None else "BASE_TYPE_STRING", "This field is required")
        elif not lo <= len(value) <= hi:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")

    def url(self, path: str, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not _URL_RE.match(value)):
            self.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def _validate_embeds(embeds: Any, errs: _Errors) -> None:
    if not isinstance(embeds, list):
        errs.add("embeds", "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > 10:
        errs.add("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, e in enumerate(embeds):
        p = f"embeds.{i}"
        if not isinstance(e, dict):
            errs.add(p, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        errs.max_len(f"{p}.title", e.get("title"), 256)
        errs.max_len(f"{p}.description", e.get("description"), 4096)
        errs.url(f"{p}.url", e.get("url"))
        color = e.get("color")
        if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
            errs.add(f"{p}.color", "NUMBER_TYPE_MAX", "int value should be <= 16777215 and >= 0.")
        ts = e.get("timestamp")
        if ts is not None:
            try:
                datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
            except ValueError:
                errs.add(f"{p}.timestamp", "DATE_TIME_TYPE_PARSE", "Could not parse timestamp.")
        total += len(e.get("title") or "") + len(e.get("description") or "")
        footer = e.get("footer")
        if footer is not None:
            errs.max_len(f"{p}.footer.text", footer.get("text"), 2048, required=True)
            errs.url(f"{p}.footer.icon_url", footer.get("icon_url"))
            total += len(footer.get("text") or "")
        author = e.get("author")
        if author is not None:
            errs.max_len(f"{p}.author.name", author.get("name"), 256, required=True)
            errs.url(f"{p}.author.url", author.get("url"))
            errs.url(f"{p}.author.icon_url", author.get("icon_url"))
            total += len(author.get("name") or "")
        for key in ("image", "thumbnail"):
            if e.get(key) is not None:
                errs.url(f"{p}.{key}.url", (e.get(key) or {}).get("url"))
        fields = e.get("fields") or []
        if len(fields) > 25:
            errs.add(f"{p}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            errs.max_len(f"{p}.fields.{j}.name", f.get("name"), 256, required=True)
            errs.max_len(f"{p}.fields.{j}.value", f.get("value"), 1024, required=True)
            total += len(f.get("name") or "") + len(f.get("value") or "")
    if total > 6000:
        errs.add("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _walk_components(components: Iterable[Any]) -> Generator[dict[str, Any], None, None]:
    for c in components:
        if not isinstance(c, dict):
            continue
        yield c
        yield from _walk_components(c.get("components") or [])
        if isinstance(c.get("component"), dict):
            yield from _walk_components([c["component"]])
        if isinstance(c.get("accessory"), dict):
            yield from _walk_components([c["accessory"]])


def _validate_interactive(c: dict[str, Any], p: str, errs: _Errors, seen: set[str]) -> None:
    ctype = c.get("type")
    if ctype == 2:
        style = c.get("style")
        if style not in (1, 2, 3, 4, 5, 6):
            errs.add(f"{p}.style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
        errs.max_len(f"{p}.label", c.get("label"), 80)
        if style == 5:
            if not c.get("url"):
                errs.add(f"{p}.url", "BASE_TYPE_REQUIRED", "This field is required")
            errs.url(f"{p}.url", c.get("url"))
            errs.max_len(f"{p}.url", c.get("url"), BUTTON_URL_MAX)
            if c.get("custom_id"):
                errs.add(f"{p}.custom_id", "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                         "A link button cannot have a custom id")
            return
        if style == 6:
            return
        if not c.get("label") and not c.get("emoji"):
            errs.add(f"{p}.label", "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A label or emoji is required")
    if ctype in (2, *_SELECT_TYPES, 4):
        custom_id = c.get("custom_id")
        errs.length(f"{p}.custom_id", custom_id, 1, 100)
        if isinstance(custom_id, str):
            if custom_id in seen:
                errs.add(f"{p}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
            seen.add(custom_id)
    if ctype in _SELECT_TYPES:
        errs.max_len(f"{p}.placeholder", c.get("placeholder"), 150)
        min_v, max_v = c.get("min_values", 1), c.get("max_values", 1)
        if not 0 <= min_v <= 25:
            errs.add(f"{p}.min_values", "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 0.")
        if not 1 <= max_v <= 25:
            errs.add(f"{p}.max_values", "NUMBER_TYPE_MAX", "int value should be <= 25 and >= 1.")
        if ctype == 3:
            options = c.get("options") or []
            if not 1 <= len(options) <= 25:
                errs.add(f"{p}.options", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length.")
            elif max_v > len(options):
                errs.add(f"{p}.max_values", "SELECT_COMPONENT_MAX_VALUES_EXCEEDED", "max_values exceeds options")
            values: set[str] = set()
            for k, o in enumerate(options):
                errs.length(f"{p}.options.{k}.label", o.get("label"), 1, 100)
                errs.length(f"{p}.options.{k}.value", o.get("value"), 1, 100)
                errs.max_len(f"{p}.options.{k}.description", o.get("description"), 100)
                if o.get("value") in values:
                    errs.add(f"{p}.options.{k}.value", "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", "duplicate value")
                values.add(o.get("value"))


def _validate_components(components: Any, flags: int, errs: _Errors) -> None:
    if not isinstance(components, list):
        errs.add("components", "BASE_TYPE_ARRAY", "Must be an array.")
        return
    seen: set[str] = set()
    if flags & FLAG_COMPONENTS_V2:
        if sum(1 for _ in _walk_components(components)) > 40:
            errs.add("components", "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in total.")
        for i, c in enumerate(_walk_components(components)):
            if c.get("type") in (2, *_SELECT_TYPES):
                _validate_interactive(c, f"components.{i}", errs, seen)
        return
    if len(components) > 5:
        errs.add("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        p = f"components.{i}"
        if not isinstance(row, dict) or row.get("type") != 1:
            errs.add(f"{p}.type", "UNION_TYPE_CHOICES", "Top-level components must be action rows (type 1).")
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            errs.add(f"{p}.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if any(ch.get("type") in _SELECT_TYPES for ch in children) and len(children) > 1:
            errs.add(f"{p}.components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                     "The specified component exceeds the maximum width")
        for j, ch in enumerate(children):
            if ch.get("type") not in (2, *_SELECT_TYPES):
                errs.add(f"{p}.components.{j}.type", "COMPONENT_TYPE_INVALID", "Component type is not valid here.")
                continue
            _validate_interactive(ch, f"{p}.components.{j}", errs, seen)


def _validate_allowed_mentions(am: Any, errs: _Errors, prefix: str = "") -> None:
    if am is None:
        return
    if not isinstance(am, dict):
        errs.add(f"{prefix}allowed_mentions", "DICT_TYPE_CONVERT", "Only dictionaries may be used")
        return
    parse = am.get("parse") or []
    for k in parse:
        if k not in ("users", "roles", "everyone"):
            errs.add(f"{prefix}allowed_mentions.parse", "BASE_TYPE_CHOICES",
                     "Value must be one of users, roles, everyone.")
    for kind in ("users", "roles"):
        if kind in parse and am.get(kind):
            errs.add(
                f"{prefix}allowed_mentions",
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
        if len(am.get(kind) or []) > 100:
            errs.add(f"{prefix}allowed_mentions.{kind}", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")


def _validate_message(body: dict[str, Any], errs: _Errors, *, prefix: str = "") -> None:
    """Validate a message create/edit body (also the ``data`` of interaction callbacks 4/7)."""
    content = body.get("content")
    if content is not None:
        errs.max_len(f"{prefix}content", content, 2000)
    if body.get("embeds") is not None:
        sub = _Errors()
        _validate_embeds(body["embeds"], sub)
        errs.items.extend((prefix + p, c, m) for p, c, m in sub.items)
    if body.get("components") is not None:
        sub = _Errors()
        _validate_components(body["components"], int(body.get("flags") or 0), sub)
        errs.items.extend((prefix + p, c, m) for p, c, m in sub.items)
    _validate_allowed_mentions(body.get("allowed_mentions"), errs, prefix)
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, str) and len(nonce) > 25:
            errs.add(f"{prefix}nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        elif not isinstance(nonce, str | int):
            errs.add(f"{prefix}nonce", "BASE_TYPE_STRING", "Must be a string or an integer.")


def _is_empty_message(body: dict[str, Any], n_files: int) -> bool:
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or n_files
        or body.get("attachments")
    )


def _validate_modal(data: dict[str, Any], errs: _Errors) -> None:
    errs.length("data.custom_id", data.get("custom_id"), 1, 100)
    errs.length("data.title", data.get("title"), 1, 45)
    comps = data.get("components") or []
    if not 1 <= len(comps) <= 5:
        errs.add("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
    seen: set[str] = set()
    for i, c in enumerate(_walk_components(comps)):
        p = f"data.components.{i}"
        if c.get("type") == 18:
            errs.length(f"{p}.label", c.get("label"), 1, 45)
            errs.max_len(f"{p}.description", c.get("description"), 100)
        if c.get("type") == 4:
            errs.length(f"{p}.custom_id", c.get("custom_id"), 1, 100)
            if c.get("custom_id") in seen:
                errs.add(f"{p}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
            seen.add(c.get("custom_id"))
            if c.get("label") is not None:
                errs.length(f"{p}.label", c.get("label"), 1, 45)
            if c.get("style") not in (1, 2):
                errs.add(f"{p}.style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")
            errs.max_len(f"{p}.placeholder", c.get("placeholder"), 100)
            errs.max_len(f"{p}.value", c.get("value"), 4000)
            lo, hi = c.get("min_length"), c.get("max_length")
            if lo is not None and not 0 <= lo <= 4000:
                errs.add(f"{p}.min_length", "NUMBER_TYPE_MAX", "int value should be <= 4000 and >= 0.")
            if hi is not None and not 1 <= hi <= 4000:
                errs.add(f"{p}.max_length", "NUMBER_TYPE_MAX", "int value should be <= 4000 and >= 1.")


def _validate_choices(choices: Any, errs: _Errors) -> None:
    if not isinstance(choices, list):
        errs.add("data.choices", "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(choices) > 25:
        errs.add("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, ch in enumerate(choices):
        errs.length(f"data.choices.{i}.name", ch.get("name"), 1, 100)
        value = ch.get("value")
        if isinstance(value, str):
            errs.max_len(f"data.choices.{i}.value", value, 100)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errs.add(f"data.choices.{i}.value", "BASE_TYPE_REQUIRED", "This field is required")


_CMD_NAME_RE = re.compile(r"^[-_\w]{1,32}$", re.UNICODE)


def _validate_command(cmd: dict[str, Any], errs: _Errors, p: str) -> None:
    ctype = cmd.get("type", 1)
    name = cmd.get("name")
    if not isinstance(name, str) or (ctype == 1 and (not _CMD_NAME_RE.match(name) or name != name.lower())):
        errs.add(f"{p}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if ctype == 1:
        errs.length(f"{p}.description", cmd.get("description"), 1, 100)
        _validate_options(cmd.get("options") or [], errs, f"{p}.options")


def _validate_options(options: list[dict[str, Any]], errs: _Errors, p: str) -> None:
    if len(options) > 25:
        errs.add(p, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names: set[str] = set()
    for i, o in enumerate(options):
        op = f"{p}.{i}"
        name = o.get("name")
        if not isinstance(name, str) or not _CMD_NAME_RE.match(name) or name != name.lower():
            errs.add(f"{op}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if name in names:
            errs.add(f"{op}.name", "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option name already exists")
        names.add(name)
        errs.length(f"{op}.description", o.get("description"), 1, 100)
        if o.get("type") in (1, 2):
            _validate_options(o.get("options") or [], errs, f"{op}.options")
            continue
        if o.get("required"):
            if seen_optional:
                errs.add(f"{op}.required", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                         "Required options must be placed before non-required options")
        else:
            seen_optional = True
        choices = o.get("choices") or []
        if len(choices) > 25:
            errs.add(f"{op}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if choices and o.get("autocomplete"):
            errs.add(f"{op}.autocomplete", "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                     "Autocomplete and choices are exclusive")
        for j, ch in enumerate(choices):
            errs.length(f"{op}.choices.{j}.name", ch.get("name"), 1, 100)
            if isinstance(ch.get("value"), str):
                errs.max_len(f"{op}.choices.{j}.value", ch.get("value"), 100)


# --------------------------------------------------------------------------------------------------
# gateway sessions
# --------------------------------------------------------------------------------------------------


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.session: _Session | None = None
        self.write_lock = asyncio.Lock()
        self.zlib = zlib.compressobj() if compress else None
        self.ready = False
        self.closed_with: int | None = None

    @property
    def open(self) -> bool:
        return not self.ws.closed

    async def send(self, frame: str) -> None:
        async with self.write_lock:
            if self.ws.closed:
                return
            try:
                if self.zlib is not None:
                    raw = self.zlib.compress(frame.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(raw)
                else:
                    await self.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                pass


class _Session:
    def __init__(self, identify: dict[str, Any]) -> None:
        self.id = uuid.uuid4().hex
        self.identify = identify
        self.intents: int = int(identify.get("intents", 0))
        shard = identify.get("shard")
        self.shard: tuple[int, int] | None = (int(shard[0]), int(shard[1])) if shard else None
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=5000)
        self.conn: _Connection | None = None
        self.lock = asyncio.Lock()
        self.resumable = True

    def handles_guild(self, guild_id: int | None) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        return ((guild_id or 0) >> 22) % count == shard_id

    def wants(self, event: str, guild_id: int | None) -> bool:
        need = _EVENT_INTENTS.get(event)
        if need is None:
            return True
        if isinstance(need, tuple):
            need = need[0] if guild_id is not None else need[1]
        return bool(self.intents & need)

    @property
    def live(self) -> bool:
        return self.conn is not None and self.conn.open and self.conn.ready


# --------------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------------

_Handler = Callable[..., Awaitable[Any]]


class _Response:
    def __init__(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class _Ctx:
    def __init__(self, request: web.Request, rec: RecordedRequest) -> None:
        self.request = request
        self.rec = rec

    @property
    def json(self) -> Any:
        return self.rec.json

    @property
    def body(self) -> dict[str, Any]:
        return self.rec.json if isinstance(self.rec.json, dict) else {}

    @property
    def files(self) -> list[RecordedFile]:
        return self.rec.files

    @property
    def query(self) -> dict[str, str]:
        return self.rec.query


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int


@dataclass
class _Window:
    reset_at: float  # fake clock
    remaining: int


class _RateLimiter:
    """Discord's rate limits: fixed windows per ``(bucket, major parameter)`` plus the global limit per bot
    token.  A window opens with the first request, allows ``limit`` requests and refills completely
    ``per`` seconds later (what Discord's ``X-RateLimit-Remaining`` / ``-Reset-After`` headers describe).
    Times come from the fake's (virtual) clock, so :meth:`FakeDiscord.advance_clock` also resets them."""

    #: a request that arrives this close to a window's end counts for the next window: discord.py sleeps
    #: exactly ``Reset-After`` (rounded up to the millisecond here), timer jitter must not turn that into
    #: a 429
    EPSILON = 0.001

    def __init__(
        self, limits: Mapping[str, tuple[int, float] | None], clock: Callable[[], float], route_scale: float = 1.0
    ) -> None:
        self.limits = dict(limits)
        self.route_scale = route_scale  # multiplies the window of every bucket but "global"
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    @staticmethod
    def bucket_hash(bucket: str) -> str:
        """The opaque ``X-RateLimit-Bucket`` value: one per route bucket, the same for every channel (as on
        Discord; clients key buckets by hash + major parameter)."""
        return hashlib.md5(f"fake-discord:{bucket}".encode()).hexdigest()

    def _window(self, bucket: str, major: str, now: float) -> _Window | None:
        spec = self.limits.get(bucket)
        if spec is None:
            return None
        limit, per = spec
        if bucket != "global":
            per *= self.route_scale
        win = self._windows.get((bucket, major))
        if win is None or now >= win.reset_at - self.EPSILON:
            win = self._windows[(bucket, major)] = _Window(now + per, limit)
        return win

    def take(self, buckets: Sequence[tuple[str, str]]) -> tuple[dict[str, _Window], str | None]:
        """Consume one request from every limited ``(bucket, major)`` window -- or from none, if one of
        them is exhausted.  Returns ``({bucket: window}, name of the first exhausted bucket or None)``."""
        now = self._clock()
        windows: dict[str, _Window] = {}
        for bucket, major in buckets:
            win = self._window(bucket, major, now)
            if win is None:
                continue
            windows[bucket] = win
            if win.remaining <= 0:
                return windows, bucket
        for win in windows.values():
            win.remaining -= 1
        return windows, None

    def retry_after(self, win: _Window) -> float:
        return _ceil_ms(max(win.reset_at - self._clock(), 0.001))

    def headers(self, bucket: str, win: _Window) -> dict[str, str]:
        """``X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket`` of one window, as Discord sends them
        (``Reset`` is epoch seconds, ``Reset-After`` seconds from now, both with millisecond precision)."""
        spec = self.limits.get(bucket)
        limit = spec[0] if spec else 0
        reset_after = _ceil_ms(max(win.reset_at - self._clock(), 0.0))
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(win.remaining, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": self.bucket_hash(bucket),
        }


def _ceil_ms(seconds: float) -> float:
    return math.ceil(round(seconds * 1000, 6)) / 1000


class FakeDiscord:
    """The fake Discord.  Create, ``await start()`` (or ``async with``), point discord.py at
    :attr:`api_base` / :attr:`gateway_url`, ``await stop()``.

    Public state (read it in assertions):

    * ``requests`` / ``unhandled`` / ``validation_errors`` -- :class:`RecordedRequest` lists;
    * ``identify_payloads`` -- IDENTIFY ``d`` of every gateway connection (``["intents"]``!);
    * ``messages`` -- ``{channel_id: [message dict, ...]}`` in creation order (live dicts; deleted messages
      are removed and kept in ``deleted_messages``); ephemeral messages are not in channels;
    * ``commands`` -- ``{None: [global commands], guild_id: [guild commands]}`` as registered (with ids);
    * ``interactions`` -- every :class:`InteractionRecord`;
    * ``guilds``, ``users``, ``channels`` -- the world (``FakeGuild``/``FakeUser``/``FakeChannel``).

    Options: ``reject_privileged`` closes IDENTIFY with 4014 if a privileged intent is requested;
    ``interaction_deadline`` (3 s like Discord; None disables) -- callbacks later than this answer 404 /
    10062; ``interaction_token_ttl`` (15 min like Discord; None disables) -- follow-ups and GET/PATCH/DELETE
    of ``@original`` or follow-up messages later than this answer 401 / 50027 (Invalid Webhook Token);
    ``nonce_window`` -- seconds during which ``enforce_nonce`` de-duplicates; ``compress`` -- send
    zlib-stream binary frames when the client asks for them; ``recommended_shards`` for ``/gateway/bot``.

    Rate limits (all on by default, as on Discord): ``rate_limits=False`` switches them off;
    ``rate_limit_buckets={"message_create": (2, 1.0), "reaction": None, ...}`` overrides
    :data:`DEFAULT_RATE_LIMITS` (``None`` = that bucket unlimited); ``rate_limit_headers=False`` -- successes
    carry no ``X-RateLimit-*`` headers, so discord.py cannot pace itself and runs into real 429s;
    ``rate_limit_via=False`` -- 429s come as an edge (Cloudflare) sends them: an HTML page with only
    ``Retry-After`` (whole seconds), no ``Via`` (discord.py raises ``HTTPException`` instead of
    retrying); ``route_rate_limit_scale=0.1`` -- per-route windows 10x shorter
    (same request counts, so the same pacing and 429s, but faster refills; the global limit keeps its
    second) for suites that post a lot.  Every 429 the limiter sent is in ``rate_limited``.
    """

    def __init__(
        self,
        *,
        bot_user_id: int = 1180000000000000001,
        application_id: int | None = None,
        token: str = "test-token",
        bot_username: str = "hubbot",
        reject_privileged: bool = False,
        interaction_deadline: float | None = 3.0,
        nonce_window: float = 300.0,
        compress: bool = False,
        recommended_shards: int = 1,
        heartbeat_interval_ms: int = 41250,
        interaction_token_ttl: float | None = 900.0,
        rate_limits: bool = True,
        rate_limit_buckets: Mapping[str, tuple[int, float] | None] | None = None,
        rate_limit_headers: bool = True,
        rate_limit_via: bool = True,
        route_rate_limit_scale: float = 1.0,
    ) -> None:
        unknown = set(rate_limit_buckets or {}) - set(DEFAULT_RATE_LIMITS)
        if unknown:
            raise ValueError(f"unknown rate limit buckets {sorted(unknown)}; known: {sorted(DEFAULT_RATE_LIMITS)}")
        self.token = token
        self.application_id: int = application_id if application_id is not None else bot_user_id
        self.reject_privileged = reject_privileged
        self.interaction_deadline = interaction_deadline
        self.nonce_window = nonce_window
        self.compress = compress
        self.recommended_shards = recommended_shards
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_token_ttl = interaction_token_ttl
        self.rate_limits = rate_limits
        self.rate_limit_headers = rate_limit_headers
        self.rate_limit_via = rate_limit_via
        self._limiter = _RateLimiter({**DEFAULT_RATE_LIMITS, **dict(rate_limit_buckets or {})}, self._now,
                                     route_rate_limit_scale)
        #: the limits in force, ``bucket -> (requests, per seconds)`` or None (live: may be changed)
        self.rate_limit_buckets: dict[str, tuple[int, float] | None] = self._limiter.limits

        self._last_snowflake = 0
        self._inc = itertools.count()
        self.users: dict[int, FakeUser] = {}
        self.bot_user = FakeUser(id=bot_user_id, username=bot_username, bot=True)
        self.users[bot_user_id] = self.bot_user
        self.owner_user = self.add_user("app-owner")
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_channels: dict[int, int] = {}  # user id -> channel id

        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.validation_errors: list[RecordedRequest] = []
        #: requests the rate limiter answered 429 (not ``rate_limit_next`` injections)
        self.rate_limited: list[RecordedRequest] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.gateway_closes: list[int] = []  # close codes the fake sent
        self.client_closes: list[int] = []  # close codes clients sent (1000 = discord.py's close())
        self.messages: dict[int, list[dict[str, Any]]] = {}
        self.deleted_messages: list[dict[str, Any]] = []
        self.commands: dict[int | None, list[dict[str, Any]]] = {None: []}
        self.interactions: list[InteractionRecord] = []
        self.attachments: dict[int, bytes] = {}
        self.ready_count = 0
        self.compressed_connections = 0  # gateway connections that got zlib-stream binary frames
        #: exceptions inside the fake itself (route handlers, background dispatches); should stay empty
        self.internal_errors: list[BaseException] = []

        self._message_index: dict[int, dict[str, Any]] = {}
        self._reactions: dict[int, dict[str, dict[str, Any]]] = {}
        self._nonces: dict[tuple[int, int, str], tuple[float, int]] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self._by_interaction_id: dict[int, InteractionRecord] = {}
        self._injections: list[_Injection] = []
        self._response_delays: list[list[Any]] = []  # [method, compiled regex, seconds, times]
        self._stopping = asyncio.Event()
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._clock_offset = 0.0
        self._changed = _Changed()
        self._runner: web.AppRunner | None = None
        self.port: int = 0
        self._routes: list[tuple[str, re.Pattern[str], _Handler, bool, str | None]] = []
        self._build_routes()

    # ---------------------------------------------------------------------------------------- lifecycle

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api/v10`` -- what ``discord.http.Route.BASE`` must be."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/`` -- what ``DiscordWebSocket.DEFAULT_GATEWAY`` must be (as a yarl.URL)."""
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def cdn_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on ``127.0.0.1`` on an ephemeral port."""
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._handle_api)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._handle_cdn)
        app.router.add_get("/", self._handle_gateway)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Close every gateway connection, finish background dispatches and shut the server down."""
        self._stopping.set()  # held responses (delay_responses) end now
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await self._close_ws(conn, 1001, b"fake discord stopping")
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.internal_errors.append(task.exception())  # type: ignore[arg-type]

    def advance_clock(self, seconds: float) -> None:
        """Pretend ``seconds`` passed (affects ``enforce_nonce`` expiry, the interaction deadline, the
        15-minute interaction token lifetime and rate-limit windows)."""
        self._clock_offset += seconds

    def _now(self) -> float:
        return time.monotonic() + self._clock_offset

    # ------------------------------------------------------------------------------------------- world

    def snowflake(self) -> int:
        """A new, strictly increasing snowflake id based on the current time."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (1 << 17) | (next(self._inc) & 0xFFF)
        if value <= self._last_snowflake:
            value = self._last_snowflake + 1
        self._last_snowflake = value
        return value

    def add_user(self, username: str, *, user_id: int | None = None, bot: bool = False, **kw: Any) -> FakeUser:
        user = FakeUser(id=user_id or self.snowflake(), username=username, bot=bot, **kw)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        guild_id: int | None = None,
        name: str = "Test Guild",
        *,
        channels: Sequence[FakeChannel | str | Mapping[str, Any]] | None = None,
        roles: Sequence[FakeRole | Mapping[str, Any]] | None = None,
        members: Sequence[FakeMember | FakeUser | str | Mapping[str, Any]] | None = None,
        everyone_permissions: int = P.EVERYONE_DEFAULT,
        bot_permissions: int = P.BOT_DEFAULT,
    ) -> FakeGuild:
        """Create a guild the bot is in.

        ``channels``: names (text channels), :class:`FakeChannel` objects or dicts of FakeChannel fields
        (``{"name": "x", "nsfw": True}``); default: one text channel "general".
        ``roles``: :class:`FakeRole` or dicts (``{"name": "Managers", "permissions": P.MANAGE_GUILD}``);
        ``@everyone`` (id == guild id) and the bot's managed role are always added.
        ``members``: usernames, users, :class:`FakeMember` or dicts ``{"username": "a", "roles": ["Mods"]}``
        (role names or ids).  The first member is the owner (an "owner" user is created if none is
        given); the bot member is always added.  Permission-changing calls made while the bot is connected
        should use the async helpers (:meth:`set_channel_overwrites`...) so the bot hears about them.
        """
        gid = guild_id or self.snowflake()
        guild = FakeGuild(id=gid, name=name, owner_id=0)
        guild.roles[gid] = FakeRole(id=gid, name="@everyone", permissions=everyone_permissions, position=0)
        for i, r in enumerate(roles or [], start=1):
            role = r if isinstance(r, FakeRole) else FakeRole(id=self.snowflake(), **{"position": i, **dict(r)})
            guild.roles[role.id] = role
        bot_role = FakeRole(
            id=self.snowflake(),
            name=self.bot_user.username,
            permissions=bot_permissions,
            position=len(guild.roles),
            managed=True,
            bot_id=self.bot_user.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id

        def role_id(ref: int | str) -> int:
            return ref if isinstance(ref, int) else guild.role(ref).id

        for m in members or ["owner"]:
            if isinstance(m, FakeMember):
                member = m
            elif isinstance(m, FakeUser):
                member = FakeMember(user=m)
            elif isinstance(m, str):
                member = FakeMember(user=self.add_user(m))
            else:
                spec = dict(m)
                user = self.users.get(spec["user_id"]) if "user_id" in spec else None
                user = user or self.add_user(spec["username"], bot=spec.get("bot", False))
                member = FakeMember(user=user, roles=[role_id(r) for r in spec.get("roles", [])], nick=spec.get("nick"))
            self.users.setdefault(member.user.id, member.user)
            guild.members[member.id] = member
        guild.owner_id = next(iter(guild.members))
        guild.members[self.bot_user.id] = FakeMember(user=self.bot_user, roles=[bot_role.id])

        for pos, c in enumerate(channels if channels is not None else ["general"]):
            if isinstance(c, FakeChannel):
                ch = c
                ch.guild_id = gid
            elif isinstance(c, str):
                ch = FakeChannel(id=self.snowflake(), name=c, guild_id=gid, position=pos)
            else:
                ch = FakeChannel(id=self.snowflake(), guild_id=gid, **{"position": pos, **dict(c)})
            guild.channels[ch.id] = ch
            self.channels[ch.id] = ch
        self.guilds[gid] = guild
        return guild

    def add_default_guild(self, name: str = "Model Hub Community") -> FakeGuild:
        """A realistic guild.

        Roles: ``@everyone`` (Discord's default permissions), ``Moderators`` (MANAGE_MESSAGES,
        KICK_MEMBERS, MODERATE_MEMBERS), ``Managers`` (MANAGE_GUILD), the bot's managed role.
        Members (usernames): ``owner`` (guild owner), ``manager`` (Managers), ``moderator``
        (Moderators), ``member`` (no role), and the bot.
        Channels: category ``Community``; text channels ``general``, ``feeds``, ``log`` (hidden from
        @everyone, visible to Managers, Moderators and the bot), ``nsfw`` (``"nsfw": true``,
        age-restricted), ``announcements`` (@everyone may not send; the bot neither).
        """
        managers_id, mods_id = self.snowflake(), self.snowflake()
        guild = self.add_guild(
            name=name,
            roles=[
                FakeRole(id=mods_id, name="Moderators", position=1, mentionable=False,
                         permissions=P.MANAGE_MESSAGES | P.KICK_MEMBERS | P.MODERATE_MEMBERS),
                FakeRole(id=managers_id, name="Managers", position=2, permissions=P.MANAGE_GUILD),
            ],
            members=[
                "owner",
                {"username": "manager", "roles": [managers_id]},
                {"username": "member"},
                {"username": "moderator", "roles": [mods_id]},
            ],
            channels=[],
        )
        gid = guild.id
        cat = FakeChannel(id=self.snowflake(), name="Community", type=GUILD_CATEGORY, guild_id=gid, position=0)
        assert guild.bot_role_id is not None
        specs: list[dict[str, Any]] = [
            {"name": "general", "topic": "Talk about models"},
            {"name": "feeds", "topic": "New releases"},
            {
                "name": "log",
                "permission_overwrites": [
                    overwrite(gid, deny=P.VIEW_CHANNEL),
                    overwrite(managers_id, allow=P.VIEW_CHANNEL),
                    overwrite(mods_id, allow=P.VIEW_CHANNEL),
                    overwrite(guild.bot_role_id, allow=P.VIEW_CHANNEL | P.SEND_MESSAGES | P.EMBED_LINKS),
                ],
            },
            {"name": "nsfw", "nsfw": True, "topic": "Age-restricted"},
            {
                "name": "announcements",
                "permission_overwrites": [
                    overwrite(gid, deny=P.SEND_MESSAGES),
                    overwrite(managers_id, allow=P.SEND_MESSAGES),
                ],
            },
        ]
        guild.channels[cat.id] = cat
        self.channels[cat.id] = cat
        for pos, spec in enumerate(specs):
            ch = FakeChannel(id=self.snowflake(), guild_id=gid, position=pos, parent_id=cat.id, **spec)
            guild.channels[ch.id] = ch
            self.channels[ch.id] = ch
        return guild

    def add_guilds(self, n: int, *, prefix: str = "Guild") -> list[FakeGuild]:
        """Bulk-create ``n`` small guilds (channels ``general`` and ``feeds``, an owner, the bot)."""
        out = []
        for i in range(n):
            out.append(self.add_guild(name=f"{prefix} {i}", channels=["general", "feeds"], members=[f"owner{i}"]))
        return out

    def guild_of(self, channel_id: int) -> FakeGuild | None:
        ch = self.channels.get(channel_id)
        return self.guilds.get(ch.guild_id) if ch and ch.guild_id else None

    def get_message(self, message_id: int) -> dict[str, Any] | None:
        """The current (live) message dict for ``message_id``, including ephemeral ones."""
        return self._message_index.get(message_id)

    def last_message(self, channel_id: int) -> dict[str, Any] | None:
        msgs = self.messages.get(channel_id) or []
        return msgs[-1] if msgs else None

    def delete_message(self, message_id: int) -> None:
        """A moderator deletes a message: it leaves its channel and its history (kept in
        ``deleted_messages``); MESSAGE_DELETE goes out as for any deletion."""
        msg = self._message_index.get(message_id)
        if msg is None or msg.get("_deleted"):
            raise LookupError(f"no message {message_id}")
        self._remove_message(msg)

    def dm_channel(self, user_id: int) -> FakeChannel:
        """The DM channel between the bot and ``user_id`` (created on first use)."""
        cid = self._dm_channels.get(user_id)
        if cid is None:
            cid = self.snowflake()
            self.channels[cid] = FakeChannel(id=cid, name="", type=DM, recipients=[self.users[user_id]])
            self._dm_channels[user_id] = cid
        return self.channels[cid]

    # ------------------------------------------------------------------------------------- permissions

    def base_permissions(self, guild: FakeGuild, user_id: int) -> int:
        if user_id == guild.owner_id:
            return P.ALL
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = guild.everyone.permissions
        for rid in member.roles:
            role = guild.roles.get(rid)
            if role:
                perms |= role.permissions
        return P.ALL if perms & P.ADMINISTRATOR else perms

    def permissions_for(self, channel_id: int, user_id: int) -> int:
        """Discord's permission computation (roles, then @everyone/role/member overwrites; implicit
        denials: no VIEW_CHANNEL means nothing, no SEND_MESSAGES means no embeds/files/mentions)."""
        ch = self.channels.get(channel_id)
        if ch is None or ch.deleted:
            return 0
        if ch.guild_id is None:
            return P.DM_DEFAULT
        guild = self.guilds[ch.guild_id]
        perms = self.base_permissions(guild, user_id)
        if perms & P.ADMINISTRATOR or user_id == guild.owner_id:
            return P.ALL
        member = guild.members.get(user_id)
        if member is None:
            return 0
        ows = {(int(o["id"]), int(o["type"])): o for o in ch.permission_overwrites}
        ev = ows.get((guild.id, 0))
        if ev:
            perms = (perms & ~int(ev["deny"])) | int(ev["allow"])
        allow = deny = 0
        for rid in member.roles:
            o = ows.get((rid, 0))
            if o:
                allow |= int(o["allow"])
                deny |= int(o["deny"])
        perms = (perms & ~deny) | allow
        mo = ows.get((user_id, 1))
        if mo:
            perms = (perms & ~int(mo["deny"])) | int(mo["allow"])
        if not perms & P.VIEW_CHANNEL:
            return 0
        if not perms & P.SEND_MESSAGES:
            perms &= ~(P.SEND_TTS_MESSAGES | P.MENTION_EVERYONE | P.EMBED_LINKS | P.ATTACH_FILES)
        return perms

    # ------------------------------------------------------------------------------ world changes (live)

    def delete_channel(self, channel_id: int) -> Awaitable[None]:
        """Delete a channel: REST answers 404 / 10003 from now on; CHANNEL_DELETE is dispatched.

        Returns an awaitable; ``await`` it to wait until the event was sent (optional)."""
        ch = self.channels[channel_id]
        ch.deleted = True
        payload = ch.to_payload()
        if ch.guild_id is not None:
            self.guilds[ch.guild_id].channels.pop(channel_id, None)
        return self._spawn(self.dispatch("CHANNEL_DELETE", payload))

    def set_channel_overwrites(self, channel_id: int, overwrites: Sequence[Mapping[str, Any]]) -> Awaitable[None]:
        """Replace a channel's ``permission_overwrites`` (use :func:`overwrite`); CHANNEL_UPDATE is
        dispatched.  Returns an awaitable (optional to await)."""
        ch = self.channels[channel_id]
        ch.permission_overwrites = [
            {"id": str(o["id"]), "type": int(o.get("type", 0)), "allow": str(o.get("allow", 0)),
             "deny": str(o.get("deny", 0))}
            for o in overwrites
        ]
        return self._spawn(self.dispatch("CHANNEL_UPDATE", ch.to_payload()))

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> Awaitable[None]:
        """Change a role's permissions; GUILD_ROLE_UPDATE is dispatched.  Returns an awaitable."""
        role = self.guilds[guild_id].roles[role_id]
        role.permissions = permissions
        data = {"guild_id": str(guild_id), "role": role.to_payload()}
        return self._spawn(self.dispatch("GUILD_ROLE_UPDATE", data))

    def set_member_roles(self, guild_id: int, user_id: int, role_ids: Sequence[int]) -> Awaitable[None]:
        """Change a member's roles; GUILD_MEMBER_UPDATE is dispatched (members intent only)."""
        member = self.guilds[guild_id].members[user_id]
        member.roles = list(role_ids)
        data = {"guild_id": str(guild_id), **member.to_payload()}
        return self._spawn(self.dispatch("GUILD_MEMBER_UPDATE", data))

    async def announce_guild(self, guild: FakeGuild) -> None:
        """Dispatch GUILD_CREATE for a guild added after the bot connected (the bot "joined" it)."""
        data = guild.to_payload(for_gateway=True)
        del data["unavailable"]  # absent on a join (``unavailable: false`` means "became available")
        self.guilds[guild.id] = guild
        await self.dispatch("GUILD_CREATE", data)

    async def remove_guild(self, guild_id: int) -> None:
        """The bot is removed from a guild: GUILD_DELETE; its channels become unknown."""
        guild = self.guilds.pop(guild_id)
        for ch in guild.channels.values():
            ch.deleted = True
        await self.dispatch("GUILD_DELETE", {"id": str(guild_id)})

    # ----------------------------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` (``"*"`` = any) and ``path_regex``
        (``re.search`` on the path relative to the API base, e.g. ``r"/channels/\\d+/messages$"``)
        with ``status`` and ``json`` (default: a Discord-like error body).  Note: discord.py retries
        500/502/504/524 up to 5 times, sleeping 1 + 2n seconds in between."""
        defaults = {
            400: {"message": "400: Bad Request", "code": 0},
            401: {"message": "401: Unauthorized", "code": 0},
            403: {"message": "Missing Permissions", "code": 50013},
            404: {"message": "404: Not Found", "code": 0},
        }
        body = json if json is not None else defaults.get(status, {"message": f"{status}: Error", "code": 0})
        self._injections.append(
            _Injection(method.upper(), re.compile(path_regex), status, body, dict(headers or {}), times)
        )

    def clear_faults(self) -> None:
        """Drop pending ``fail_next``/``rate_limit_next`` injections and ``delay_responses`` holds."""
        self._injections.clear()
        self._response_delays.clear()

    def delay_responses(self, method: str, path_regex: str, seconds: float, *, times: int = 1) -> None:
        """Handle the next ``times`` matching requests normally (a message IS created), but hold the
        response for ``seconds`` first: the window in which a client that crashes has done the work
        without learning the result (e.g. a message id)."""
        self._response_delays.append([method.upper(), re.compile(path_regex), seconds, times])

    def rate_limit_next(
        self, method: str, path_regex: str, retry_after: float = 0.25, times: int = 1, *, global_: bool = False
    ) -> None:
        """Answer the next matching request(s) with a Discord 429 (``Via`` header + JSON ``retry_after``),
        which discord.py honours by sleeping and retrying."""
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": global_}
        if not global_:
            body["code"] = 0
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Scope": "global" if global_ else "user",
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        self.fail_next(method, path_regex, 429, json=body, headers=headers, times=times)

    # ------------------------------------------------------------------------------ waiting on requests

    def find_requests(self, method: str, path_regex: str) -> list[RecordedRequest]:
        """All recorded requests matching (see :meth:`fail_next` for the matching rule)."""
        return [r for r in self.requests if r.matches(method.upper(), path_regex)]

    async def wait_for_request(
        self,
        method: str,
        path_regex: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        predicate: Callable[[RecordedRequest], bool] | None = None,
        after_index: int = 0,
    ) -> RecordedRequest:
        """Wait for (or find) the first *answered* request with ``index >= after_index`` that matches
        ``method``/``path_regex`` and ``predicate``.  Use ``after_index=len(fake.requests)`` to only
        consider requests made from now on."""
        method = method.upper()

        def find() -> RecordedRequest | None:
            for r in self.requests[after_index:]:
                if r.status is not None and r.matches(method, path_regex) and (predicate is None or predicate(r)):
                    return r
            return None

        try:
            async with asyncio.timeout(timeout):
                while (found := find()) is None:
                    await self._changed.wait()
        except TimeoutError:
            recent = ", ".join(f"{r.method} {r.path} {r.status}" for r in self.requests[-10:])
            raise TimeoutError(f"no {method} {path_regex} within {timeout}s; recent: {recent}") from None
        return found

    async def wait_until(
        self, predicate: Callable[[], bool], *, timeout: float = 5.0, poll: float = 0.02  # noqa: ASYNC109
    ) -> None:
        """Wait until ``predicate()`` is true.  It is re-checked after every request and gateway event the
        fake handles, and every ``poll`` seconds (so it also works for state the *bot* changes after it
        received an event, e.g. a list an ``on_message`` handler appends to)."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), poll)
        except TimeoutError:
            raise TimeoutError(f"condition not met within {timeout}s") from None

    async def wait_for_ready(self, count: int = 1, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until READY (and all GUILD_CREATEs) was sent ``count`` times in total."""
        await self.wait_until(lambda: self.ready_count >= count, timeout=timeout)

    # ------------------------------------------------------------------------------------- HTTP plumbing

    def _route(
        self, method: str, pattern: str, handler: _Handler, *, auth: bool = True, bucket: str | None = None
    ) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        self._routes.append((method, re.compile(f"^{regex}$"), handler, auth, bucket))

    def _build_routes(self) -> None:
        r = self._route
        r("GET", "/users/@me", self._get_me)
        r("GET", "/users/{user_id}", self._get_user)
        r("POST", "/users/@me/channels", self._create_dm)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/gateway", self._get_gateway, auth=False)
        r("GET", "/gateway/bot", self._get_gateway_bot)
        for prefix in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            r("GET", prefix + "/commands", self._list_commands)
            r("PUT", prefix + "/commands", self._put_commands)
            r("POST", prefix + "/commands", self._post_command)
            r("GET", prefix + "/commands/{command_id}", self._get_command)
            r("PATCH", prefix + "/commands/{command_id}", self._patch_command)
            r("DELETE", prefix + "/commands/{command_id}", self._delete_command)
        r("POST", "/interactions/{interaction_id}/{token}/callback", self._interaction_callback, auth=False)
        hook = "/webhooks/{app_id}/{token}"
        r("POST", hook, self._followup_create, auth=False, bucket="webhook")
        r("GET", hook + "/messages/{message_id}", self._webhook_get, auth=False, bucket="webhook")
        r("PATCH", hook + "/messages/{message_id}", self._webhook_edit, auth=False, bucket="webhook")
        r("DELETE", hook + "/messages/{message_id}", self._webhook_delete, auth=False, bucket="webhook")
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("GET", "/channels/{channel_id}/messages", self._list_messages)
        r("POST", "/channels/{channel_id}/messages", self._create_message, bucket="message_create")
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message, bucket="message_edit")
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message, bucket="message_delete")
        r("POST", "/channels/{channel_id}/typing", self._typing)
        base = "/channels/{channel_id}/messages/{message_id}/reactions"
        r("PUT", base + "/{emoji}/@me", self._add_own_reaction, bucket="reaction")
        r("DELETE", base + "/{emoji}/@me", self._remove_own_reaction, bucket="reaction")
        r("GET", base + "/{emoji}", self._list_reaction_users)
        r("DELETE", base + "/{emoji}/{user_id}", self._remove_user_reaction, bucket="reaction")
        r("DELETE", base + "/{emoji}", self._clear_emoji)
        r("DELETE", base, self._clear_reactions)
        r("GET", "/guilds/{guild_id}", self._get_guild)
        r("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        r("GET", "/guilds/{guild_id}/roles", self._get_guild_roles)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[RecordedFile]]:
        files: list[RecordedFile] = []
        if not request.body_exists:
            return None, files
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            payload: Any = None
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if part.filename is None and part.name == "payload_json":  # type: ignore[union-attr]
                    payload = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    data = await part.read()  # type: ignore[union-attr]
                    files.append(
                        RecordedFile(
                            field=part.name or "",  # type: ignore[union-attr]
                            filename=part.filename or "",  # type: ignore[union-attr]
                            content_type=part.headers.get("Content-Type"),  # type: ignore[union-attr]
                            data=bytes(data),
                        )
                    )
            return payload, files
        raw = await request.read()
        if not raw:
            return None, files
        if ctype == JSON_TYPE:
            return json.loads(raw), files
        return raw.decode("utf-8", "replace"), files

    @staticmethod
    def _json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
        if status == 204 or body is None:
            return web.Response(status=status if status != 200 else 204, headers=dict(headers or {}))
        if isinstance(body, bytes):  # not JSON (an edge's HTML error page): sent as it is
            return web.Response(status=status, body=body, headers=dict(headers or {}))
        hdrs = {"Content-Type": JSON_TYPE, **dict(headers or {})}
        return web.Response(status=status, body=_dumps(body).encode(), headers=hdrs)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        try:
            body, files = await self._read_body(request)
        except (ValueError, json.JSONDecodeError):
            body, files = None, []
            bad_body = True
        else:
            bad_body = False
        rec = RecordedRequest(
            index=len(self.requests),
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=body,
            files=files,
            time=time.monotonic(),
        )
        self.requests.append(rec)
        try:
            resp = await self._dispatch_request(request, rec, path, bad_body)
        except ApiError as e:
            resp = _Response(e.status, e.body(), e.headers)
            rec.errors = e.errors
            if e.code == 50035:
                self.validation_errors.append(rec)
        except Exception as e:  # a bug in the fake: answer 503 (discord.py raises at once) and record it
            self.internal_errors.append(e)
            resp = _Response(503, {"message": f"fake discord internal error: {e!r}", "code": 0})
        rec.status = resp.status
        rec.response = resp.body
        rec.response_headers = dict(resp.headers)
        if rec.interaction is not None:
            rec.interaction._notify()
        self._changed.notify()
        for delay in self._response_delays:
            if delay[3] > 0 and delay[0] in ("*", rec.method) and delay[1].search(path):
                delay[3] -= 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), timeout=delay[2])
                break
        return self._json_response(resp.status, resp.body, resp.headers)

    async def _dispatch_request(
        self, request: web.Request, rec: RecordedRequest, path: str, bad_body: bool
    ) -> _Response:
        for inj in self._injections:
            if inj.times > 0 and inj.method in ("*", rec.method) and inj.pattern.search(path):
                inj.times -= 1
                self._injections = [i for i in self._injections if i.times > 0]
                rec.injected = True
                return _Response(inj.status, inj.body, inj.headers)
        for method, regex, handler, auth, bucket in self._routes:
            if method != rec.method:
                continue
            m = regex.match(path)
            if m is None:
                continue
            if auth and request.headers.get("Authorization") != f"Bot {self.token}":
                return _Response(401, {"message": "401: Unauthorized", "code": 0})
            windows: dict[str, _Window] = {}
            if self.rate_limits:
                limited = self._apply_rate_limits(request, rec, path, bucket, m.groupdict())
                if isinstance(limited, _Response):
                    return limited  # nothing happened: no message, no nonce, no reaction
                windows = limited
            try:
                if bad_body:
                    raise ApiError(400, 50109, "The request body contains invalid JSON.")
                result = await handler(_Ctx(request, rec), **m.groupdict())
            except ApiError as e:  # Discord counts (and reports the bucket of) failed requests too
                e.headers = {**self._rate_limit_headers(bucket, windows), **e.headers}
                raise
            if not isinstance(result, _Response):
                result = _Response(200 if result is not None else 204, result)
            result.headers = {**self._rate_limit_headers(bucket, windows), **result.headers}
            return result
        self.unhandled.append(rec)
        return _Response(404, {"message": "404: Not Found", "code": 0})

    @staticmethod
    def _major_parameter(groups: Mapping[str, str]) -> str:
        """The part of a route that splits a bucket (Discord's "major parameter")."""
        if "channel_id" in groups:
            return groups["channel_id"]
        if "token" in groups:
            return f"{groups.get('app_id', groups.get('interaction_id'))}/{groups['token']}"
        return groups.get("guild_id", "")

    def _apply_rate_limits(
        self, request: web.Request, rec: RecordedRequest, path: str, bucket: str | None, groups: Mapping[str, str]
    ) -> dict[str, _Window] | _Response:
        """Count the request against the global limit (requests with a bot token; interaction callbacks
        are exempt) and its route bucket.  Over a limit: the 429 Discord sends, recorded in
        :attr:`rate_limited`."""
        keys: list[tuple[str, str]] = []
        auth = request.headers.get("Authorization") or ""
        if auth.startswith("Bot ") and not path.startswith("/interactions/"):
            keys.append(("global", auth))
        if bucket is not None:
            keys.append((bucket, self._major_parameter(groups)))
        windows, exhausted = self._limiter.take(keys)
        if exhausted is None:
            return windows
        win = windows[exhausted]
        retry_after = self._limiter.retry_after(win)
        is_global = exhausted == "global"
        body: dict[str, Any] = {"message": "You are being rate limited.", "retry_after": retry_after,
                                "global": is_global}
        headers = self._limiter.headers(exhausted, win)
        headers["X-RateLimit-Remaining"] = "0"
        if is_global:
            headers["X-RateLimit-Global"] = "true"
            # the route's own bucket id (if any): a client must not file this route under a "global" bucket
            headers.pop("X-RateLimit-Bucket")
            if bucket is not None and self._limiter.limits.get(bucket) is not None:
                headers["X-RateLimit-Bucket"] = self._limiter.bucket_hash(bucket)
        else:
            body["code"] = 0
        headers["X-RateLimit-Scope"] = "global" if is_global else "user"
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        self.rate_limited.append(rec)
        if not self.rate_limit_via:
            # an edge (Cloudflare) 429: an HTML page and whole seconds in Retry-After, nothing else
            page = b"<html><head><title>429 Too Many Requests</title></head><body>rate limited</body></html>"
            return _Response(429, page, {"Retry-After": headers["Retry-After"], "Content-Type": "text/html"})
        headers["Via"] = "1.1 google"
        return _Response(429, body, headers)

    def _rate_limit_headers(self, bucket: str | None, windows: Mapping[str, _Window]) -> dict[str, str]:
        if bucket is None or bucket not in windows or not self.rate_limit_headers:
            return {}
        return self._limiter.headers(bucket, windows[bucket])

    async def _handle_cdn(self, request: web.Request) -> web.StreamResponse:
        data = self.attachments.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})

    # ---------------------------------------------------------------------------------- REST: identity

    async def _get_me(self, ctx: _Ctx) -> Any:
        data = self.bot_user.to_payload()
        data.update(verified=True, mfa_enabled=False, flags=0, locale="en-US", email=None)
        return data

    async def _get_user(self, ctx: _Ctx, user_id: str) -> Any:
        user = self.users.get(int(user_id)) if user_id.isdigit() else None
        if user is None:
            raise _unknown(10013, "User")
        return user.to_payload()

    def _app_flags(self) -> int:
        flags = 1 << 23  # APPLICATION_COMMAND_BADGE
        if not self.reject_privileged:
            flags |= (1 << 13) | (1 << 15) | (1 << 19)  # presence / members / message content (limited)
        return flags

    async def _get_application(self, ctx: _Ctx) -> Any:
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "hook": True,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": self._app_flags(),
            "owner": self.owner_user.to_payload(),
            "team": None,
            "bot": self.bot_user.to_payload(),
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "redirect_uris": [],
            "tags": [],
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    async def _get_gateway(self, ctx: _Ctx) -> Any:
        return {"url": self.gateway_url.rstrip("/")}

    async def _get_gateway_bot(self, ctx: _Ctx) -> Any:
        return {
            "url": self.gateway_url.rstrip("/"),
            "shards": self.recommended_shards,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1},
        }

    # -------------------------------------------------------------------------------- REST: commands

    def _check_app(self, app_id: str) -> None:
        if app_id != str(self.application_id):
            raise ApiError(403, 50001, "Missing Access")

    def _command_list(self, guild_id: str | None) -> list[dict[str, Any]]:
        if guild_id is None:
            return self.commands[None]
        gid = int(guild_id)
        if gid not in self.guilds:
            raise ApiError(403, 50001, "Missing Access")
        return self.commands.setdefault(gid, [])

    def _normalize_command(
        self, body: dict[str, Any], guild_id: str | None, existing: Sequence[dict[str, Any]]
    ) -> dict[str, Any]:
        ctype = body.get("type", 1)
        prev = next((c for c in existing if c["name"] == body.get("name") and c["type"] == ctype), None)
        cmd: dict[str, Any] = {
            "id": prev["id"] if prev else str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
            "type": ctype,
            "name": body.get("name"),
            "name_localizations": body.get("name_localizations"),
            "description": body.get("description", "") if ctype == 1 else "",
            "description_localizations": body.get("description_localizations"),
            "default_member_permissions": (
                str(body["default_member_permissions"]) if body.get("default_member_permissions") is not None else None
            ),
            "dm_permission": body.get("dm_permission", True),
            "nsfw": bool(body.get("nsfw", False)),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
        }
        if body.get("options"):
            cmd["options"] = copy.deepcopy(body["options"])
        if guild_id is not None:
            cmd["guild_id"] = guild_id
        return cmd

    def _validate_commands(self, bodies: list[Any]) -> None:
        errs = _Errors()
        names: set[tuple[int, str]] = set()
        for i, b in enumerate(bodies):
            if not isinstance(b, dict):
                errs.add(str(i), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
                continue
            _validate_command(b, errs, str(i))
            key = (b.get("type", 1), b.get("name"))
            if key in names:
                errs.add(f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
            names.add(key)  # type: ignore[arg-type]
        if sum(1 for b in bodies if isinstance(b, dict) and b.get("type", 1) == 1) > 100:
            errs.add("", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer chat input commands.")
        if errs.items:
            raise ApiError(400, 50035, "Invalid Form Body", errors=errs.items)

    async def _list_commands(self, ctx: _Ctx, app_id: str, guild_id: str | None = None) -> Any:
        self._check_app(app_id)
        return copy.deepcopy(self._command_list(guild_id))

    async def _put_commands(self, ctx: _Ctx, app_id: str, guild_id: str | None = None) -> Any:
        self._check_app(app_id)
        existing = self._command_list(guild_id)
        bodies = ctx.json if isinstance(ctx.json, list) else []
        self._validate_commands(bodies)
        new = [self._normalize_command(b, guild_id, existing) for b in bodies]
        self.commands[None if guild_id is None else int(guild_id)] = new
        return copy.deepcopy(new)

    async def _post_command(self, ctx: _Ctx, app_id: str, guild_id: str | None = None) -> Any:
        self._check_app(app_id)
        existing = self._command_list(guild_id)
        self._validate_commands([ctx.body])
        cmd = self._normalize_command(ctx.body, guild_id, existing)
        existing[:] = [c for c in existing if c["id"] != cmd["id"]] + [cmd]
        return _Response(201, copy.deepcopy(cmd))

    def _find_command_by_id(self, app_id: str, guild_id: str | None, command_id: str) -> dict[str, Any]:
        self._check_app(app_id)
        for c in self._command_list(guild_id):
            if c["id"] == command_id:
                return c
        raise _unknown(10063, "application command")

    async def _get_command(self, ctx: _Ctx, app_id: str, command_id: str, guild_id: str | None = None) -> Any:
        return copy.deepcopy(self._find_command_by_id(app_id, guild_id, command_id))

    async def _patch_command(self, ctx: _Ctx, app_id: str, command_id: str, guild_id: str | None = None) -> Any:
        cmd = self._find_command_by_id(app_id, guild_id, command_id)
        merged = {**cmd, **ctx.body}
        self._validate_commands([merged])
        cmd.update(self._normalize_command(merged, guild_id, [cmd]))
        return copy.deepcopy(cmd)

    async def _delete_command(self, ctx: _Ctx, app_id: str, command_id: str, guild_id: str | None = None) -> Any:
        cmd = self._find_command_by_id(app_id, guild_id, command_id)
        self._command_list(guild_id).remove(cmd)
        return None

    def find_command(self, name: str, guild_id: int | None = None, *, type: int = 1) -> dict[str, Any] | None:
        """The registered command ``name`` visible in ``guild_id`` (guild commands win over global)."""
        if guild_id is not None:
            for c in self.commands.get(guild_id, []):
                if c["name"] == name and c["type"] == type:
                    return c
        for c in self.commands[None]:
            if c["name"] == name and c["type"] == type:
                return c
        return None

    # -------------------------------------------------------------------------------- REST: channels

    def _channel_or_404(self, channel_id: str) -> FakeChannel:
        ch = self.channels.get(int(channel_id)) if channel_id.isdigit() else None
        if ch is None or ch.deleted:
            raise _unknown(10003, "Channel")
        return ch

    def _require(self, ch: FakeChannel, needed: int) -> None:
        perms = self.permissions_for(ch.id, self.bot_user.id)
        if not perms & P.VIEW_CHANNEL:
            raise _forbidden(50001, "Missing Access")
        if perms & needed != needed:
            raise _forbidden()

    async def _get_channel(self, ctx: _Ctx, channel_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        if ch.guild_id is not None:
            self._require(ch, P.VIEW_CHANNEL)
        return ch.to_payload()

    async def _typing(self, ctx: _Ctx, channel_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        if ch.guild_id is not None:
            self._require(ch, P.SEND_MESSAGES)
        return None

    async def _create_dm(self, ctx: _Ctx) -> Any:
        rid = ctx.body.get("recipient_id")
        user = self.users.get(int(rid)) if str(rid).isdigit() else None
        if user is None:
            raise ApiError(400, 50035, "Invalid Form Body", errors=[("recipient_id", "USER_NOT_FOUND", "Unknown user")])
        return self.dm_channel(user.id).to_payload()

    def _message_or_404(self, ch: FakeChannel, message_id: str) -> dict[str, Any]:
        msg = self._message_index.get(int(message_id)) if message_id.isdigit() else None
        if msg is None or msg["channel_id"] != str(ch.id) or msg["flags"] & FLAG_EPHEMERAL or msg.get("_deleted"):
            raise _unknown(10008, "Message")  # (a deleted message is unknown too)
        return msg

    async def _list_messages(self, ctx: _Ctx, channel_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        if ch.guild_id is not None:
            self._require(ch, P.VIEW_CHANNEL)
            if not self.permissions_for(ch.id, self.bot_user.id) & P.READ_MESSAGE_HISTORY:
                return []
        try:
            limit = int(ctx.query.get("limit", 50))
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            raise ApiError(400, 50035, "Invalid Form Body",
                           errors=[("limit", "NUMBER_TYPE_MAX", "int value should be <= 100 and >= 1.")])
        msgs = sorted(self.messages.get(ch.id, []), key=lambda m: int(m["id"]))
        if "before" in ctx.query:
            before = int(ctx.query["before"])
            out = [m for m in reversed(msgs) if int(m["id"]) < before][:limit]
        elif "after" in ctx.query:
            after = int(ctx.query["after"])
            out = list(reversed([m for m in msgs if int(m["id"]) > after][:limit]))
        elif "around" in ctx.query:
            around = int(ctx.query["around"])
            older = [m for m in reversed(msgs) if int(m["id"]) <= around][: (limit + 1) // 2]
            newer = [m for m in msgs if int(m["id"]) > around][: limit // 2]
            out = list(reversed(newer)) + older
        else:
            out = list(reversed(msgs))[:limit]
        return [self._render_message(m) for m in out]

    async def _get_message(self, ctx: _Ctx, channel_id: str, message_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        if ch.guild_id is not None:
            self._require(ch, P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY)
        return self._render_message(self._message_or_404(ch, message_id))

    async def _create_message(self, ctx: _Ctx, channel_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        body = ctx.body
        if ch.type == DM:
            user = ch.recipients[0]
            if user.bot or not user.accepts_dms:
                raise _forbidden(50007, "Cannot send messages to this user")
        else:
            if ch.type == GUILD_CATEGORY:
                raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
            needed = P.VIEW_CHANNEL | P.SEND_MESSAGES
            if body.get("embeds"):
                needed |= P.EMBED_LINKS
            if ctx.files:
                needed |= P.ATTACH_FILES
            if body.get("message_reference"):
                needed |= P.READ_MESSAGE_HISTORY
            self._require(ch, needed)
        self._check_upload_size(ch, ctx.files)
        errs = _Errors()
        _validate_message(body, errs)
        if errs.items:
            raise ApiError(400, 50035, "Invalid Form Body", errors=errs.items)
        if _is_empty_message(body, len(ctx.files)):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if int(body.get("flags") or 0) & ~(FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2):
            raise ApiError(400, 50035, "Invalid Form Body",
                           errors=[("flags", "MESSAGE_FLAGS_INVALID", "Invalid flags")])
        nonce = body.get("nonce")
        key = (ch.id, self.bot_user.id, str(nonce))
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and self._now() - seen[0] <= self.nonce_window:
                existing = self._message_index.get(seen[1])
                if existing is not None and not existing.get("_deleted"):
                    return self._render_message(existing)
        msg = self._new_message(ch, self.bot_user, body, ctx.files, mtype=0, default_parse=None)
        if nonce is not None:
            self._nonces[key] = (self._now(), int(msg["id"]))
        self._spawn(self._dispatch_message_event("MESSAGE_CREATE", msg))
        return self._render_message(msg)

    async def _edit_message(self, ctx: _Ctx, channel_id: str, message_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        if ch.guild_id is not None:
            self._require(ch, P.VIEW_CHANNEL)
        if msg["author"]["id"] != str(self.bot_user.id):
            if set(ctx.body) - {"flags"}:
                raise _forbidden(50005, "Cannot edit a message authored by another user")
            self._require(ch, P.MANAGE_MESSAGES)
        self._apply_edit(ch, msg, ctx.body, ctx.files)
        self._spawn(self._dispatch_message_event("MESSAGE_UPDATE", msg))
        return self._render_message(msg)

    async def _delete_message(self, ctx: _Ctx, channel_id: str, message_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        if msg["author"]["id"] != str(self.bot_user.id) and ch.guild_id is not None:
            self._require(ch, P.MANAGE_MESSAGES)
        self._remove_message(msg)
        return None

    def _remove_message(self, msg: dict[str, Any]) -> None:
        msg["_deleted"] = True
        cid = int(msg["channel_id"])
        lst = self.messages.get(cid, [])
        if msg in lst:
            lst.remove(msg)
        self.deleted_messages.append(msg)
        data = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if msg.get("guild_id"):
            data["guild_id"] = msg["guild_id"]
        if not msg["flags"] & FLAG_EPHEMERAL:
            self._spawn(self.dispatch("MESSAGE_DELETE", data))

    def _check_upload_size(self, ch: FakeChannel, files: Sequence[RecordedFile]) -> None:
        limit = self.guilds[ch.guild_id].filesize_limit if ch.guild_id in self.guilds else 10 * 1024 * 1024
        if any(f.size > limit for f in files):
            raise ApiError(413, 40005, "Request entity too large")
        if len(files) > 10:
            raise ApiError(400, 50035, "Invalid Form Body",
                           errors=[("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")])

    # ------------------------------------------------------------------------------- messages (model)

    def _store_attachments(
        self, channel_id: int, specs: Sequence[Mapping[str, Any]] | None, files: Sequence[RecordedFile]
    ) -> list[dict[str, Any]]:
        by_index = {f"files[{i}]": f for i, f in enumerate(files)}
        by_field = {f.field: f for f in files}
        out: list[dict[str, Any]] = []
        used: set[str] = set()
        for spec in specs or []:
            ref = f"files[{spec.get('id')}]"
            f = by_field.get(ref) or by_index.get(ref)
            if f is None:
                continue
            used.add(f.field)
            out.append(self._attachment(channel_id, f, spec))
        for f in files:
            if f.field not in used:
                out.append(self._attachment(channel_id, f, {}))
        return out

    def _attachment(self, channel_id: int, f: RecordedFile, spec: Mapping[str, Any]) -> dict[str, Any]:
        aid = self.snowflake()
        filename = spec.get("filename") or f.filename
        self.attachments[aid] = f.data
        url = f"{self.cdn_base}/attachments/{channel_id}/{aid}/{filename}"
        att: dict[str, Any] = {
            "id": str(aid),
            "filename": filename,
            "size": f.size,
            "url": url,
            "proxy_url": url,
            "content_type": _guess_content_type(filename),
        }
        if spec.get("description"):
            att["description"] = spec["description"]
        if _guess_content_type(filename).startswith("image/"):
            att["width"], att["height"] = _image_size(f.data)
        return att

    def _normalize_embeds(
        self, embeds: Sequence[Mapping[str, Any]], attachments: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        by_name = {a["filename"]: a["url"] for a in attachments}
        out = []
        for e in embeds:
            emb = {"type": "rich", **copy.deepcopy(dict(e))}
            for key in ("image", "thumbnail"):
                if isinstance(emb.get(key), dict):
                    url = emb[key].get("url", "")
                    if url.startswith("attachment://"):
                        emb[key]["url"] = by_name.get(url[len("attachment://"):], url)
                    emb[key].setdefault("proxy_url", emb[key]["url"])
            out.append(emb)
        return out

    @staticmethod
    def _normalize_components(components: Sequence[Any]) -> list[dict[str, Any]]:
        comps = copy.deepcopy(list(components))
        counter = itertools.count(1)
        for c in _walk_components(comps):
            c.setdefault("id", next(counter))
            if c.get("type") == 2:
                c.setdefault("disabled", False)
        return comps

    def _mentions(
        self, ch: FakeChannel, content: str, allowed: Mapping[str, Any] | None, default_parse: Sequence[str]
    ) -> tuple[bool, list[dict[str, Any]], list[str]]:
        """(mention_everyone, mentions, mention_roles) as Discord computes them for a bot message."""
        if allowed is None:
            parse, users, roles = set(default_parse), set(), set()
        else:
            parse = set(allowed.get("parse") or [])
            users = {str(u) for u in allowed.get("users") or []}
            roles = {str(r) for r in allowed.get("roles") or []}
        guild = self.guilds.get(ch.guild_id) if ch.guild_id else None
        can_everyone = bool(self.permissions_for(ch.id, self.bot_user.id) & P.MENTION_EVERYONE) if guild else False
        everyone = ("@everyone" in content or "@here" in content) and "everyone" in parse and can_everyone
        mentions = []
        for uid in dict.fromkeys(re.findall(r"<@!?(\d+)>", content)):
            if ("users" in parse or uid in users) and int(uid) in self.users:
                mentions.append(self.users[int(uid)].to_payload())
        mention_roles = []
        for rid in dict.fromkeys(re.findall(r"<@&(\d+)>", content)):
            role = guild.roles.get(int(rid)) if guild else None
            if role and ("roles" in parse or rid in roles) and (role.mentionable or can_everyone):
                mention_roles.append(rid)
        return everyone, mentions, mention_roles

    def _new_message(
        self,
        ch: FakeChannel,
        author: FakeUser,
        body: Mapping[str, Any],
        files: Sequence[RecordedFile],
        *,
        mtype: int,
        default_parse: Sequence[str] | None,
        flags: int | None = None,
        interaction: InteractionRecord | None = None,
        store: bool = True,
    ) -> dict[str, Any]:
        mid = self.snowflake()
        attachments = self._store_attachments(ch.id, body.get("attachments"), files)
        content = body.get("content") or ""
        parse = default_parse if default_parse is not None else ("users", "roles", "everyone")
        everyone, mentions, mention_roles = self._mentions(ch, content, body.get("allowed_mentions"), parse)
        msg: dict[str, Any] = {
            "id": str(mid),
            "type": mtype,
            "channel_id": str(ch.id),
            "author": author.to_payload(),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "attachments": attachments,
            "embeds": self._normalize_embeds(body.get("embeds") or [], attachments),
            "components": self._normalize_components(body.get("components") or []),
            "pinned": False,
            "flags": int(body.get("flags") or 0) if flags is None else flags,
        }
        if ch.guild_id is not None:
            msg["guild_id"] = str(ch.guild_id)
        if body.get("nonce") is not None:
            msg["nonce"] = body["nonce"]
        if body.get("message_reference"):
            msg["message_reference"] = {"type": 0, "channel_id": str(ch.id), **body["message_reference"]}
        if interaction is not None:
            msg["webhook_id"] = str(self.application_id)
            msg["application_id"] = str(self.application_id)
            user = self.users[interaction.user_id].to_payload()
            meta: dict[str, Any] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
            if interaction.name:
                meta["name"] = interaction.name
                msg["interaction"] = {"id": str(interaction.id), "type": interaction.type,
                                      "name": interaction.name, "user": user}
            if interaction.type == 3 and interaction.payload.get("message"):
                meta["interacted_message_id"] = interaction.payload["message"]["id"]
            msg["interaction_metadata"] = meta
        self._message_index[mid] = msg
        if store and not msg["flags"] & FLAG_EPHEMERAL:
            self.messages.setdefault(ch.id, []).append(msg)
            ch.last_message_id = mid
        return msg

    def _apply_edit(
        self, ch: FakeChannel, msg: dict[str, Any], body: Mapping[str, Any], files: Sequence[RecordedFile]
    ) -> None:
        errs = _Errors()
        _validate_message(dict(body), errs)
        if errs.items:
            raise ApiError(400, 50035, "Invalid Form Body", errors=errs.items)
        self._check_upload_size(ch, files)
        if body.get("attachments") is not None or files:
            fields = {f.field for f in files}
            specs = body.get("attachments")
            if specs is None:
                msg["attachments"] = msg["attachments"] + self._store_attachments(ch.id, None, files)
            else:
                existing = {a["id"]: a for a in msg["attachments"]}
                kept = [existing[str(sp.get("id"))] for sp in specs
                        if f"files[{sp.get('id')}]" not in fields and str(sp.get("id")) in existing]
                new_specs = [sp for sp in specs if f"files[{sp.get('id')}]" in fields]
                msg["attachments"] = kept + self._store_attachments(ch.id, new_specs, files)
        if "content" in body:
            msg["content"] = body.get("content") or ""
        if "embeds" in body:
            msg["embeds"] = self._normalize_embeds(body.get("embeds") or [], msg["attachments"])
        if "components" in body:
            msg["components"] = self._normalize_components(body.get("components") or [])
        if "flags" in body and body["flags"] is not None:
            keep = msg["flags"] & (FLAG_EPHEMERAL | FLAG_COMPONENTS_V2)
            msg["flags"] = keep | (int(body["flags"]) & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2))
        msg["flags"] &= ~FLAG_LOADING
        if "content" in body or "allowed_mentions" in body:
            ev, mentions, roles = self._mentions(ch, msg["content"], body.get("allowed_mentions"), ("users",))
            msg.update(mention_everyone=ev, mentions=mentions, mention_roles=roles)
        msg["edited_timestamp"] = _now_iso()

    def _render_message(self, msg: Mapping[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in msg.items() if not k.startswith("_")}
        reactions = self._reactions.get(int(msg["id"]))
        if reactions:
            out["reactions"] = [self._reaction_payload(r) for r in reactions.values() if r["users"] or r["burst"]]
        return out

    def add_message(
        self,
        channel_id: int,
        content: str = "",
        *,
        author_id: int | None = None,
        embeds: Sequence[Mapping[str, Any]] | None = None,
        components: Sequence[Mapping[str, Any]] | None = None,
        flags: int = 0,
    ) -> dict[str, Any]:
        """Put a message into the world *without* telling the bot (e.g. one the bot posted before a
        restart, for persistent-view and raw-reaction tests).  Author defaults to the bot."""
        ch = self.channels[channel_id]
        author = self.users[author_id or self.bot_user.id]
        body = {"content": content, "embeds": list(embeds or []), "components": list(components or []), "flags": flags}
        return self._new_message(ch, author, body, [], mtype=0, default_parse=())

    async def user_message(self, channel_id: int, user_id: int, content: str, **kw: Any) -> dict[str, Any]:
        """A user posts a message: stored, then MESSAGE_CREATE is dispatched (content stripped for
        sessions without the message content intent, as Discord does, unless the bot is mentioned)."""
        ch = self.channels[channel_id]
        body = {"content": content, **kw}
        msg = self._new_message(ch, self.users[user_id], body, [], mtype=0,
                                default_parse=("users", "roles", "everyone"))
        await self._dispatch_message_event("MESSAGE_CREATE", msg)
        return msg

    async def _dispatch_message_event(self, event: str, msg: dict[str, Any]) -> None:
        if msg["flags"] & FLAG_EPHEMERAL:
            return
        data = self._render_message(msg)
        gid = int(msg["guild_id"]) if msg.get("guild_id") else None
        if gid is not None:
            member = self.guilds[gid].members.get(int(msg["author"]["id"])) if gid in self.guilds else None
            if member is not None:
                data["member"] = member.to_payload(with_user=False)
        author_is_bot = msg["author"]["id"] == str(self.bot_user.id)
        mentions_bot = any(m["id"] == str(self.bot_user.id) for m in msg.get("mentions", []))

        def transform(session: _Session) -> dict[str, Any]:
            if session.intents & Intent.MESSAGE_CONTENT or author_is_bot or gid is None or mentions_bot:
                return data
            return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

        await self.dispatch(event, data, transform=transform)

    # -------------------------------------------------------------------------------- REST: reactions

    @staticmethod
    def _emoji_key(emoji: str) -> tuple[str, dict[str, Any]]:
        m = re.fullmatch(r"(?:a:)?(\w{2,32}):(\d+)", emoji)
        if m:
            return f"{m.group(1)}:{m.group(2)}", {"id": m.group(2), "name": m.group(1)}
        if not emoji or emoji.isascii():
            raise ApiError(400, 10014, "Unknown Emoji")
        return emoji, {"id": None, "name": emoji}

    def _reaction_slot(self, message_id: int, emoji: str) -> dict[str, Any]:
        key, emoji_obj = self._emoji_key(emoji)
        slots = self._reactions.setdefault(message_id, {})
        return slots.setdefault(key, {"emoji": emoji_obj, "users": [], "burst": []})

    def _reaction_payload(self, slot: Mapping[str, Any]) -> dict[str, Any]:
        me = self.bot_user.id in slot["users"]
        return {
            "count": len(slot["users"]) + len(slot["burst"]),
            "count_details": {"burst": len(slot["burst"]), "normal": len(slot["users"])},
            "me": me,
            "me_burst": self.bot_user.id in slot["burst"],
            "burst_colors": [],
            "emoji": dict(slot["emoji"]),
        }

    def reactions(self, message_id: int) -> dict[str, list[int]]:
        """``{emoji: [user ids]}`` currently on a message (normal reactions)."""
        return {k: list(v["users"]) for k, v in self._reactions.get(message_id, {}).items() if v["users"]}

    async def _add_own_reaction(self, ctx: _Ctx, channel_id: str, message_id: str, emoji: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        slot = self._reaction_slot(int(msg["id"]), emoji)
        if ch.guild_id is not None:
            needed = P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY
            if not slot["users"] and not slot["burst"]:
                needed |= P.ADD_REACTIONS
            self._require(ch, needed)
        if len(self._reactions[int(msg["id"])]) > 20 and not slot["users"]:
            raise ApiError(400, 30010, "Maximum number of reactions reached (20)")
        if self.bot_user.id not in slot["users"]:
            slot["users"].append(self.bot_user.id)
            self._spawn(self._dispatch_reaction(msg, self.bot_user.id, slot["emoji"], add=True, burst=False))
        return None

    async def _remove_own_reaction(self, ctx: _Ctx, channel_id: str, message_id: str, emoji: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        slot = self._reaction_slot(int(msg["id"]), emoji)
        if self.bot_user.id in slot["users"]:
            slot["users"].remove(self.bot_user.id)
            self._spawn(self._dispatch_reaction(msg, self.bot_user.id, slot["emoji"], add=False, burst=False))
        return None

    async def _remove_user_reaction(
        self, ctx: _Ctx, channel_id: str, message_id: str, emoji: str, user_id: str
    ) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        if ch.guild_id is not None:
            self._require(ch, P.MANAGE_MESSAGES)
        slot = self._reaction_slot(int(msg["id"]), emoji)
        uid = int(user_id) if user_id.isdigit() else 0
        if uid in slot["users"]:
            slot["users"].remove(uid)
            self._spawn(self._dispatch_reaction(msg, uid, slot["emoji"], add=False, burst=False))
        return None

    async def _list_reaction_users(self, ctx: _Ctx, channel_id: str, message_id: str, emoji: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        slot = self._reaction_slot(int(msg["id"]), emoji)
        ids = slot["burst"] if ctx.query.get("type") == "1" else slot["users"]
        after = int(ctx.query.get("after", 0))
        limit = int(ctx.query.get("limit", 25))
        return [self.users[u].to_payload() for u in sorted(ids) if u > after][:limit]

    async def _clear_emoji(self, ctx: _Ctx, channel_id: str, message_id: str, emoji: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        if ch.guild_id is not None:
            self._require(ch, P.MANAGE_MESSAGES)
        key, _ = self._emoji_key(emoji)
        self._reactions.get(int(msg["id"]), {}).pop(key, None)
        return None

    async def _clear_reactions(self, ctx: _Ctx, channel_id: str, message_id: str) -> Any:
        ch = self._channel_or_404(channel_id)
        msg = self._message_or_404(ch, message_id)
        if ch.guild_id is not None:
            self._require(ch, P.MANAGE_MESSAGES)
        self._reactions.pop(int(msg["id"]), None)
        return None

    async def _dispatch_reaction(
        self, msg: Mapping[str, Any], user_id: int, emoji: Mapping[str, Any], *, add: bool, burst: bool
    ) -> None:
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": dict(emoji),
            "burst": burst,
            "type": 1 if burst else 0,
        }
        gid = msg.get("guild_id")
        if gid:
            data["guild_id"] = gid
        if add:
            data["message_author_id"] = msg["author"]["id"]
            data["burst_colors"] = []
            if gid and int(gid) in self.guilds:
                member = self.guilds[int(gid)].members.get(user_id)
                if member is not None:
                    data["member"] = member.to_payload()
        await self.dispatch("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", data)

    async def react(
        self, channel_id: int, message_id: int, user_id: int, emoji: str, *, add: bool = True, burst: bool = False
    ) -> None:
        """User ``user_id`` adds (or removes, ``add=False``) a reaction: the world is updated and
        MESSAGE_REACTION_ADD/REMOVE is dispatched (with ``type``, ``burst``; ``member`` and
        ``message_author_id`` on adds in guilds).  ``emoji`` is a unicode emoji or ``name:id``.
        Raises if the message does not exist or the user could not react there."""
        ch = self.channels[channel_id]
        msg = self._message_index.get(message_id)
        if msg is None or msg["channel_id"] != str(channel_id) or msg.get("_deleted"):
            raise LookupError(f"message {message_id} does not exist in channel {channel_id}")
        slot = self._reaction_slot(message_id, emoji)
        target = slot["burst"] if burst else slot["users"]
        if add:
            perms = self.permissions_for(channel_id, user_id)
            needed = P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY
            if not slot["users"] and not slot["burst"]:
                needed |= P.ADD_REACTIONS
            if ch.guild_id is not None and perms & needed != needed:
                raise PermissionError(f"user {user_id} cannot react in channel {channel_id}")
            if user_id in target:
                return
            target.append(user_id)
        else:
            if user_id not in target:
                return
            target.remove(user_id)
        await self._dispatch_reaction(msg, user_id, slot["emoji"], add=add, burst=burst)

    # ------------------------------------------------------------------------------ REST: guild reads

    def _guild_or_404(self, guild_id: str) -> FakeGuild:
        guild = self.guilds.get(int(guild_id)) if guild_id.isdigit() else None
        if guild is None:
            raise _unknown(10004, "Guild")
        return guild

    async def _get_guild(self, ctx: _Ctx, guild_id: str) -> Any:
        guild = self._guild_or_404(guild_id)
        data = guild.to_payload()
        if ctx.query.get("with_counts") in ("true", "1", "True"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return data

    async def _get_guild_channels(self, ctx: _Ctx, guild_id: str) -> Any:
        guild = self._guild_or_404(guild_id)
        return [c.to_payload() for c in guild.channels.values() if not c.deleted]

    async def _get_guild_roles(self, ctx: _Ctx, guild_id: str) -> Any:
        return [r.to_payload() for r in self._guild_or_404(guild_id).roles.values()]

    async def _get_member(self, ctx: _Ctx, guild_id: str, user_id: str) -> Any:
        guild = self._guild_or_404(guild_id)
        member = guild.members.get(int(user_id)) if user_id.isdigit() else None
        if member is None:
            raise _unknown(10007, "Member")
        return member.to_payload()

    # ---------------------------------------------------------------------------- REST: interactions

    def _record_for_token(self, app_id: str, token: str, ctx: _Ctx) -> InteractionRecord:
        rec = self._by_token.get(token)
        if rec is None or app_id != str(self.application_id):
            raise _unknown(10015, "Webhook")
        rec.requests.append(ctx.rec)
        ctx.rec.interaction = rec
        if self._token_expired(rec):
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return rec

    def _token_expired(self, rec: InteractionRecord) -> bool:
        """Discord: an interaction token is valid for 15 minutes after the interaction was created."""
        ttl = self.interaction_token_ttl
        return ttl is not None and self._now() - rec.dispatched_at > ttl

    async def _interaction_callback(self, ctx: _Ctx, interaction_id: str, token: str) -> Any:
        rec = self._by_token.get(token)
        if rec is None or str(rec.id) != interaction_id:
            raise _unknown(10062, "interaction")
        rec.requests.append(ctx.rec)
        ctx.rec.interaction = rec
        return self._handle_callback(rec, ctx)

    def _handle_callback(self, rec: InteractionRecord, ctx: _Ctx) -> Any:
        if rec.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        late = self.interaction_deadline is not None and self._now() - rec.dispatched_at > self.interaction_deadline
        if late or self._token_expired(rec):
            raise _unknown(10062, "interaction")
        body = ctx.body
        ctype = body.get("type")
        allowed = {2: (4, 5, 9), 3: (4, 5, 6, 7, 9), 4: (8,), 5: (4, 5, 6, 7)}.get(rec.type, ())
        if rec.type == 5 and not rec.payload.get("message"):
            allowed = (4, 5)
        if ctype not in allowed:
            raise ApiError(400, 50035, "Invalid Form Body",
                           errors=[("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type")])
        data = body.get("data") or {}
        errs = _Errors()
        if ctype in (4, 7):
            _validate_message(data, errs, prefix="data.")
            if data.get("nonce") is not None:
                errs.items = [e for e in errs.items if not e[0].startswith("data.nonce")]
        elif ctype == 8:
            _validate_choices(data.get("choices"), errs)
        elif ctype == 9:
            _validate_modal(data, errs)
        if errs.items:
            raise ApiError(400, 50035, "Invalid Form Body", errors=errs.items)
        ch = self.channels.get(rec.channel_id or 0)
        if ch is not None and ctype in (4, 7):
            self._check_upload_size(ch, ctx.files)
        if ctype == 4 and _is_empty_message(data, len(ctx.files)):
            raise ApiError(400, 50006, "Cannot send an empty message")

        rec.callback = copy.deepcopy(body)
        rec.callback_files = list(ctx.files)
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        resource: dict[str, Any] | None = None
        if ctype in (4, 5) and ch is not None:
            flags = int(data.get("flags") or 0) & (FLAG_EPHEMERAL | FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS
                                                    | FLAG_COMPONENTS_V2)
            if ctype == 5:
                flags = (flags & FLAG_EPHEMERAL) | FLAG_LOADING
                msg_body: Mapping[str, Any] = {}
            else:
                msg_body = data
            msg = self._new_message(
                ch, self.bot_user, msg_body, ctx.files, mtype=20 if rec.type == 2 else 0,
                default_parse=("users",), flags=flags, interaction=rec,
            )
            rec.original_id = int(msg["id"])
            interaction.update(
                response_message_id=msg["id"],
                response_message_loading=ctype == 5,
                response_message_ephemeral=bool(flags & FLAG_EPHEMERAL),
            )
            resource = {"type": ctype, "message": self._render_message(msg)}
            self._spawn(self._dispatch_message_event("MESSAGE_CREATE", msg))
        elif ctype in (6, 7):
            target = self._component_message(rec)
            if target is not None:
                rec.original_id = int(target["id"])
                interaction.update(response_message_id=target["id"], response_message_loading=False,
                                   response_message_ephemeral=bool(target["flags"] & FLAG_EPHEMERAL))
                if ctype == 7 and ch is not None:
                    self._apply_edit(ch, target, data, ctx.files)
                    self._spawn(self._dispatch_message_event("MESSAGE_UPDATE", target))
                    resource = {"type": 7, "message": self._render_message(target)}
        if ctx.query.get("with_response") not in ("1", "true", "True"):
            return None
        out: dict[str, Any] = {"interaction": interaction}
        if resource is not None:
            out["resource"] = resource
        return out

    def _component_message(self, rec: InteractionRecord) -> dict[str, Any] | None:
        raw = rec.payload.get("message")
        if raw is None:
            return None
        mid = int(raw["id"])
        msg = self._message_index.get(mid)
        if msg is None:  # a message the fake did not know (hand-built by a test): adopt it
            msg = copy.deepcopy(raw)
            msg.setdefault("flags", 0)
            msg.setdefault("attachments", [])
            self._message_index[mid] = msg
        return msg

    async def _followup_create(self, ctx: _Ctx, app_id: str, token: str) -> Any:
        rec = self._record_for_token(app_id, token, ctx)
        if rec.callback is None:
            raise _unknown(10015, "Webhook")
        ch = self.channels.get(rec.channel_id or 0)
        if ch is None:
            raise _unknown(10003, "Channel")
        body = ctx.body
        errs = _Errors()
        _validate_message(body, errs)
        if errs.items:
            raise ApiError(400, 50035, "Invalid Form Body", errors=errs.items)
        self._check_upload_size(ch, ctx.files)
        if _is_empty_message(body, len(ctx.files)):
            raise ApiError(400, 50006, "Cannot send an empty message")
        original = rec.original
        if original is not None and original["flags"] & FLAG_LOADING and not rec.followups:
            # Discord: the first follow-up after a deferred (thinking) response edits the loading message
            self._apply_edit(ch, original, {k: v for k, v in body.items() if k != "flags"}, ctx.files)
            original["edited_timestamp"] = None
            msg = original
            self._spawn(self._dispatch_message_event("MESSAGE_UPDATE", msg))
        else:
            flags = int(body.get("flags") or 0) & (FLAG_EPHEMERAL | FLAG_SUPPRESS_EMBEDS
                                                    | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2)
            msg = self._new_message(ch, self.bot_user, body, ctx.files, mtype=0, default_parse=("users",),
                                    flags=flags, interaction=rec)
            self._spawn(self._dispatch_message_event("MESSAGE_CREATE", msg))
        rec.followups.append(self._render_message(msg))
        if ctx.query.get("wait") in ("1", "true", "True"):
            return self._render_message(msg)
        return None

    def _webhook_message(self, rec: InteractionRecord, message_id: str) -> dict[str, Any]:
        if message_id == "@original":
            msg = rec.original
        else:
            msg = self._message_index.get(int(message_id)) if message_id.isdigit() else None
            ok_ids = {f["id"] for f in rec.followups} | ({str(rec.original_id)} if rec.original_id else set())
            if msg is not None and msg["id"] not in ok_ids:
                msg = None
        if msg is None or msg.get("_deleted"):
            raise _unknown(10008, "Message")
        return msg

    async def _webhook_get(self, ctx: _Ctx, app_id: str, token: str, message_id: str) -> Any:
        rec = self._record_for_token(app_id, token, ctx)
        return self._render_message(self._webhook_message(rec, message_id))

    async def _webhook_edit(self, ctx: _Ctx, app_id: str, token: str, message_id: str) -> Any:
        rec = self._record_for_token(app_id, token, ctx)
        msg = self._webhook_message(rec, message_id)
        ch = self.channels[int(msg["channel_id"])]
        if ch.deleted:
            raise _unknown(10003, "Channel")
        self._apply_edit(ch, msg, ctx.body, ctx.files)
        self._spawn(self._dispatch_message_event("MESSAGE_UPDATE", msg))
        return self._render_message(msg)

    async def _webhook_delete(self, ctx: _Ctx, app_id: str, token: str, message_id: str) -> Any:
        rec = self._record_for_token(app_id, token, ctx)
        msg = self._webhook_message(rec, message_id)
        self._remove_message(msg)
        if int(msg["id"]) == rec.original_id:
            rec.original_deleted = True
        return None

    # ------------------------------------------------------------------------------------ interactions

    def _interaction_base(
        self, itype: int, *, guild_id: int | None, channel_id: int | None, user_id: int, check_view: bool = True
    ) -> dict[str, Any]:
        user = self.users.get(user_id)
        if user is None:
            raise LookupError(f"unknown user {user_id}")
        if channel_id is None:
            if guild_id is not None:
                raise ValueError("channel_id is required for guild interactions")
            channel_id = self.dm_channel(user_id).id
        ch = self.channels.get(channel_id)
        if ch is None or ch.deleted:
            raise LookupError(f"unknown or deleted channel {channel_id}")
        if guild_id is None:
            guild_id = ch.guild_id
        elif ch.guild_id != guild_id:
            raise ValueError(f"channel {channel_id} is not in guild {guild_id}")
        iid = self.snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": itype,
            "token": "fake." + secrets.token_urlsafe(40),
            "version": 1,
            "locale": user.locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(ch.id),
        }
        if guild_id is not None:
            guild = self.guilds[guild_id]
            member = guild.members.get(user_id)
            if member is None:
                raise LookupError(f"user {user_id} is not a member of guild {guild_id}")
            perms = self.permissions_for(ch.id, user_id)
            if check_view and not perms & P.VIEW_CHANNEL:
                raise PermissionError(f"user {user_id} cannot see channel {ch.name!r}")
            chan = ch.to_payload()
            chan["permissions"] = str(perms)
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": guild.preferred_locale, "features": []},
                guild_locale=guild.preferred_locale,
                channel=chan,
                member=member.to_payload(permissions=perms),
                app_permissions=str(self.permissions_for(ch.id, self.bot_user.id)),
                authorizing_integration_owners={"0": str(guild_id)},
                context=0,
                attachment_size_limit=guild.filesize_limit,
            )
        else:
            chan = ch.to_payload()
            chan["permissions"] = str(P.DM_DEFAULT)
            payload.update(
                channel=chan,
                user=user.to_payload(),
                app_permissions=str(P.DM_DEFAULT),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        return payload

    async def _send_interaction(
        self, payload: dict[str, Any], command: dict[str, Any] | None = None
    ) -> InteractionRecord:
        rec = InteractionRecord(self, payload, command)
        self.interactions.append(rec)
        self._by_token[rec.token] = rec
        self._by_interaction_id[rec.id] = rec
        gid = rec.guild_id
        sessions = [s for s in self._sessions.values() if s.live and s.handles_guild(gid)]
        if not sessions:
            raise RuntimeError("no bot is connected to the fake gateway (is it ready?)")
        rec.dispatched_at = self._now()
        await self._send_dispatch(sessions[0], "INTERACTION_CREATE", payload)
        return rec

    def _resolve_command(
        self, name: str, guild_id: int | None, subcommand: str | None, group: str | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
        parts = name.split()
        if len(parts) == 3:
            name, group, subcommand = parts
        elif len(parts) == 2:
            name, subcommand = parts
        cmd = self.find_command(name, guild_id)
        if cmd is None:
            raise LookupError(f"command {name!r} is not registered (did the bot sync its commands?)")
        defs = cmd.get("options") or []
        path: list[str] = []
        if group is not None:
            g = next((o for o in defs if o["type"] == 2 and o["name"] == group), None)
            if g is None:
                raise LookupError(f"/{name} has no subcommand group {group!r}")
            defs, path = g.get("options") or [], [group]
        if subcommand is not None:
            s = next((o for o in defs if o["type"] == 1 and o["name"] == subcommand), None)
            if s is None:
                raise LookupError(f"/{name} {' '.join(path)} has no subcommand {subcommand!r}")
            defs, path = s.get("options") or [], [*path, subcommand]
        if any(o["type"] in (1, 2) for o in defs):
            raise ValueError(f"/{name} needs a subcommand (group=/subcommand=)")
        return cmd, defs, path

    def _check_command_visible(self, cmd: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        if "member" not in payload:
            if (cmd.get("contexts") is not None and 1 not in cmd["contexts"]) or cmd.get("dm_permission") is False:
                raise PermissionError(f"/{cmd['name']} is not available in DMs")
            if cmd.get("guild_id"):
                raise PermissionError(f"/{cmd['name']} is a guild command")
            return
        if cmd.get("contexts") is not None and 0 not in cmd["contexts"]:
            raise PermissionError(f"/{cmd['name']} is not available in guilds")
        perms = int(payload["member"]["permissions"])
        if not perms & P.USE_APPLICATION_COMMANDS:
            raise PermissionError("the user may not use application commands in this channel")
        needed = cmd.get("default_member_permissions")
        hidden = needed is not None and (int(needed) == 0 or int(needed) & perms != int(needed))
        if hidden and not perms & P.ADMINISTRATOR:
            raise PermissionError(f"Discord hides /{cmd['name']} from this user (default_member_permissions)")
        if cmd.get("nsfw") and not payload["channel"].get("nsfw"):
            raise PermissionError(f"/{cmd['name']} is age-restricted and the channel is not")

    def _option_value(
        self, od: Mapping[str, Any], value: Any, payload: dict[str, Any], resolved: dict[str, dict[str, Any]]
    ) -> Any:
        t = od["type"]
        name = od["name"]
        if t == 3:
            value = str(value)
            if od.get("min_length") is not None and len(value) < od["min_length"]:
                raise ValueError(f"option {name}: shorter than min_length")
            if od.get("max_length") is not None and len(value) > od["max_length"]:
                raise ValueError(f"option {name}: longer than max_length")
        elif t == 4:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"option {name}: integer expected")
        elif t == 10:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"option {name}: number expected")
        elif t == 5:
            if not isinstance(value, bool):
                raise ValueError(f"option {name}: boolean expected")
        if t in (4, 10):
            if od.get("min_value") is not None and value < od["min_value"]:
                raise ValueError(f"option {name}: below min_value")
            if od.get("max_value") is not None and value > od["max_value"]:
                raise ValueError(f"option {name}: above max_value")
        if t in (3, 4, 10) and od.get("choices") and value not in [c["value"] for c in od["choices"]]:
            raise ValueError(f"option {name}: {value!r} is not one of the choices")
        if t in (6, 7, 8, 9):
            obj_id = int(getattr(value, "id", value))
            gid = int(payload["guild_id"]) if payload.get("guild_id") else None
            guild = self.guilds.get(gid) if gid else None
            if t == 7:
                ch = self.channels.get(obj_id)
                if ch is None or ch.deleted or (gid is not None and ch.guild_id != gid):
                    raise LookupError(f"option {name}: unknown channel {obj_id}")
                if od.get("channel_types") and ch.type not in od["channel_types"]:
                    raise ValueError(f"option {name}: channel type {ch.type} not allowed")
                chan = ch.to_payload()
                user_id = int((payload.get("member") or {}).get("user", payload.get("user", {})).get("id", 0))
                chan["permissions"] = str(self.permissions_for(ch.id, user_id))
                resolved.setdefault("channels", {})[str(obj_id)] = chan
            elif (t in (8, 9)) and guild is not None and obj_id in guild.roles:
                resolved.setdefault("roles", {})[str(obj_id)] = guild.roles[obj_id].to_payload()
            elif t in (6, 9) and obj_id in self.users:
                resolved.setdefault("users", {})[str(obj_id)] = self.users[obj_id].to_payload()
                if guild is not None and obj_id in guild.members:
                    perms = self.permissions_for(int(payload["channel_id"]), obj_id)
                    m = guild.members[obj_id].to_payload(with_user=False, permissions=perms)
                    resolved.setdefault("members", {})[str(obj_id)] = m
            else:
                kind = ["user", "channel", "role", "mentionable"][t - 6]
                raise LookupError(f"option {name}: unknown {kind} {obj_id}")
            return str(obj_id)
        if t == 11:
            att = dict(value)
            aid = str(att.get("id") or self.snowflake())
            data = att.pop("data", b"")
            filename = att.get("filename", "file.bin")
            self.attachments[int(aid)] = data
            url = f"{self.cdn_base}/attachments/{payload['channel_id']}/{aid}/{filename}"
            resolved.setdefault("attachments", {})[aid] = {
                "id": aid, "filename": filename, "size": att.get("size", len(data)), "url": url, "proxy_url": url,
                "content_type": att.get("content_type", _guess_content_type(filename)), "ephemeral": True,
            }
            return aid
        return value

    def _build_options(
        self,
        defs: Sequence[Mapping[str, Any]],
        options: Mapping[str, Any],
        payload: dict[str, Any],
        resolved: dict[str, dict[str, Any]],
        *,
        focused: str | None = None,
        focused_value: str = "",
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in defs}
        for key in options:
            if key not in by_name:
                raise ValueError(f"unknown option {key!r}; registered: {sorted(by_name)}")
        out: list[dict[str, Any]] = []
        for od in defs:
            name = od["name"]
            if name == focused:
                if not od.get("autocomplete"):
                    raise ValueError(f"option {name!r} has no autocomplete")
                out.append({"type": od["type"], "name": name, "value": focused_value, "focused": True})
            elif name in options:
                if focused is not None:  # autocomplete: raw values, nothing resolved (Discord limitation)
                    v = options[name]
                    v = str(getattr(v, "id", v)) if od["type"] in (6, 7, 8, 9, 11) else v
                    out.append({"type": od["type"], "name": name, "value": v})
                else:
                    out.append({"type": od["type"], "name": name,
                                "value": self._option_value(od, options[name], payload, resolved)})
            elif od.get("required") and focused is None:
                raise ValueError(f"required option {name!r} missing")
        if focused is not None and focused not in by_name:
            raise ValueError(f"unknown option {focused!r}")
        return out

    async def slash(
        self,
        name: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        check_permissions: bool = True,
    ) -> InteractionRecord:
        """A user runs a slash command: ``name`` may be ``"feed add"`` or use ``subcommand=``/``group=``.

        ``data`` is built from the *registered* command (so the bot must have synced): its id, typed options
        (``options={"channel": channel_id, "count": 3}``; users/roles/channels by id or object with
        ``.id``; attachments as dicts ``{"filename", "data"}``) with ``resolved`` data.  Mirrors the
        Discord client: raises ``ValueError``/``LookupError`` for options the client would not allow, and
        ``PermissionError`` when Discord would not offer the command (``default_member_permissions``,
        ``nsfw`` commands outside age-restricted channels, contexts) unless ``check_permissions=False``.
        ``guild_id`` defaults to the channel's guild; without a channel, the user's DM channel is used.
        Returns immediately after dispatch; await ``rec.wait_response()``."""
        if guild_id is None and channel_id is not None:
            guild_id = self.channels[channel_id].guild_id
        payload = self._interaction_base(2, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
        cmd, defs, path = self._resolve_command(name, guild_id, subcommand, group)
        if check_permissions:
            self._check_command_visible(cmd, payload)
        resolved: dict[str, dict[str, Any]] = {}
        leaf = self._build_options(defs, options or {}, payload, resolved)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": cmd["type"]}
        data["options"] = _nest_options(path, cmd, leaf)
        if resolved:
            data["resolved"] = resolved
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload["data"] = data
        return await self._send_interaction(payload, cmd)

    async def autocomplete(
        self,
        name: str,
        *,
        focused: str,
        value: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int,
        timeout: float = 3.0,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """A user types ``value`` into option ``focused``: sends an autocomplete interaction (type 4, the
        focused option marked ``focused: true``, other options raw) and returns the ``choices`` the bot
        answered.  Raises :class:`InteractionRejected` if Discord would reject them (> 25 choices, a name
        or value over 100 characters...), ``TimeoutError`` if there is no answer within ``timeout``
        (Discord's own 3 s window).  The record is ``fake.interactions[-1]``."""
        if guild_id is None and channel_id is not None:
            guild_id = self.channels[channel_id].guild_id
        payload = self._interaction_base(4, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
        cmd, defs, path = self._resolve_command(name, guild_id, subcommand, group)
        leaf = self._build_options(defs, options or {}, payload, {}, focused=focused, focused_value=value)
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": cmd["type"],
                                "options": _nest_options(path, cmd, leaf)}
        if cmd.get("guild_id"):
            data["guild_id"] = cmd["guild_id"]
        payload["data"] = data
        rec = await self._send_interaction(payload, cmd)
        await rec.wait_response(timeout=timeout)
        return list(rec.choices or [])

    async def click(
        self,
        message: Mapping[str, Any] | int,
        custom_id: str,
        *,
        user_id: int,
        values: Sequence[str] | None = None,
        component_type: int | None = None,
    ) -> InteractionRecord:
        """A user clicks a button (component_type 2) or picks ``values`` in a select (3; 5-8 for
        user/role/mentionable/channel selects, values are ids) on ``message`` (a message dict or id; the
        fake's current version of the message is used when it knows it).  The component is looked up by
        ``custom_id`` in the message; raises if absent, disabled, if the values are not allowed, or if the
        message is ephemeral and belongs to someone else.  ``component_type`` forces the type for a
        component that is not in the message."""
        if isinstance(message, int):
            found = self._message_index.get(message)
            if found is None:
                raise LookupError(f"unknown message {message}")
            msg: Mapping[str, Any] = found
        else:
            msg = self._message_index.get(int(message["id"]), message)
        comp = next((c for c in _walk_components(msg.get("components") or []) if c.get("custom_id") == custom_id), None)
        if comp is None and component_type is None:
            raise LookupError(f"no component with custom_id {custom_id!r} on message {msg['id']}")
        ctype = component_type if component_type is not None else comp["type"]  # type: ignore[index]
        if comp is not None and comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        if msg.get("flags", 0) & FLAG_EPHEMERAL:
            owner = (msg.get("interaction_metadata") or {}).get("user", {}).get("id")
            if owner is not None and owner != str(user_id):
                raise PermissionError("ephemeral messages are only visible to the user who invoked them")
        channel_id = int(msg["channel_id"])
        guild_id = self.channels[channel_id].guild_id if channel_id in self.channels else None
        payload = self._interaction_base(3, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": ctype}
        if ctype in _SELECT_TYPES:
            vals = list(values or [])
            if comp is not None:
                lo, hi = comp.get("min_values", 1), comp.get("max_values", 1)
                if not lo <= len(vals) <= hi:
                    raise ValueError(f"select {custom_id!r} takes {lo}..{hi} values, got {len(vals)}")
                if ctype == 3 and not set(vals) <= {o["value"] for o in comp.get("options", [])}:
                    raise ValueError(f"values {vals} are not options of select {custom_id!r}")
            data["values"] = vals
            if ctype in (5, 6, 7, 8):
                resolved: dict[str, dict[str, Any]] = {}
                kind = {5: 6, 6: 8, 7: 7, 8: 9}[ctype]
                data["values"] = [self._option_value({"type": kind, "name": custom_id}, v, payload, resolved)
                                  for v in vals]
                data["resolved"] = resolved
        elif values:
            raise ValueError("values are only for select menus")
        payload["data"] = data
        payload["message"] = self._render_message(msg)
        return await self._send_interaction(payload)

    def _find_modal(self, custom_id: str, user_id: int) -> dict[str, Any] | None:
        for rec in reversed(self.interactions):
            modal = rec.modal
            if modal and modal.get("custom_id") == custom_id and rec.user_id == user_id:
                return modal
        return None

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, Any],
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int,
        message: Mapping[str, Any] | None = None,
    ) -> InteractionRecord:
        """A user submits the modal ``custom_id`` with ``values`` (``{input custom_id: text}``; lists for
        selects/checkbox groups, bool for a checkbox).  If the bot opened that modal for this user, the
        submission mirrors its layout (action rows or labels) and required inputs / length limits are
        enforced like the client does (``ValueError``); otherwise each value becomes a text input in its own
        action row.  ``message``: the message whose component opened the modal, if any."""
        if guild_id is None and channel_id is not None:
            guild_id = self.channels[channel_id].guild_id
        payload = self._interaction_base(5, guild_id=guild_id, channel_id=channel_id, user_id=user_id)
        modal = self._find_modal(custom_id, user_id)
        if modal is not None:
            known = {c.get("custom_id") for c in _walk_components(modal["components"]) if c.get("custom_id")}
            unknown = set(values) - known
            if unknown:
                raise ValueError(f"modal {custom_id!r} has no inputs {sorted(unknown)}")
            components = [_submit_component(c, values) for c in modal["components"]]
        else:
            components = [
                {"type": 1, "id": i * 2 + 1,
                 "components": [{"type": 4, "id": i * 2 + 2, "custom_id": k, "value": v}]}
                for i, (k, v) in enumerate(values.items())
            ]
        payload["data"] = {"custom_id": custom_id, "components": components}
        if message is not None:
            payload["message"] = self._render_message(self._message_index.get(int(message["id"]), message))
        return await self._send_interaction(payload)

    # ---------------------------------------------------------------------------------------- gateway

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="expected a websocket")
        await ws.prepare(request)
        compress = self.compress and request.query.get("compress") == "zlib-stream"
        conn = _Connection(ws, compress)
        self.compressed_connections += compress
        self._connections.add(conn)
        try:
            await conn.send(_dumps({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}))
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        frame = json.loads(msg.data)
                    except json.JSONDecodeError:
                        await self._close_ws(conn, 4002, b"Error while decoding payload.")
                        break
                    await self._on_gateway_frame(conn, frame)
                elif msg.type == WSMsgType.BINARY:
                    await self._close_ws(conn, 4002, b"Error while decoding payload.")
                    break
        finally:
            self._connections.discard(conn)
            code = conn.closed_with if conn.closed_with is not None else ws.close_code
            if conn.closed_with is None and code is not None:
                self.client_closes.append(code)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if code in (1000, 1001) or not session.resumable:
                    session.resumable = False
                    self._sessions.pop(session.id, None)
            self._changed.notify()
        return ws

    async def _close_ws(self, conn: _Connection, code: int, message: bytes = b"") -> None:
        if conn.closed_with is None and not conn.ws.closed:
            conn.closed_with = code
            self.gateway_closes.append(code)
        await conn.ws.close(code=code, message=message)

    async def _on_gateway_frame(self, conn: _Connection, frame: Mapping[str, Any]) -> None:
        op = frame.get("op")
        d = frame.get("d")
        if op == 1:
            await conn.send(_dumps({"op": 11}))
        elif op == 2:
            await self._identify(conn, d or {})
        elif op == 6:
            await self._resume(conn, d or {})
        elif op == 8 and conn.session is not None:
            await self._request_members(conn.session, d or {})
        elif op in (3, 4, 31):
            pass  # presence / voice state / soundboard: accepted, ignored
        else:
            await self._close_ws(conn, 4001, b"Unknown opcode.")

    async def _identify(self, conn: _Connection, d: dict[str, Any]) -> None:
        self.identify_payloads.append(copy.deepcopy(d))
        if conn.session is not None:
            await self._close_ws(conn, 4005, b"Already authenticated.")
            return
        if d.get("token") != self.token and d.get("token") != f"Bot {self.token}":
            await self._close_ws(conn, 4004, b"Authentication failed.")
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents & ~Intent.ALL:
            await self._close_ws(conn, 4013, b"Invalid intent(s).")
            return
        if self.reject_privileged and intents & Intent.PRIVILEGED:
            await self._close_ws(conn, 4014, b"Disallowed intent(s).")
            return
        shard = d.get("shard")
        if shard is not None and not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            await self._close_ws(conn, 4010, b"Invalid shard.")
            return
        session = _Session(d)
        self._sessions[session.id] = session
        session.conn = conn
        conn.session = session
        async with session.lock:
            guilds = [g for g in self.guilds.values() if session.handles_guild(g.id)]
            ready: dict[str, Any] = {
                "v": 10,
                "user": {**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0},
                "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(self.application_id), "flags": self._app_flags()},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "user_settings": {},
                "geo_ordered_rtc_regions": ["fake"],
                "_trace": ["fake-discord"],
            }
            if session.shard is not None:
                ready["shard"] = list(session.shard)
            await self._send_dispatch(session, "READY", ready, locked=True)
            conn.ready = True
            if session.wants("GUILD_CREATE", 1):
                for g in guilds:
                    await self._send_dispatch(session, "GUILD_CREATE", g.to_payload(for_gateway=True), locked=True)
        self.ready_count += 1
        self._changed.notify()

    async def _resume(self, conn: _Connection, d: dict[str, Any]) -> None:
        session = self._sessions.get(str(d.get("session_id")))
        if session is None or not session.resumable or d.get("token") not in (self.token, f"Bot {self.token}"):
            await conn.send(_dumps({"op": 9, "d": False}))
            return
        old = session.conn
        if old is not None and old is not conn and old.open:
            old.session = None
            await self._close_ws(old, 4000)
        async with session.lock:
            session.conn = conn
            conn.session = session
            last = int(d.get("seq") or 0)
            for seq, frame in list(session.buffer):
                if seq > last:
                    await conn.send(frame)
            conn.ready = True
            await self._send_dispatch(session, "RESUMED", {"_trace": ["fake-discord"]}, locked=True)
        self._changed.notify()

    async def _request_members(self, session: _Session, d: Mapping[str, Any]) -> None:
        gid = int(d.get("guild_id", 0))
        guild = self.guilds.get(gid)
        if guild is None:
            return
        members = list(guild.members.values())
        if d.get("user_ids"):
            ids = {int(u) for u in d["user_ids"]}
            members = [m for m in members if m.id in ids]
        elif d.get("query"):
            members = [m for m in members if m.user.username.lower().startswith(str(d["query"]).lower())]
        if d.get("limit"):
            members = members[: int(d["limit"])]
        chunk: dict[str, Any] = {
            "guild_id": str(gid), "members": [m.to_payload() for m in members], "chunk_index": 0, "chunk_count": 1,
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _send_dispatch(self, session: _Session, event: str, data: Any, *, locked: bool = False) -> None:
        async def send() -> None:
            session.seq += 1
            frame = _dumps({"op": 0, "t": event, "s": session.seq, "d": data})
            session.buffer.append((session.seq, frame))
            conn = session.conn
            if conn is not None and conn.open:
                await conn.send(frame)

        if locked:
            await send()
        else:
            async with session.lock:
                await send()
        self._changed.notify()

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        respect_intents: bool = True,
        transform: Callable[[_Session], dict[str, Any]] | None = None,
    ) -> int:
        """Send a raw gateway dispatch (``op`` 0, ``t`` = ``event``) to every connected session that
        handles the event's guild (``data["guild_id"]``, or ``data["id"]`` for GUILD_* events) and
        whose intents cover the event (unless ``respect_intents=False``).  Sessions that are between a
        disconnect and a RESUME get it replayed.  Returns the number of live sessions it was sent to."""
        gid_raw = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") and "id" in data else None)
        gid = int(gid_raw) if gid_raw else None
        n = 0
        for session in list(self._sessions.values()):
            if not session.resumable or not session.handles_guild(gid):
                continue
            if respect_intents and not session.wants(event, gid):
                continue
            await self._send_dispatch(session, event, transform(session) if transform else data)
            n += session.live
        return n

    def live_sessions(self) -> int:
        """How many gateway sessions are connected and past READY."""
        return sum(1 for s in self._sessions.values() if s.live)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every live connection (discord.py reconnects and RESUMEs)."""
        for s in list(self._sessions.values()):
            if s.live and s.conn is not None:
                await s.conn.send(_dumps({"op": 7, "d": None}))

    async def disconnect(self, code: int = 4000, *, invalidate: bool = False) -> None:
        """Close every gateway connection with ``code`` (4000: discord.py resumes).  ``invalidate=True``
        forgets the sessions so a RESUME gets op 9 (discord.py then re-IDENTIFYs after ~5 s)."""
        for conn in list(self._connections):
            session = conn.session
            if invalidate and session is not None:
                session.resumable = False
                self._sessions.pop(session.id, None)
            await self._close_ws(conn, code)


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _nest_options(path: Sequence[str], cmd: Mapping[str, Any], leaf: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not path:
        return leaf
    if len(path) == 1:
        return [{"type": 1, "name": path[0], "options": leaf}]
    return [{"type": 2, "name": path[0], "options": [{"type": 1, "name": path[1], "options": leaf}]}]


def _submit_component(c: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    ctype = c.get("type")
    if ctype == 1:
        inner = [_submit_component(x, values) for x in c.get("components", [])]
        return {"type": 1, "id": c.get("id", 0), "components": inner}
    if ctype == 18:
        return {"type": 18, "id": c.get("id", 0), "component": _submit_component(c["component"], values)}
    out: dict[str, Any] = {"type": ctype, "id": c.get("id", 0)}
    cid = c.get("custom_id")
    if cid is not None:
        out["custom_id"] = cid
    if ctype == 4:
        value = values.get(cid, c.get("value") or "")
        if not isinstance(value, str):
            raise ValueError(f"text input {cid!r} takes a string")
        if c.get("required", True) and not value:
            raise ValueError(f"text input {cid!r} is required")
        if value and c.get("min_length") is not None and len(value) < c["min_length"]:
            raise ValueError(f"text input {cid!r} is shorter than min_length {c['min_length']}")
        if c.get("max_length") is not None and len(value) > c["max_length"]:
            raise ValueError(f"text input {cid!r} is longer than max_length {c['max_length']}")
        out["value"] = value
    elif ctype in (3, 5, 6, 7, 8, 19, 22):
        vals = values.get(cid, [])
        vals = [vals] if isinstance(vals, str) else list(vals)
        if c.get("required", True) and len(vals) < max(1, c.get("min_values", 1)):
            raise ValueError(f"input {cid!r} needs at least {max(1, c.get('min_values', 1))} value(s)")
        out["values"] = [str(v) for v in vals]
    elif ctype == 21:
        out["value"] = values.get(cid)
    elif ctype == 23:
        out["value"] = bool(values.get(cid, False))
    return out


_CONTENT_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
    ".txt": "text/plain; charset=utf-8", ".json": "application/json; charset=utf-8",
    ".safetensors": "application/octet-stream",
}


def _guess_content_type(filename: str) -> str:
    lower = filename.lower()
    for ext, ctype in _CONTENT_TYPES.items():
        if lower.endswith(ext):
            return ctype
    return "application/octet-stream"


def _image_size(data: bytes) -> tuple[int, int]:
    """Width/height of PNG, GIF or JPEG bytes (0, 0 if unknown) -- Discord reports them for images."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                break
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
    return 0, 0
