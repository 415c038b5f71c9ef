"""Realistic hub data for the fake hub server, tests and benchmarks.

Two sources:

* **Real captured responses** in the shared ``hub-samples`` directory, read at run time (never
  copied into the repo): :func:`samples_dir`, :func:`load_samples`.
* **A deterministic generator** of models in the 2025 ``/api/v1/models`` list-item shape (the key
  sets of model / version / file / image objects equal those of the 2025-08 capture) and of
  articles in the ``/api/v1/articles`` shape: :func:`generate_model`, :func:`generate_models`,
  :func:`generate_version`, :func:`generate_article`, :func:`generate_articles`,
  :func:`article_detail`.

Everything is a plain JSON-compatible ``dict`` and the same seed gives the same data. Generated image
URLs use the real CDN path form ``{image_base}/xG1nkqKTMzGDvpLrqFT7WA/{uuid}/width=450/{id}.jpeg``;
pass the fake server's base URL as ``image_base`` (or keep :data:`PLACEHOLDER_IMAGE_BASE`, which
:class:`tests.fakes.hub_server.FakeHub` rewrites to its own address when the model is added).
"""

from __future__ import annotations

import gc
import json
import os
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = [
    "ARTICLE_TAGS",
    "BASE_MODELS",
    "CDN_PREFIX",
    "MODEL_TYPES",
    "NSFW_LEVELS",
    "PLACEHOLDER_IMAGE_BASE",
    "Samples",
    "SamplesMissing",
    "article_detail",
    "blurhash_pool",
    "generate_article",
    "generate_articles",
    "generate_model",
    "generate_models",
    "generate_version",
    "image_meta",
    "iso_ms",
    "load_samples",
    "parse_iso",
    "samples_available",
    "samples_dir",
]

#: The account segment every Civitai CDN URL starts with.
CDN_PREFIX = "xG1nkqKTMzGDvpLrqFT7WA"
#: Default ``image_base`` of generated data; the fake server rewrites it to its own base URL.
PLACEHOLDER_IMAGE_BASE = "http://fakehub.invalid"

#: name -> bit (hub-api.md §9)
NSFW_LEVELS: dict[str, int] = {"PG": 1, "PG13": 2, "R": 4, "X": 8, "XXX": 16, "Blocked": 32}

# fmt: off
MODEL_TYPES: tuple[str, ...] = (
    "Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA",
    "Controlnet", "Upscaler", "MotionModule", "VAE", "Poses", "Wildcards", "Workflows", "Detection",
    "Other",
)
# fmt: on

# (type, weight)
# fmt: off
_TYPE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("LORA", 52), ("Checkpoint", 17), ("TextualInversion", 6), ("LoCon", 6), ("DoRA", 2), ("VAE", 1.5),
    ("Controlnet", 1.5), ("Upscaler", 1), ("Workflows", 3), ("Hypernetwork", 0.5), ("Poses", 1),
    ("Wildcards", 1), ("MotionModule", 0.5), ("Detection", 0.5), ("Other", 1),
)
# fmt: on

# (baseModel, weight, family) -- values as in /api/v1/enums BaseModel
# fmt: off
_BASE_WEIGHTS: tuple[tuple[str, float, str], ...] = (
    ("SD 1.5", 22, "sd15"), ("SDXL 1.0", 17, "sdxl"), ("Pony", 15, "sdxl"), ("Illustrious", 19, "sdxl"),
    ("Flux.1 D", 12, "flux"), ("Flux.1 S", 1.5, "flux"), ("NoobAI", 4, "sdxl"), ("SD 3.5", 1, "sd3"),
    ("SDXL Lightning", 1, "sdxl"), ("SD 2.1", 0.5, "sd2"), ("Hunyuan Video", 1, "video"),
    ("Wan Video", 2, "video"), ("Other", 0.5, "sd15"),
)
# fmt: on
BASE_MODELS: tuple[str, ...] = tuple(b for b, _w, _f in _BASE_WEIGHTS)
_BASE_FAMILY = {b: f for b, _w, f in _BASE_WEIGHTS}

_SAMPLE_FILES = {
    "models_2025": "models_list_limit10_2025-08.json",
    "models_2023_ti": "wiki2023_models_textualinversion_limit3.json",
    "version_1318": "wiki2023_model_version_1318.json",
    "images_2023": "wiki2023_images_limit1.json",
    "tags_2023": "wiki2023_tags_limit3.json",
    "creators_2023": "wiki2023_creators_limit3.json",
}


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------


def samples_dir() -> Path:
    """Directory of the captured hub responses: ``$HUB_SAMPLES_DIR``, else ``<repo>/../shared/hub-samples``."""
    env = os.environ.get("HUB_SAMPLES_DIR")
    if env:
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]  # tests/fakes/hub_data.py -> repo root
    return repo_root.parent / "shared" / "hub-samples"


#: How a fresh clone (no ``../shared``) is told where the real captures come from: one line.
SAMPLES_HINT = (
    "set HUB_SAMPLES_DIR to a directory with the captured hub responses "
    "(the project's shared/hub-samples) to run the tests that need them"
)


class SamplesMissing(FileNotFoundError):
    """The samples directory does not exist (a fresh clone without ``../shared``). Tests whose point
    is the real captures skip on it (see ``tests/conftest.py``); the fake hub serves generated models
    instead. A directory that exists but lacks files is a plain ``FileNotFoundError``: a broken
    checkout, not a fresh one."""

    def __init__(self, directory: Path) -> None:
        super().__init__(f"hub samples not found at {directory}: {SAMPLES_HINT}")
        self.directory = directory


def samples_available() -> bool:
    """Whether :func:`samples_dir` exists (it may still lack files: :func:`load_samples` says so)."""
    return samples_dir().is_dir()


@dataclass
class Samples:
    """Parsed real captures (fresh copies on every :func:`load_samples` call)."""

    models_2025: list[dict[str, Any]]
    """The 10 items of ``GET /models?limit=10`` (2025-08 shape; embedded images filtered to PG)."""
    models_2025_metadata: dict[str, Any]
    models_2023_ti: list[dict[str, Any]]
    """3 TextualInversion models in the 2023 wiki shape (legacy ``nsfw`` bools, string commercial use)."""
    model_version_1318: dict[str, Any]
    """``GET /model-versions/1318`` as captured (2023 shape, with ``model`` and ``modelId`` 1244)."""
    model_1244: dict[str, Any]
    """Synthetic 2023-shaped model wrapping version 1318 ("froggy style") so it is reachable by id/hash."""
    images_2023: list[dict[str, Any]]
    images_2023_metadata: dict[str, Any]
    tags_2023: list[dict[str, Any]]
    creators_2023: list[dict[str, Any]]
    raw: dict[str, Any] = field(default_factory=dict)
    """Every sample file parsed, keyed by file name."""

    def all_models(self) -> list[dict[str, Any]]:
        """2025 models, then the 2023 TI models, then model 1244 (the server's sample catalogue)."""
        return [*self.models_2025, *self.models_2023_ti, self.model_1244]


@lru_cache(maxsize=4)
def _read_sample_texts(directory: str) -> dict[str, str]:
    base = Path(directory)
    if not base.is_dir():
        raise SamplesMissing(base)
    texts: dict[str, str] = {}
    for path in sorted(base.glob("*.json")):
        texts[path.name] = path.read_text(encoding="utf-8")
    missing = [name for name in _SAMPLE_FILES.values() if name not in texts]
    if missing:
        raise FileNotFoundError(f"hub samples missing in {base}: {', '.join(missing)} (set HUB_SAMPLES_DIR)")
    return texts


def _wrap_version_1318(version: dict[str, Any]) -> dict[str, Any]:
    embedded = {k: v for k, v in version.items() if k != "model"}
    info = version.get("model") or {}
    stats = version.get("stats") or {}
    return {
        "id": version.get("modelId", 1244),
        "name": info.get("name", "froggy style"),
        # Fields below are synthesized (the capture only has the version); 2023 list-item shape.
        "description": "<p>A toad-themed style checkpoint. Use the trigger word <strong>ttdddd</strong>.</p>",
        "type": info.get("type", "Checkpoint"),
        "poi": info.get("poi", False),
        "nsfw": info.get("nsfw", False),
        "allowNoCredit": True,
        "allowCommercialUse": "Sell",
        "allowDerivatives": True,
        "allowDifferentLicense": True,
        "stats": {
            "downloadCount": stats.get("downloadCount", 0),
            "favoriteCount": 12,
            "commentCount": 2,
            "ratingCount": stats.get("ratingCount", 0),
            "rating": stats.get("rating", 0),
        },
        "creator": {"username": "Civitai", "image": None},
        "tags": ["style", "frog", "animal"],
        "modelVersions": [embedded],
    }


def load_samples() -> Samples:
    """Read and parse the captured responses from :func:`samples_dir` (fresh, mutable copies)."""
    texts = _read_sample_texts(str(samples_dir()))
    raw = {name: json.loads(text) for name, text in texts.items()}

    def get(key: str) -> Any:
        return raw[_SAMPLE_FILES[key]]

    m2025 = get("models_2025")
    ti = get("models_2023_ti")
    images = get("images_2023")
    return Samples(
        models_2025=m2025["items"],
        models_2025_metadata=m2025.get("metadata", {}),
        models_2023_ti=ti["items"],
        model_version_1318=get("version_1318"),
        model_1244=_wrap_version_1318(json.loads(texts[_SAMPLE_FILES["version_1318"]])),
        images_2023=images["items"],
        images_2023_metadata=images.get("metadata", {}),
        tags_2023=get("tags_2023")["items"],
        creators_2023=get("creators_2023")["items"],
        raw=raw,
    )


# --------------------------------------------------------------------------------------------
# Time helpers
# --------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GEN_START_MS = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1000)
_GEN_END_MS = int(datetime(2025, 8, 1, tzinfo=UTC).timestamp() * 1000)
_DAY_MS = 86_400_000


_DAY_PREFIX: dict[int, str] = {}


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> ``2024-01-08T04:48:43.529Z`` (the hub's timestamp format)."""
    day, rem = divmod(int(ms), _DAY_MS)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
    secs, milli = divmod(rem, 1000)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{secs:02d}.{milli:03d}Z"


def parse_iso(text: str | None) -> int | None:
    """Hub timestamp -> epoch milliseconds (``None`` for ``None``/unparseable)."""
    if not text:
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _to_ms(value: datetime | int | float | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp() * 1000)
    if isinstance(value, str):
        return parse_iso(value)
    return int(value * 1000) if isinstance(value, float) else int(value)


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

# fmt: off
_PREFIX = (
    "Dream", "Neon", "Epic", "Astral", "Pixel", "Mystic", "Hyper", "Crystal", "Velvet", "Lunar", "Solar",
    "Silk", "Iron", "Nova", "Zen", "Aurora", "Cinder", "Echo", "Halcyon", "Juniper", "Kaleido", "Obsidian",
    "Prism", "Quartz", "Rogue", "Saffron", "Tidal", "Umbra", "Ember", "Frost", "Gossamer", "Harbor",
    "Ivory", "Jade", "Koi", "Lumen", "Marble", "Nimbus", "Opal", "Petal", "Rune", "Sable", "Thistle",
    "Vapor", "Willow",
)
# fmt: on
# fmt: off
_CKPT_SUFFIX = (
    "Shaper", "Vision", "Mix", "Diffusion", "Realism", "Forge", "Verse", "Scape", "Blend", "Fusion",
    "Photon", "Canvas", "Dreams", "Core", "Merge", "Anime", "Real", "Toon", "Art",
)
# fmt: on
# fmt: off
_STYLE_WORDS = (
    "Watercolor", "Ink Wash", "Oil Painting", "Pixel Art", "Cel Shaded", "Ukiyo-e", "Art Nouveau",
    "Vaporwave", "Retro Anime", "Film Noir", "Claymation", "Low Poly", "Paper Cutout", "Stained Glass",
    "Charcoal Sketch", "Gouache", "Synthwave", "Dark Fantasy", "Cyberpunk", "Steampunk", "Isometric",
    "Chibi", "Graffiti", "Pastel Dream", "Gothic", "Comic Book", "Manga Lineart", "Impressionist",
    "Cinematic Lighting",
)
# fmt: on
# fmt: off
_CONCEPTS = (
    "Detail Tweaker", "Better Hands", "Add More Details", "Age Slider", "Weight Slider", "Lighting Slider",
    "Hyperdetailed Eyes", "Perfect Feet", "Background Blur", "Depth of Field", "Film Grain",
    "Glowing Runes", "Flat Color", "Contrast Fix", "Skin Texture", "Wet Look", "Sunset Glow", "Motion Blur",
    "Bokeh Lights", "Fog and Mist", "Lens Flare", "Crowd Generator", "Reflection Fix", "Color Pop",
)
# fmt: on
# fmt: off
_CHAR_FIRST = (
    "Aria", "Kael", "Mira", "Soren", "Lyra", "Taro", "Yuna", "Ezra", "Nadia", "Rin", "Orin", "Sefa", "Hana",
    "Vex", "Ilse", "Juno", "Kira", "Lio", "Mako", "Nell",
)
# fmt: on
# fmt: off
_CHAR_FRANCHISE = (
    "Starfall Chronicles", "Moonlit Academy", "Iron Bloom", "Skyward Saga", "Crimson Tide Online",
    "Azure Knights", "Hollow Crown", "Neon Ronin", "Petal Storm", "Frontier Drift",
)
# fmt: on
# fmt: off
_CLOTHING = (
    "Gothic Lolita Dress", "Cyber Jacket", "Kimono", "Knight Armor", "Sailor Uniform", "Hooded Cloak",
    "Flight Suit", "Victorian Gown", "Streetwear Hoodie", "Maid Outfit", "Space Suit", "Witch Hat",
)
# fmt: on
# fmt: off
_TAGS_GENERAL = (
    "anime", "realistic", "photorealistic", "style", "character", "concept", "clothing", "base model",
    "portraits", "landscapes", "fantasy", "sci-fi", "cyberpunk", "architecture", "woman", "man", "animal",
    "vehicle", "illustration", "3d", "2d", "digital art", "painting", "watercolor", "pixel art", "comics",
    "horror", "cute", "tool", "slider", "detailed", "lighting", "background", "poses", "game character",
    "mecha", "food", "nature", "cityscape", "retro", "cinematic", "sketch", "lineart", "girls", "armor",
    "celebrity-free", "photography", "semi-realistic", "chibi", "steampunk", "dark fantasy", "surreal",
)
# fmt: on
# fmt: off
_VERSION_NAMES = (
    "v1.0", "v1.1", "v1.5", "v2.0", "V2", "v2.5", "v3.0", "V3 Turbo", "v4", "v5.0", "V6", "v7 Lightning",
    "Beta", "Alpha", "Final", "fp8", "Pruned", "Hyper", "DMD2", "v1.0 for IL", "v1.0 Pony", "XL v1",
)
# fmt: on
_SAMPLERS = ("Euler a", "DPM++ 2M Karras", "DPM++ SDE Karras", "Euler", "DPM++ 2M SDE", "DDIM", "UniPC")
# fmt: off
_PROMPT_BITS = (
    "masterpiece", "best quality", "1girl", "solo", "looking at viewer", "cinematic lighting", "detailed",
    "city street at night", "rain", "forest", "mountains", "portrait", "smile", "armor", "sunset", "ocean",
    "castle", "neon lights", "depth of field", "volumetric light", "flowers", "red hair", "blue eyes",
)
# fmt: on
_NEG_BITS = ("lowres", "bad anatomy", "bad hands", "worst quality", "low quality", "jpeg artifacts", "watermark")
# fmt: off
_ASPECTS = (
    (832, 1216), (1216, 832), (1024, 1024), (896, 1152), (1152, 896), (1024, 1536), (512, 768), (768, 512),
    (768, 1152), (1024, 1360), (1536, 1024), (640, 960), (720, 1280), (1280, 720),
)
# fmt: on
# fmt: off
_COMMERCIAL = (
    ["Image", "RentCivit", "Rent", "Sell"], ["Image", "RentCivit", "Rent"], ["Image", "RentCivit"],
    ["Image"], ["RentCivit"], [], ["Image", "Sell"],
)
# fmt: on
# fmt: off
_SENTENCES = (
    "Works best with 20-30 steps and CFG 5-7.", "Recommended sampler: DPM++ 2M Karras.",
    "Use clip skip 2 for anime styles.", "Trained on a curated set of high quality images.",
    "Feedback and showcase images are very welcome!",
    "Lower the weight to 0.6 if the effect is too strong.", "Pairs nicely with a detail LoRA.",
    "Hires fix with 1.5x upscale gives the sharpest results.",
    "This version fixes the over-saturated colours of the previous one.",
    "Please read the license before commercial use.",
)
# fmt: on
_PICKLE_MSG = "**Detected Pickle imports (3)**\n```\ncollections.OrderedDict\ntorch.HalfStorage\ntorch._utils._rebuild_tensor_v2\n```"  # noqa: E501


def _weighted(pairs: tuple[tuple[Any, ...], ...]) -> tuple[list[Any], list[float]]:
    values = [p[0] for p in pairs]
    cum: list[float] = []
    total = 0.0
    for p in pairs:
        total += p[1]
        cum.append(total)
    fractions = [c / total for c in cum]
    fractions[-1] = 1.0  # so bisect_right(fractions, x) < len(values) for every x in [0, 1)
    return values, fractions


_TYPE_TABLE = _weighted(_TYPE_WEIGHTS)
_BASE_TABLE = _weighted(tuple((b, w) for b, w, _f in _BASE_WEIGHTS))
# image level distributions per model profile
_LEVELS_SFW = _weighted(((1, 80), (2, 20)))
_LEVELS_MIXED = _weighted(((1, 50), (2, 22), (4, 13), (8, 8), (16, 6), (32, 1)))
_LEVELS_NSFW = _weighted(((4, 40), (8, 33), (16, 25), (32, 2)))


# downloads ~ lognormal(6.0, 1.7), pre-drawn so generation stays cheap
_LOGNORMAL_RNG = random.Random(0x10C)
_LOGNORMAL = [int(_LOGNORMAL_RNG.lognormvariate(6.0, 1.7)) for _ in range(4096)]


def _pick(rng_random: Any, table: tuple[list[Any], list[float]]) -> Any:
    values, cum = table
    i = bisect_right(cum, rng_random())
    return values[i if i < len(values) else -1]


@lru_cache(maxsize=1)
def _creator_pool() -> tuple[tuple[str, str | None], ...]:
    """~600 stable usernames (independent of the generation seed) with avatar uuid or None."""
    rng = random.Random(0xC0FFEE)
    first = (
        "neon",
        "pixel",
        "dream",
        "shadow",
        "lunar",
        "velvet",
        "astro",
        "tiny",
        "mad",
        "happy",
        "silent",
        "cosmic",
        "retro",
        "lazy",
        "brave",
        "fuzzy",
        "golden",
        "crimson",
        "azure",
        "misty",
    )
    second = (
        "fox",
        "witch",
        "forge",
        "smith",
        "painter",
        "otter",
        "ronin",
        "tinker",
        "wizard",
        "crafter",
        "sketcher",
        "panda",
        "raven",
        "lynx",
        "monk",
        "pilot",
        "ghost",
        "bard",
        "sage",
        "moth",
    )
    seen: set[str] = set()
    pool: list[tuple[str, str | None]] = []
    while len(pool) < 600:
        a, b = _choice(rng, first), _choice(rng, second)
        style = rng.random()
        if style < 0.35:
            name = f"{a.capitalize()}{b.capitalize()}"
        elif style < 0.6:
            name = f"{a}_{b}"
        elif style < 0.85:
            name = f"{a}{b}{rng.randint(1, 999)}"
        else:
            name = f"{a.upper()}{b.capitalize()}AI"
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        avatar = None if rng.random() < 0.15 else _uuid(rng)
        pool.append((name, avatar))
    return tuple(pool)


def _choice(rng: random.Random, seq: Any) -> Any:
    return seq[int(rng.random() * len(seq))]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=1)
def blurhash_pool() -> tuple[str, ...]:
    """64 valid 4x4 BlurHashes, each encoded (with ``bot.media.blurhash.encode``) from a small
    generated image (a blurred random colour field). Deterministic; built once per process."""
    from PIL import Image, ImageFilter

    from bot.media.blurhash import encode

    rng = random.Random(0xB1A5)
    pool: list[str] = []
    for _ in range(64):
        base = (rng.randint(20, 235), rng.randint(20, 235), rng.randint(20, 235))
        small = Image.new("RGB", (3, 4))
        small.putdata(
            [tuple(max(0, min(255, c + rng.randint(-70, 70))) for c in base) for _ in range(12)]  # type: ignore[misc]
        )
        img = small.resize((12, 16), Image.Resampling.BILINEAR).filter(ImageFilter.SMOOTH)
        pool.append(encode(img, 4, 4))
    return tuple(pool)


# --------------------------------------------------------------------------------------------
# Model generator (2025 list-item shape)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _camel(text: str) -> str:
    words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
    if not words:
        return "model"
    return words[0].lower() + "".join(w[:1].upper() + w[1:] for w in words[1:])


def _model_name(rng: random.Random, mtype: str, base: str) -> str:
    r = rng.random
    family = _BASE_FAMILY.get(base, "sd15")
    tail = {"Pony": " Pony", "Illustrious": " IL", "NoobAI": " NoobAI", "Flux.1 D": " Flux", "Flux.1 S": " Flux"}
    if mtype == "Checkpoint":
        name = (
            f"{_choice(rng, _PREFIX)}{_choice(rng, _CKPT_SUFFIX)}"
            if r() < 0.5
            else (f"{_choice(rng, _PREFIX)} {_choice(rng, _CKPT_SUFFIX)}")
        )
        if family == "sdxl":
            name += tail.get(base, " XL") if r() < 0.6 else " XL"
        elif family == "flux":
            name += " Flux"
        return name
    if mtype in ("LORA", "LoCon", "DoRA"):
        kind = r()
        if kind < 0.35:
            name = f"{_choice(rng, _STYLE_WORDS)} Style"
        elif kind < 0.6:
            name = _choice(rng, _CONCEPTS)
        elif kind < 0.85:
            name = f"{_choice(rng, _CHAR_FIRST)} ({_choice(rng, _CHAR_FRANCHISE)})"
        else:
            name = _choice(rng, _CLOTHING)
        if r() < 0.3:
            name += " LoRA" if mtype == "LORA" else f" {mtype}"
        if r() < 0.35:
            name += tail.get(base, " XL" if family == "sdxl" else "")
        return name.strip()
    if mtype == "TextualInversion":
        return _choice(
            rng,
            (
                f"{_choice(rng, _PREFIX)}Negative",
                f"{_choice(rng, _PREFIX)} Embedding",
                f"Easy{_choice(rng, _PREFIX)}",
                f"{_choice(rng, _CHAR_FIRST)} Face Embedding",
            ),
        )
    if mtype == "VAE":
        return f"{_choice(rng, _PREFIX)} VAE" + (" XL" if family == "sdxl" else "")
    if mtype == "Controlnet":
        return f"ControlNet {_choice(rng, ('Canny', 'Depth', 'OpenPose', 'Tile', 'Lineart', 'Scribble'))} {base}"
    if mtype == "Upscaler":
        return f"4x-{_choice(rng, _PREFIX)}Sharp"
    if mtype == "Workflows":
        return f"{_choice(rng, _PREFIX)} {_choice(rng, ('Upscale', 'Inpaint', 'Portrait', 'Video', 'Hires'))} Workflow"
    if mtype == "Poses":
        return f"{_choice(rng, ('Dynamic', 'Action', 'Sitting', 'Dance'))} Pose Pack"
    if mtype == "Wildcards":
        return f"{_choice(rng, _PREFIX)} Wildcards Collection"
    if mtype == "MotionModule":
        return f"{_choice(rng, _PREFIX)} Motion Module"
    if mtype == "Detection":
        return f"{_choice(rng, ('Face', 'Hand', 'Eyes', 'Person'))} Detailer YOLO"
    return f"{_choice(rng, _PREFIX)} {_choice(rng, _CKPT_SUFFIX)} Toolkit"


def _hashes(rng: random.Random, with_v3: bool) -> dict[str, str]:
    # one draw of 64+8+8+64+12 hex digits, sliced
    h = f"{rng.getrandbits(624):0156X}"
    sha = h[:64]
    out = {"AutoV1": h[64:72], "AutoV2": sha[:10], "SHA256": sha, "CRC32": h[72:80], "BLAKE3": h[80:144]}
    if with_v3:
        out["AutoV3"] = h[144:156]
    return out


# (approx KB, size, fp) per (type-group, family)
# fmt: off
_CKPT_KB = {
    "sd15": 2_082_642.0, "sd2": 2_540_000.0, "sdxl": 6_775_430.0, "flux": 11_623_544.0, "sd3": 8_200_000.0,
    "video": 13_600_000.0,
}
# fmt: on
# fmt: off
_LORA_KB = {
    "sd15": 147_000.0, "sd2": 80_000.0, "sdxl": 223_098.0, "flux": 150_000.0, "sd3": 120_000.0,
    "video": 300_000.0,
}
# fmt: on


def _file(
    rng: random.Random,
    file_id: int,
    version_id: int,
    name: str,
    ftype: str,
    kb: float,
    meta: tuple[str, str | None, str | None],
    scanned_at: str,
    primary: bool,
) -> dict[str, Any]:
    fmt, size, fp = meta
    pickle = fmt == "PickleTensor"
    if primary:
        url = f"https://civitai.com/api/download/models/{version_id}"
    else:
        q = f"?type={ftype.replace(' ', '%20')}&format={fmt}"
        if size:
            q += f"&size={size}"
        if fp:
            q += f"&fp={fp}"
        url = f"https://civitai.com/api/download/models/{version_id}{q}"
    out: dict[str, Any] = {
        "id": file_id,
        "sizeKB": kb * (0.97 + 0.06 * rng.random()),
        "name": name,
        "type": ftype,
        "pickleScanResult": "Success",
        "pickleScanMessage": _PICKLE_MSG if pickle else "No Pickle imports",
        "virusScanResult": "Success",
        "virusScanMessage": None,
        "scannedAt": scanned_at,
        "metadata": {"format": fmt, "size": size, "fp": fp},
        "hashes": _hashes(rng, rng.random() < 0.7),
        "downloadUrl": url,
    }
    if primary:
        out["primary"] = True
    return out


def _files_for(
    rng: random.Random, mtype: str, base: str, version_id: int, stem: str, scanned_ms: int
) -> list[dict[str, Any]]:
    family = _BASE_FAMILY.get(base, "sd15")
    r = rng.random
    fid = version_id * 4
    scanned = iso_ms(scanned_ms)
    files: list[dict[str, Any]] = []
    if mtype == "Checkpoint":
        kb = _CKPT_KB.get(family, 2_082_642.0)
        if family == "flux":
            meta = ("SafeTensor", "pruned", "fp8" if r() < 0.6 else "bf16")
        else:
            meta = ("SafeTensor", "pruned" if r() < 0.6 else "full", "fp16")
        files.append(_file(rng, fid, version_id, f"{stem}.safetensors", "Model", kb, meta, scanned, True))
        extra = r()
        if extra < 0.15:
            files.append(
                _file(
                    rng,
                    fid + 1,
                    version_id,
                    f"{stem}.safetensors",
                    "Model",
                    kb * 1.8,
                    ("SafeTensor", "full", "fp32"),
                    scanned,
                    False,
                )
            )
        elif extra < 0.25:
            files.append(
                _file(
                    rng,
                    fid + 1,
                    version_id,
                    f"{stem}.ckpt",
                    "Model",
                    kb,
                    ("PickleTensor", "full", "fp16"),
                    scanned,
                    False,
                )
            )
        elif extra < 0.33:
            files.append(
                _file(
                    rng,
                    fid + 1,
                    version_id,
                    "vae.safetensors",
                    "VAE",
                    326_798.0,
                    ("SafeTensor", None, None),
                    scanned,
                    False,
                )
            )
        elif extra < 0.38 and family == "flux":
            files.append(
                _file(
                    rng,
                    fid + 1,
                    version_id,
                    f"{stem}-Q8_0.gguf",
                    "Model",
                    kb * 1.05,
                    ("GGUF", None, None),
                    scanned,
                    False,
                )
            )
        return files
    if mtype in ("LORA", "LoCon", "DoRA", "Hypernetwork"):
        kb = _LORA_KB.get(family, 147_000.0) * (0.15 + 1.6 * r())
        meta = ("SafeTensor", None, None) if r() < 0.7 else ("SafeTensor", "full", "fp16")
        files.append(_file(rng, fid, version_id, f"{stem}.safetensors", "Model", kb, meta, scanned, True))
        if r() < 0.08:
            files.append(
                _file(
                    rng,
                    fid + 1,
                    version_id,
                    f"{stem}_trainingData.zip",
                    "Training Data",
                    60_000.0 + 400_000.0 * r(),
                    ("Other", None, None),
                    scanned,
                    False,
                )
            )
        return files
    if mtype == "TextualInversion":
        kb = 4.0 + 200.0 * r()
        ext, fmt = (".safetensors", "SafeTensor") if r() < 0.75 else (".pt", "PickleTensor")
        files.append(_file(rng, fid, version_id, stem + ext, "Model", kb, (fmt, None, None), scanned, True))
        return files
    if mtype == "VAE":
        return [
            _file(
                rng,
                fid,
                version_id,
                f"{stem}.safetensors",
                "Model",
                326_798.0,
                ("SafeTensor", None, None),
                scanned,
                True,
            )
        ]
    if mtype == "Controlnet":
        return [
            _file(
                rng,
                fid,
                version_id,
                f"{stem}.safetensors",
                "Model",
                1_456_000.0 if family == "sd15" else 2_445_000.0,
                ("SafeTensor", "pruned", "fp16"),
                scanned,
                True,
            )
        ]
    if mtype in ("Upscaler", "Detection"):
        return [
            _file(
                rng,
                fid,
                version_id,
                f"{stem}.pth" if mtype == "Upscaler" else f"{stem}.pt",
                "Model",
                65_000.0 if mtype == "Upscaler" else 6_000.0,
                ("PickleTensor", None, None),
                scanned,
                True,
            )
        ]
    if mtype == "MotionModule":
        return [
            _file(
                rng,
                fid,
                version_id,
                f"{stem}.ckpt",
                "Model",
                1_780_000.0,
                ("PickleTensor", None, None),
                scanned,
                True,
            )
        ]
    # Workflows, Poses, Wildcards, Other: an archive
    return [
        _file(
            rng, fid, version_id, f"{stem}.zip", "Archive", 30.0 + 3000.0 * r(), ("Other", None, None), scanned, True
        )
    ]


def _images(
    rng: random.Random, first_id: int, levels: list[int], image_base: str, blurhashes: tuple[str, ...]
) -> list[dict[str, Any]]:
    r = rng.random
    bits = rng.getrandbits
    n_aspects = len(_ASPECTS)
    n_bh = len(blurhashes)
    prefix = f"{image_base}/{CDN_PREFIX}/"
    out = []
    for k, level in enumerate(levels):
        image_id = first_id + k
        w, h = _ASPECTS[int(r() * n_aspects)]
        u = f"{bits(128):032x}"
        has_meta = r() < 0.85
        out.append(
            {
                "id": image_id,
                "url": f"{prefix}{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}/width=450/{image_id}.jpeg",
                "nsfwLevel": level,
                "width": w,
                "height": h,
                "hash": blurhashes[int(r() * n_bh)],
                "type": "image",
                "minor": False,
                "poi": False,
                "hasMeta": has_meta,
                "hasPositivePrompt": has_meta and r() < 0.97,
                "onSite": r() < 0.2,
                "remixOfId": None,
            }
        )
    return out


def _image_count(r: float) -> int:
    if r < 0.65:
        return 1 + int(r * 3.07)  # 1..2
    if r < 0.91:
        return 3 + int((r - 0.65) * 11.5)  # 3..5
    return 6 + int((r - 0.91) * 166)  # 6..20


def generate_version(
    rng: random.Random,
    model: dict[str, Any],
    version_id: int,
    *,
    index: int = 0,
    image_base: str = PLACEHOLDER_IMAGE_BASE,
    published_at: datetime | int | str | None = None,
    name: str | None = None,
    base_model: str | None = None,
    image_levels: list[int] | None = None,
    n_images: int | None = None,
    level_table: tuple[list[Any], list[float]] | None = None,
) -> dict[str, Any]:
    """One version (2025 list shape) for ``model`` (which only needs ``type``, ``name`` and, for the
    base model default, ``modelVersions``). Files get ids ``version_id*4+k``, images
    ``version_id*32+k``. ``image_levels`` fixes the images' levels exactly; the version's
    ``nsfwLevel`` is the OR of its images' levels."""
    r = rng.random
    mtype = model.get("type", "LORA")
    if base_model is None:
        existing = model.get("modelVersions") or []
        base_model = existing[0].get("baseModel") if existing else None
        if base_model is None:
            base_model = _pick(r, _BASE_TABLE)
    pub_ms = published_at if type(published_at) is int else _to_ms(published_at)
    if pub_ms is None:
        pub_ms = _GEN_START_MS + int(r() * (_GEN_END_MS - _GEN_START_MS))
    vname = name or _VERSION_NAMES[int(r() * len(_VERSION_NAMES))]
    stem = f"{_camel(model.get('name', 'model'))}_{_camel(vname)}"
    bh = blurhash_pool()
    if image_levels is None:
        values, cum = level_table or _LEVELS_MIXED
        count = n_images if n_images is not None else _image_count(r())
        levels = [values[bisect_right(cum, r())] for _ in range(count)]
    else:
        levels = list(image_levels)
    images = _images(rng, version_id * 32, levels[:32], image_base, bh)
    level = 0
    for lvl in levels:
        level |= lvl
    trained: list[str] = []
    if mtype in ("LORA", "LoCon", "DoRA", "TextualInversion"):
        trained = [stem.split("_")[0].lower()]
        if r() < 0.4:
            trained.append(_choice(rng, _PROMPT_BITS))
    down = _LOGNORMAL[int(r() * 4096)]
    thumbs = int(down * (0.02 + 0.08 * r()))
    base_type: str | None = "Standard"
    if mtype == "Checkpoint" and r() < 0.08:
        base_type = "Inpainting"
        vname = f"{vname} inpainting"
    elif r() < 0.03:
        base_type = None
    return {
        "id": version_id,
        "index": index,
        "name": vname,
        "baseModel": base_model,
        "baseModelType": base_type,
        "publishedAt": iso_ms(pub_ms),
        "availability": "Public",
        "nsfwLevel": level,
        "description": None if r() < 0.5 else f"<p>{_choice(rng, _SENTENCES)}</p>",
        "trainedWords": trained,
        "stats": {
            "downloadCount": down,
            "ratingCount": int(thumbs * 0.3),
            "rating": round(4.5 + 0.5 * r(), 2) if thumbs else 0,
            "thumbsUpCount": thumbs,
            "thumbsDownCount": int(thumbs * 0.01 * r()),
        },
        "supportsGeneration": family_supports_generation(base_model, mtype) and r() < 0.7,
        "files": _files_for(rng, mtype, base_model, version_id, stem, pub_ms - int(r() * 3_600_000)),
        "images": images,
        "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
    }


def family_supports_generation(base_model: str, mtype: str) -> bool:
    """Whether on-site generation is plausible for this base model and type."""
    return _BASE_FAMILY.get(base_model) in ("sd15", "sdxl", "flux") and mtype in (
        "Checkpoint",
        "LORA",
        "LoCon",
        "DoRA",
        "TextualInversion",
    )


def _description(rng: random.Random, name: str, mtype: str, base: str) -> str | None:
    if rng.random() < 0.1:
        return None
    what = {
        "Checkpoint": "checkpoint",
        "LORA": "LoRA",
        "LoCon": "LoCon",
        "DoRA": "DoRA",
        "TextualInversion": "embedding",
    }.get(mtype, mtype.lower())
    s1, s2 = _choice(rng, _SENTENCES), _choice(rng, _SENTENCES)
    return f"<p><strong>{name}</strong> is a {what} for {base}.</p><p>{s1}</p><ul><li><p>{s2}</p></li></ul>"


def generate_model(
    rng: random.Random,
    model_id: int,
    *,
    image_base: str,
    published_at: datetime | int | str | None = None,
    image_levels: list[int] | None = None,
    type: str | None = None,
    base_model: str | None = None,
    creator: str | None = None,
    tags: list[str] | None = None,
    n_versions: int | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """A model in the 2025-08 ``/models`` list-item shape (same key sets as the capture).

    ``published_at`` is the newest version's publish time (datetime, epoch ms or ISO string; older
    versions are days to months earlier); default: random in 2023-01..2025-08. ``image_levels``
    gives every version exactly those image levels (e.g. ``[8, 16]`` for a model without the PG
    bit); default: a per-model profile (SFW 60 %, mixed 27 %, NSFW-only 13 %). Version ids are
    ``model_id*16 + k`` (oldest k=0), file ids ``version_id*4 + j``, image ids
    ``version_id*32 + i``. Model and version ``nsfwLevel`` are the OR of their images' levels.
    """
    r = rng.random
    mtype = type or _pick(r, _TYPE_TABLE)
    base = base_model or _pick(r, _BASE_TABLE)
    if n_versions is None:
        x = r()
        n_versions = (
            1 if x < 0.5 else 2 if x < 0.7 else 3 + int((x - 0.7) * 10) if x < 0.92 else 6 + int((x - 0.92) * 100)
        )
    n_versions = max(1, min(16, n_versions))
    last_ms = _to_ms(published_at)
    if last_ms is None:
        last_ms = _GEN_START_MS + int(r() * (_GEN_END_MS - _GEN_START_MS))
    profile = r()
    if profile < 0.6:
        table, nsfw = _LEVELS_SFW, False
    elif profile < 0.87:
        table, nsfw = _LEVELS_MIXED, False
    else:
        table, nsfw = _LEVELS_NSFW, True
    mname = name or _model_name(rng, mtype, base)
    pool = _creator_pool()
    if creator is None:
        # Zipf-like: a few prolific creators, a long tail
        cidx = int(len(pool) * (r() ** 2.2))
        cname, avatar = pool[cidx]
    else:
        cname = creator
        avatar = next((a for n, a in pool if n == creator), None)
    if tags is None:
        ntags = 1 + int(r() * 6)
        tag_list: list[str] = []
        for t in (_choice(rng, _TAGS_GENERAL) for _ in range(ntags)):
            if t not in tag_list:
                tag_list.append(t)
        if mtype == "Checkpoint" and "base model" not in tag_list:
            tag_list.append("base model")
    else:
        tag_list = list(tags)

    model: dict[str, Any] = {"name": mname, "type": mtype, "modelVersions": []}
    versions: list[dict[str, Any]] = []
    # newest first: index 0 is the newest (highest id)
    t = last_ms
    for i in range(n_versions):
        vid = model_id * 16 + (n_versions - 1 - i)
        vbase = base if (i == 0 or r() > 0.1) else _pick(r, _BASE_TABLE)
        versions.append(
            generate_version(
                rng,
                model,
                vid,
                index=i,
                image_base=image_base,
                published_at=t,
                base_model=vbase,
                image_levels=image_levels,
                level_table=table,
                name=_VERSION_NAMES[min(len(_VERSION_NAMES) - 1, n_versions - 1 - i)] if r() < 0.6 else None,
            )
        )
        t -= int((1 + r() * 60) * _DAY_MS)
    level = down = thumbs = thumbs_down = 0
    supports = False
    hidden = r() < 0.04
    for v in versions:
        level |= v["nsfwLevel"]
        vstats = v["stats"]
        down += vstats["downloadCount"]
        thumbs += vstats["thumbsUpCount"]
        thumbs_down += vstats["thumbsDownCount"]
        supports = supports or v["supportsGeneration"]
        if hidden:
            vstats["downloadCount"] = None
    return {
        "id": model_id,
        "name": mname,
        "description": _description(rng, mname, mtype, base),
        "allowNoCredit": r() < 0.6,
        "allowCommercialUse": list(_COMMERCIAL[int(r() * len(_COMMERCIAL))]),
        "allowDerivatives": r() < 0.85,
        "allowDifferentLicense": r() < 0.6,
        "type": mtype,
        "minor": False,
        "sfwOnly": (not nsfw) and level <= 3 and r() < 0.05,
        "poi": False,
        "nsfw": nsfw or (level & 1) == 0,
        "nsfwLevel": level,
        "availability": "Public",
        "cosmetic": None,
        "supportsGeneration": supports,
        "stats": {
            "downloadCount": None if hidden else down,
            "favoriteCount": 0,
            "thumbsUpCount": thumbs,
            "thumbsDownCount": thumbs_down,
            "commentCount": int(thumbs * 0.03 * r()),
            "ratingCount": 0,
            "rating": 0,
            "tippedAmountCount": int(thumbs * 3 * r()) if r() < 0.7 else 0,
        },
        "creator": {
            "username": cname,
            "image": f"{image_base}/{CDN_PREFIX}/{avatar}/width=96/{cname}.jpeg" if avatar else None,
        },
        "tags": tag_list,
        "modelVersions": versions,
    }


def generate_models(
    n: int,
    *,
    seed: int = 0,
    start_id: int = 1_000_000,
    image_base: str = PLACEHOLDER_IMAGE_BASE,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """``n`` models with ids ``start_id..start_id+n-1``; the newest-version dates rise with the id
    (spread over ``start``..``end``, default 2023-01-01..2025-08-01, with jitter). Deterministic
    for a given ``seed``; 50,000 models take a few seconds."""
    rng = random.Random(seed)
    lo = _to_ms(start) if start else _GEN_START_MS
    hi = _to_ms(end) if end else _GEN_END_MS
    assert lo is not None and hi is not None
    span = max(1, hi - lo)
    out = []
    # Millions of small containers: the cyclic GC would rescan them over and over.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for k in range(n):
            frac = (k + rng.random()) / max(1, n)
            pub = lo + int(frac * span)
            out.append(generate_model(rng, start_id + k, image_base=image_base, published_at=min(pub, hi)))
    finally:
        if gc_was_enabled:
            gc.enable()
    return out


def image_meta(
    image_id: int,
    *,
    model: dict[str, Any] | None = None,
    version_id: int | None = None,
    size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """Deterministic generation parameters for an image (what ``withMeta=true`` / version detail
    show). ``civitaiResources`` points at ``version_id`` when given; ``Size`` is ``size`` (the
    image's width/height) or a common generation size."""
    rng = random.Random(image_id * 2654435761 % (1 << 61))
    prompt = ", ".join(rng.sample(_PROMPT_BITS, 6))
    w, h = size or _ASPECTS[rng.randrange(len(_ASPECTS))]
    meta: dict[str, Any] = {
        "Size": f"{w}x{h}",
        "seed": rng.getrandbits(32),
        "steps": _choice(rng, (20, 25, 28, 30, 35)),
        "prompt": prompt,
        "sampler": _choice(rng, _SAMPLERS),
        "cfgScale": _choice(rng, (3.5, 5, 6, 7, 7.5)),
        "Clip skip": _choice(rng, ("1", "2")),
        "negativePrompt": ", ".join(rng.sample(_NEG_BITS, 3)),
    }
    if model is not None:
        meta["Model"] = _camel(model.get("name", "model"))
    if version_id is not None:
        meta["civitaiResources"] = [{"type": "checkpoint", "modelVersionId": version_id}]
    return meta


# --------------------------------------------------------------------------------------------
# Articles (hub-api.md §7)
# --------------------------------------------------------------------------------------------

#: (id, name, isCategory)
# fmt: off
ARTICLE_TAGS: tuple[tuple[int, str, bool], ...] = (
    (5132, "guide", True), (5133, "news", True), (5134, "tutorial", True), (5135, "showcase", True),
    (5136, "event", True), (5137, "contest", True), (5138, "workflow", True), (5139, "training", True),
    (111, "comfyui", False), (112, "lora", False), (113, "sdxl", False), (114, "flux", False),
    (115, "illustrious", False), (116, "prompting", False), (117, "anime", False),
    (118, "photography", False), (119, "tools", False), (120, "video", False),
)
# fmt: on
# fmt: off
_ARTICLE_TITLES = (
    "How to Train a {x} LoRA in 30 Minutes", "Beginner's Guide to {x}", "{x}: Everything You Need to Know",
    "My {x} Workflow, Explained", "Top 10 Tips for Better {x} Images",
    "Why Your {x} Results Look Washed Out", "{x} Contest Winners Announced", "Weekly Roundup: {x} Edition",
    "Comparing Samplers for {x}", "From Sketch to Render with {x}",
)
# fmt: on
# fmt: off
_ARTICLE_TOPICS = (
    "ComfyUI", "Illustrious", "Flux", "SDXL", "Pony", "Inpainting", "Upscaling", "Character", "Style",
    "Video", "ControlNet", "Prompting",
)
# fmt: on
# fmt: off
_ARTICLE_STATS = (
    "favoriteCount", "collectedCount", "commentCount", "likeCount", "dislikeCount", "heartCount",
    "laughCount", "cryCount", "viewCount", "tippedAmountCount",
)
# fmt: on


def generate_article(
    rng: random.Random,
    article_id: int,
    *,
    image_base: str = PLACEHOLDER_IMAGE_BASE,
    published_at: datetime | int | str | None = None,
    nsfw_level: int | None = None,
    username: str | None = None,
    tags: list[int] | None = None,
    title: str | None = None,
    cover_level: int | None = None,
    stats: dict[str, int] | None = None,
) -> dict[str, Any]:
    """An article in the ``/api/v1/articles`` list-item shape (no body). ``coverImage.url`` and
    ``cover`` are bare CDN UUIDs (UNVERIFIED in the reference; the client must add the CDN prefix).
    ``tags`` are ids from :data:`ARTICLE_TAGS`. ``cover_level``: the cover's own level (default: the
    lowest level of ``nsfw_level``); ``stats``: list stats keys (``likeCount`` ...) to set, the others
    generated."""
    r = rng.random
    pub = _to_ms(published_at)
    if pub is None:
        pub = _GEN_START_MS + int(r() * (_GEN_END_MS - _GEN_START_MS))
    created = pub - int(r() * 5 * _DAY_MS)
    updated = pub + (int(r() * 20 * _DAY_MS) if r() < 0.3 else 0)
    if nsfw_level is None:
        x = r()
        nsfw_level = 1 if x < 0.8 else 3 if x < 0.9 else 7 if x < 0.96 else 28
    if cover_level is None:
        cover_level = nsfw_level & -nsfw_level if nsfw_level else 1  # lowest bit
    pool = _creator_pool()
    if username is None:
        uname, avatar = pool[int(len(pool) * (r() ** 2))]
    else:
        uname, avatar = username, next((a for n, a in pool if n == username), None)
    user_id = 100_000 + (abs(hash_str(uname)) % 9_000_000)
    if tags is None:
        cat = ARTICLE_TAGS[int(r() * 8)]
        chosen = [cat] + [ARTICLE_TAGS[8 + int(r() * (len(ARTICLE_TAGS) - 8))] for _ in range(int(r() * 3))]
    else:
        by_id = {t[0]: t for t in ARTICLE_TAGS}
        chosen = [by_id.get(t, (t, f"tag{t}", False)) for t in tags]
    seen: set[int] = set()
    tag_objs = []
    for tid, tname, is_cat in chosen:
        if tid not in seen:
            seen.add(tid)
            tag_objs.append({"id": tid, "name": tname, "isCategory": is_cat})
    views = int(rng.lognormvariate(6.5, 1.4))
    likes = int(views * 0.05 * r())
    stats_override = stats or {}
    stats = {
        "favoriteCount": 0,
        "collectedCount": int(likes * 0.4 * r()),
        "commentCount": int(likes * 0.2 * r()),
        "likeCount": likes,
        "dislikeCount": int(likes * 0.02 * r()),
        "heartCount": int(likes * 0.5 * r()),
        "laughCount": int(likes * 0.1 * r()),
        "cryCount": int(likes * 0.05 * r()),
        "viewCount": views,
        "tippedAmountCount": int(likes * 2 * r()) if r() < 0.4 else 0,
    }
    stats.update(stats_override)
    cover_uuid = _uuid(rng)
    w, h = _ASPECTS[int(r() * len(_ASPECTS))]
    cover_id = 60_000_000 + article_id * 8
    bh = blurhash_pool()
    return {
        "id": article_id,
        "title": title or _choice(rng, _ARTICLE_TITLES).format(x=_choice(rng, _ARTICLE_TOPICS)),
        "cover": cover_uuid,
        "coverId": cover_id,
        "publishedAt": iso_ms(pub),
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(updated),
        "nsfwLevel": nsfw_level,
        "userNsfwLevel": 0,
        "userId": user_id,
        "unlisted": False,
        "availability": "Public",
        "status": "Published",
        "tags": tag_objs,
        "user": {
            "id": user_id,
            "username": uname,
            "image": f"{image_base}/{CDN_PREFIX}/{avatar}/width=96/{uname}.jpeg" if avatar else None,
            "deletedAt": None,
        },
        "stats": stats,
        "coverImage": {
            "id": cover_id,
            "url": cover_uuid,
            "nsfwLevel": cover_level,
            "width": w,
            "height": h,
            "hash": bh[int(r() * len(bh))],
            "type": "image",
            "metadata": {"width": w, "height": h},
        },
    }


def hash_str(text: str) -> int:
    """Stable (process-independent) 63-bit string hash."""
    h = 1469598103934665603
    for ch in text.encode("utf-8"):
        h = ((h ^ ch) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def generate_articles(
    n: int, *, seed: int = 0, start_id: int = 10_000, image_base: str = PLACEHOLDER_IMAGE_BASE
) -> list[dict[str, Any]]:
    """``n`` articles with ids ``start_id..``; publish dates rise with the id (2023-01..2025-08)."""
    rng = random.Random(seed ^ 0xA47)
    span = _GEN_END_MS - _GEN_START_MS
    return [
        generate_article(
            rng,
            start_id + k,
            image_base=image_base,
            published_at=_GEN_START_MS + int((k + rng.random()) / max(1, n) * span),
        )
        for k in range(n)
    ]


def article_detail(
    article: dict[str, Any], *, image_base: str = PLACEHOLDER_IMAGE_BASE, content: str | None = None
) -> dict[str, Any]:
    """The ``/articles/{id}`` form of a list item: adds ``content`` (sanitized HTML; ``content`` to
    give it instead of the generated one), ``contentJson`` (TipTap), ``reactions``, ``attachments``,
    ``contentImages`` and renames the stats keys to ``*AllTime``. Deterministic from the article id."""
    rng = random.Random(article["id"] * 7919)
    title = article.get("title", "Article")
    paragraphs = [_choice(rng, _SENTENCES) + " " + _choice(rng, _SENTENCES) for _ in range(3)]
    steps = [f"Step {i + 1}: {_choice(rng, _SENTENCES)}" for i in range(3)]
    img_uuid = _uuid(rng)
    img_id = 70_000_000 + article["id"] * 8
    img_url = f"{image_base}/{CDN_PREFIX}/{img_uuid}/width=525/{img_uuid}.jpeg"
    html = (
        f"<h2>{_html_escape(title)}</h2>"
        + "".join(f"<p>{_html_escape(p)}</p>" for p in paragraphs[:2])
        + "<ul>"
        + "".join(f"<li><p>{_html_escape(s)}</p></li>" for s in steps)
        + "</ul>"
        + f'<p><img src="{img_url}" alt="example"></p>'
        + f'<p>{_html_escape(paragraphs[2])} See <a target="_blank" rel="ugc" '
        + 'href="https://civitai.com/models">the models page</a>.</p>'
    )

    def text(t: str) -> dict[str, Any]:
        return {"type": "text", "text": t}

    content_json = {
        "type": "doc",
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [text(title)]},
            *({"type": "paragraph", "content": [text(p)]} for p in paragraphs[:2]),
            {
                "type": "bulletList",
                "content": [
                    {"type": "listItem", "content": [{"type": "paragraph", "content": [text(s)]}]} for s in steps
                ],
            },
            {"type": "image", "attrs": {"src": img_url, "alt": "example"}},
            {"type": "paragraph", "content": [text(paragraphs[2])]},
        ],
    }
    detail: dict[str, Any] = {}
    for key, value in article.items():
        if key == "stats":
            detail["stats"] = {f"{k}AllTime": v for k, v in value.items()}
        else:
            detail[key] = value
        if key == "title":
            detail["content"] = html if content is None else content
            detail["contentJson"] = content_json
    detail["reactions"] = []
    detail["attachments"] = []
    detail["contentImages"] = [
        {
            "id": img_id,
            "url": img_uuid,
            "nsfwLevel": 1,
            "width": 1024,
            "height": 1024,
            "hash": blurhash_pool()[article["id"] % 64],
            "type": "image",
        }
    ]
    return detail


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
