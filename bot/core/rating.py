"""Content rating, in one place: the hub's level bit masks and the channel policy.

The hub rates every image with ONE level (a single bit) and every model, version, article or post with
the OR of its content's levels (a mask). Both are handled as masks here and compared with ``&``, never
with ``>``:

    PG=1  PG13=2  R=4  X=8  XXX=16  Blocked=32     (0 = unrated)

Older API eras and other endpoints express an image's level differently; ``image_level`` maps every
form to a mask of the levels the image *may* have:

* a number (current ``nsfwLevel``, or ``browsingLevel`` on ``/images``) -> itself;
* the legacy strings of ``/images`` (None, Soft, Mature, X, Blocked) -> PG, PG13, R, X|XXX, Blocked;
  a level word it does not know counts as Blocked (never shown);
* the 2023 boolean ``nsfw``: false -> PG|PG13 ("safe for work"), true -> ``LEGACY_NSFW``, a level of
  its own that only age-restricted channels accept, since the real level is unknown.

The one decision callers need is ``may_show(level, age_restricted=..., max_rating=...)``: an image is
shown only when *every* level it may have is allowed in that channel. Blocked never is; unrated content
is shown only in age-restricted channels.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Rating(enum.IntFlag):
    PG = 1
    PG13 = 2
    R = 4
    X = 8
    XXX = 16
    BLOCKED = 32


#: An internal level (never sent by the hub): the 2023 ``nsfw: true`` flag, level unknown but mature.
LEGACY_NSFW = 64

ALL_RATED = int(Rating.PG | Rating.PG13 | Rating.R | Rating.X | Rating.XXX)  # 31, the hub's "all"
SFW = int(Rating.PG | Rating.PG13)  # 3
NSFW = int(Rating.R | Rating.X | Rating.XXX | Rating.BLOCKED)  # 60, the hub's "mature only"

#: What a server may choose as ``max_rating`` for ordinary channels, mildest first.
MAX_RATING_CHOICES: tuple[str, ...] = ("PG", "PG13", "R", "X", "XXX")
DEFAULT_MAX_RATING = Rating.PG13

_LEGACY_STRINGS: Mapping[str, int] = {
    "none": int(Rating.PG),
    "pg": int(Rating.PG),
    "soft": int(Rating.PG13),
    "pg13": int(Rating.PG13),
    "mature": int(Rating.R),
    "r": int(Rating.R),
    "x": int(Rating.X | Rating.XXX),  # the legacy string "X" covers both X and XXX
    "xxx": int(Rating.XXX),
    "blocked": int(Rating.BLOCKED),
}

_KNOWN_BITS = ALL_RATED | int(Rating.BLOCKED)


def parse_max_rating(value: str) -> Rating:
    """``"pg13"`` / ``"PG-13"`` / ``"R"`` ... -> the single-bit rating. Raises ``ValueError``."""
    key = value.strip().upper().replace("-", "").replace(" ", "")
    if key not in MAX_RATING_CHOICES:
        raise ValueError(f"unknown rating {value!r}; choose one of {', '.join(MAX_RATING_CHOICES)}")
    return Rating[key]


def level_from_value(value: Any) -> int:
    """One level field in any of the hub's forms -> a mask of the levels it may mean (0 = unrated).

    Numbers outside the known bits keep only the known bits; garbage counts as unrated."""
    if isinstance(value, bool):
        return int(Rating.PG | Rating.PG13) if value is False else LEGACY_NSFW
    if isinstance(value, int):
        return value & _KNOWN_BITS if value > 0 else 0
    if isinstance(value, float) and value.is_integer():
        return level_from_value(int(value))
    if isinstance(value, str):
        text = value.strip().lower()
        if not text:
            return 0
        if text.isdecimal():
            return level_from_value(int(text))
        # a level word this bot does not know (a new hub enum value?): never shown anywhere
        return _LEGACY_STRINGS.get(text, int(Rating.BLOCKED))
    return 0


def image_level(image: Mapping[str, Any]) -> int:
    """The level mask of one image object, from whichever fields its era carries.

    Preference: numeric ``browsingLevel`` (``/images``), numeric ``nsfwLevel``, the legacy string
    ``nsfwLevel``, then the 2023 boolean ``nsfw``; ``combinedNsfwLevel``/``aiNsfwLevel`` are added."""
    extra = _secondary_levels(image)
    browsing = image.get("browsingLevel")
    if isinstance(browsing, int) and not isinstance(browsing, bool) and browsing > 0:
        return level_from_value(browsing) | extra
    level = image.get("nsfwLevel")
    if level is not None and not isinstance(level, bool):
        mask = level_from_value(level)
        if mask:
            return mask | extra
    if extra:
        return extra
    nsfw = image.get("nsfw")
    if isinstance(nsfw, bool | str):  # some 2023 payloads used the string enum under "nsfw"
        return level_from_value(nsfw)
    return 0


def _secondary_levels(image: Mapping[str, Any]) -> int:
    """Other level fields some payloads carry beside ``nsfwLevel`` (the internal API's
    ``combinedNsfwLevel`` and ``aiNsfwLevel``; seen at R on an image whose ``nsfwLevel`` was PG).
    They are OR-ed in: when the hub's own signals disagree, the image may be either."""
    mask = 0
    for key in ("combinedNsfwLevel", "aiNsfwLevel"):
        value = image.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            mask |= level_from_value(value)
    return mask


def allowed_mask(*, age_restricted: bool, max_rating: int | Rating = DEFAULT_MAX_RATING) -> int:
    """The levels a channel accepts.

    Ordinary channels: every level up to and including the server's ``max_rating``.
    Age-restricted channels: PG..XXX, plus legacy content of unknown mature level. Never Blocked."""
    if age_restricted:
        return ALL_RATED | LEGACY_NSFW
    top = highest(int(max_rating) & ALL_RATED) or int(Rating.PG)
    return (top << 1) - 1


def may_show(level: int, *, age_restricted: bool, max_rating: int | Rating = DEFAULT_MAX_RATING) -> bool:
    """May content whose level mask is ``level`` be shown in this channel?

    True only when every level it may have is allowed. Blocked (32) never; unrated (0) only in
    age-restricted channels."""
    if level & Rating.BLOCKED:
        return False
    if level == 0:
        return age_restricted
    return (level & ~allowed_mask(age_restricted=age_restricted, max_rating=max_rating)) == 0


def may_show_image(image: Mapping[str, Any], *, age_restricted: bool,
                   max_rating: int | Rating = DEFAULT_MAX_RATING) -> bool:
    """``may_show`` for a raw image object in any era's shape."""
    return may_show(image_level(image), age_restricted=age_restricted, max_rating=max_rating)


def has_content_within(aggregate: int, allowed: int) -> bool:
    """Does an aggregate (model/version/article mask) contain any content at an allowed level?

    This is the test for "can this model appear at all" (e.g. a feed with a max rating): a model
    rated 5 (PG|R) has PG content, so it passes a PG feed; its R images are then filtered one by one."""
    return (aggregate & allowed & ALL_RATED) != 0


def highest(level: int) -> int:
    """The highest bit of a mask (an aggregate is labelled by its highest level); 0 for 0."""
    return 1 << (level.bit_length() - 1) if level > 0 else 0


def label(level: int) -> str:
    """A short human label for a mask: its highest level ("PG13", "XXX", "Blocked", "unrated")."""
    if level & LEGACY_NSFW:
        return "NSFW"
    top = highest(level & _KNOWN_BITS)
    if not top:
        return "unrated"
    return "Blocked" if top == Rating.BLOCKED else Rating(top).name or "unrated"


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """Where something will be shown: the server, whether the channel is age-restricted, and the
    highest rating allowed there (see ``allowed_mask``)."""

    guild_id: int | None
    age_restricted: bool
    max_rating: Rating
