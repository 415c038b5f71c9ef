from __future__ import annotations

import pytest

from bot.core.rating import (
    LEGACY_NSFW,
    Rating,
    allowed_mask,
    has_content_within,
    image_level,
    label,
    level_from_value,
    may_show,
    parse_max_rating,
)

PG, PG13, R, X, XXX, BLOCKED = (int(r) for r in Rating)


def test_levels_are_the_hub_bits() -> None:
    assert [PG, PG13, R, X, XXX, BLOCKED] == [1, 2, 4, 8, 16, 32]


@pytest.mark.parametrize(
    ("image", "level"),
    [
        ({"nsfwLevel": 1}, PG),
        ({"nsfwLevel": 16}, XXX),
        ({"nsfwLevel": "None"}, PG),
        ({"nsfwLevel": "Soft"}, PG13),
        ({"nsfwLevel": "Mature"}, R),
        ({"nsfwLevel": "X"}, X | XXX),
        ({"nsfwLevel": "Blocked"}, BLOCKED),
        ({"nsfwLevel": "None", "browsingLevel": 4}, R),  # /images: the numeric field wins
        ({"nsfw": False}, PG | PG13),
        ({"nsfw": True}, LEGACY_NSFW),
        ({"nsfw": "Mature"}, R),
        ({}, 0),
        ({"nsfwLevel": None, "nsfw": None}, 0),
        ({"nsfwLevel": "weird"}, BLOCKED),  # a level word nobody knows: never shown
        ({"nsfw": "Blocked"}, BLOCKED),
        ({"nsfwLevel": ""}, 0),
        ({"nsfwLevel": 0, "nsfw": True}, LEGACY_NSFW),
        ({"nsfwLevel": 1 | 128}, PG),  # unknown bits are dropped
        ({"nsfwLevel": 1, "combinedNsfwLevel": 4, "aiNsfwLevel": 4}, PG | R),  # disagreeing signals: either
        ({"combinedNsfwLevel": 8}, X),
    ],
)
def test_image_level_in_every_era(image: dict, level: int) -> None:
    assert image_level(image) == level


def test_allowed_masks() -> None:
    assert allowed_mask(age_restricted=False) == PG | PG13  # default PG13
    assert allowed_mask(age_restricted=False, max_rating=Rating.PG) == PG
    assert allowed_mask(age_restricted=False, max_rating=Rating.R) == PG | PG13 | R
    assert allowed_mask(age_restricted=False, max_rating=Rating.XXX) == 31
    assert allowed_mask(age_restricted=True, max_rating=Rating.PG) & 31 == 31
    assert not allowed_mask(age_restricted=True) & BLOCKED


@pytest.mark.parametrize("max_rating", list(Rating)[:5])
def test_ordinary_channels_never_show_more_than_max_rating(max_rating: Rating) -> None:
    for level in (PG, PG13, R, X, XXX):
        assert may_show(level, age_restricted=False, max_rating=max_rating) == (level <= max_rating)


def test_blocked_unrated_and_legacy() -> None:
    for age_restricted in (False, True):
        assert not may_show(BLOCKED, age_restricted=age_restricted, max_rating=Rating.XXX)
        assert not may_show(BLOCKED | PG, age_restricted=age_restricted, max_rating=Rating.XXX)
    assert not may_show(0, age_restricted=False, max_rating=Rating.XXX)
    assert may_show(0, age_restricted=True)
    # legacy nsfw:true is never shown outside age-restricted channels, whatever the max rating
    assert not may_show(LEGACY_NSFW, age_restricted=False, max_rating=Rating.XXX)
    assert may_show(LEGACY_NSFW, age_restricted=True)
    # legacy nsfw:false is "safe for work": shown under PG13, not under PG
    assert may_show(image_level({"nsfw": False}), age_restricted=False)
    assert not may_show(image_level({"nsfw": False}), age_restricted=False, max_rating=Rating.PG)


def test_masks_not_comparisons() -> None:
    # A mask with a low numeric value can still contain a forbidden level: 5 = PG|R < 8 = X.
    assert not may_show(PG | R, age_restricted=False, max_rating=Rating.PG13)
    # The legacy string "X" may be XXX: refused under max X.
    assert not may_show(image_level({"nsfwLevel": "X"}), age_restricted=False, max_rating=Rating.X)
    # An aggregate of 28 (R|X|XXX) has nothing a PG13 channel may show; 5 does (its PG part).
    assert not has_content_within(R | X | XXX, allowed_mask(age_restricted=False))
    assert has_content_within(PG | R, allowed_mask(age_restricted=False))
    assert not has_content_within(BLOCKED, 63)


def test_labels_and_parsing() -> None:
    assert label(31) == "XXX" and label(7) == "R" and label(1) == "PG" and label(0) == "unrated"
    assert label(BLOCKED | PG) == "Blocked" and label(LEGACY_NSFW) == "NSFW"
    assert not may_show(image_level({"nsfw": "Blocked"}), age_restricted=True)
    assert not may_show(image_level({"nsfwLevel": "Extreme"}), age_restricted=True)
    assert parse_max_rating("pg-13") == Rating.PG13 and parse_max_rating(" xxx ") == Rating.XXX
    with pytest.raises(ValueError, match="choose one of"):
        parse_max_rating("NC17")
    assert level_from_value("8") == X and level_from_value(-3) == 0 and level_from_value(2.0) == PG13
