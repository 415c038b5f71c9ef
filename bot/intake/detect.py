"""What a model file is (type) and what it was made for (base model), from its header alone.

Why from the header: the intake decides before downloading GBs, and moderators get a starting point
for the hub's create form. The rules are ``../shared/reference/intake.md`` §5 (distilled from A1111's
``sd_models_config.py`` and Lora extension, and ComfyUI's ``model_detection.py``); like the reference
says, they have been checked only on synthetic headers (``tests/fakes/model_files.py``), so every
result carries the ``evidence`` that produced it, and the card should show it.

Metadata first: when ``modelspec.architecture`` or ``ss_base_model_version`` (or the older ``ss_v2``)
names a base model, it wins (it is what the trainer knew); the key rules still run, and any
disagreement becomes a ``warnings`` line for moderators (a mislabelled upload, or a rule that is
wrong for a real file). Shapes cannot tell Pony, Illustrious or NoobAI from SDXL: names
(``ss_sd_model_name``, ``modelspec.title``, the file name) are used for those, and said so.

Names are the hub's: :attr:`Detection.model_type` is a ``bot.hub.models.MODEL_TYPES`` value (the hub's
``LoCon`` type is the one it shows as "LyCORIS", so LyCORIS files map there), and
:attr:`Detection.base_model` a hub ``baseModel`` such as "SD 1.5", "SDXL 1.0", "Flux.1 D". Flux.2's
hub name ("Flux.2 D") is our best guess: check it against the hub's ``/enums`` when wiring the draft.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.intake.safetensors import SafetensorsHeader

# families (internal names; see :func:`hub_base_model` for the hub's)
SD1, SD2, SDXL, SDXL_REFINER, SD3, FLUX1, FLUX2 = "sd1", "sd2", "sdxl", "sdxl-refiner", "sd3", "flux1", "flux2"
_FAMILY_NAMES = {SD1: "SD 1.x", SD2: "SD 2.x", SDXL: "SDXL", SDXL_REFINER: "SDXL Refiner", SD3: "SD3",
                 FLUX1: "Flux.1", FLUX2: "Flux.2"}

# kinds -> the hub's ModelType
HUB_TYPES = {
    "lora": "LORA", "locon": "LoCon", "dora": "DoRA", "lycoris": "LoCon", "textual-inversion": "TextualInversion",
    "controlnet": "Controlnet", "motion-module": "MotionModule", "vae": "VAE", "checkpoint": "Checkpoint",
    "upscaler": "Upscaler", "unknown": "Other",
}
_ADAPTER_KINDS = {"lora", "locon", "dora", "lycoris"}
#: cross-attention context width (the text encoder's output) -> family
_CONTEXT_WIDTH = {768: SD1, 1024: SD2, 2048: SDXL, 1280: SDXL_REFINER}
_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "control_model.", "transformer.")
_SDXL_FLAVOURS = (("pony", "Pony"), ("illustrious", "Illustrious"), ("noob", "NoobAI"))


@dataclass(frozen=True)
class Detection:
    kind: str
    """lora, locon, dora, lycoris, textual-inversion, controlnet, motion-module, vae, checkpoint, upscaler,
    unknown."""
    model_type: str
    """The hub's ModelType ("LORA", "LoCon", "DoRA", "TextualInversion", "Checkpoint", …; "Other" if unknown)."""
    family: str | None
    """sd1, sd2, sdxl, sdxl-refiner, sd3, flux1, flux2; None when unknown (or not mapped, e.g. Chroma)."""
    base_model: str | None
    """The hub's baseModel spelling, or None for a moderator to choose."""
    base_model_type: str | None = None
    """The hub's baseModelType: Standard, Inpainting, Refiner or Pix2Pix (None without a base model)."""
    variant: str | None = None
    """dev / schnell (Flux.1), 3.5-large / 3.5-medium (SD3), v-prediction; None when not told."""
    lycoris_algo: str | None = None
    """loha, lokr, oft, glora, norm, or locon (LyCORIS' own LoRA) for LyCORIS files."""
    vectors: int | None = None
    """Textual inversion: the number of token vectors."""
    evidence: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


class _Keys:
    """The tensor names and shapes, with the usual wrapper prefixes stripped for lookups."""

    def __init__(self, shapes: Mapping[str, Sequence[int]]) -> None:
        self.shapes = {k: tuple(v) for k, v in shapes.items()}
        self.norm: dict[str, tuple[int, ...]] = {}
        for key, shape in self.shapes.items():
            for prefix in _PREFIXES:
                if key.startswith(prefix):
                    self.norm.setdefault(key[len(prefix):], shape)
                    break
            self.norm.setdefault(key, shape)

    def get(self, key: str) -> tuple[int, ...] | None:
        return self.norm.get(key)

    def any_contains(self, *parts: str) -> str | None:
        for key in self.shapes:
            if any(p in key for p in parts):
                return key
        return None

    def any_startswith(self, *prefixes: str) -> str | None:
        for key in self.norm:
            if key.startswith(prefixes):
                return key
        return None


# --------------------------------------------------------------------------- type


def _kind(keys: _Keys, metadata: Mapping[str, str], evidence: list[str]) -> tuple[str, str | None, int | None]:
    """(kind, LyCORIS algorithm, TI vectors) by the first rule that matches (reference §5, "Type")."""
    for parts, algo in (((".hada_w1_a",), "loha"), ((".lokr_w1", ".lokr_w2"), "lokr"),
                        ((".oft_blocks", ".oft_diag"), "oft"), ((".a1.weight",), "glora"), ((".w_norm",), "norm")):
        hit = keys.any_contains(*parts)
        if hit:
            evidence.append(f"LyCORIS {algo} key {hit!r}")
            return "lycoris", algo, None
    module = metadata.get("ss_network_module", "")
    lora_key = keys.any_contains(".lora_down.weight", ".lora_up.weight", ".lora_A.weight", ".lora_B.weight",
                                 ".lora.down.weight")
    if module.startswith("lycoris"):
        evidence.append(f"ss_network_module is {module!r}")
        return "lycoris", "locon" if lora_key else None, None
    if lora_key:
        dora = keys.any_contains(".dora_scale")
        if dora:
            evidence.append(f"LoRA keys with a DoRA magnitude {dora!r}")
            return "dora", None, None
        for key, shape in keys.shapes.items():
            if (key.endswith((".lora_down.weight", ".lora_A.weight")) and len(shape) == 4
                    and tuple(shape[2:]) != (1, 1)):
                evidence.append(f"LoRA with a {shape[2]}×{shape[3]} convolution {key!r} (LoCon)")
                return "locon", None, None
        evidence.append(f"LoRA key {lora_key!r}")
        return "lora", None, None
    if len(keys.shapes) <= 4:
        for name in ("emb_params", "clip_l"):
            shape = keys.shapes.get(name)
            if shape and (name == "emb_params" or "clip_g" in keys.shapes):
                evidence.append("textual inversion (" + ("emb_params" if name == "emb_params" else "clip_l + clip_g")
                                + ")")
                return "textual-inversion", None, shape[0] if len(shape) == 2 else None
        param = next((k for k in keys.shapes if k.startswith("string_to_param.")), None)
        if param:
            evidence.append(f"textual inversion ({param})")
            shape = keys.shapes[param]
            return "textual-inversion", None, shape[0] if len(shape) == 2 else None
    for key in ("input_hint_block.0.weight", "controlnet_cond_embedding.conv_in.weight"):
        if keys.get(key):
            evidence.append(f"ControlNet key {key!r}")
            return "controlnet", None, None
    hit = keys.any_startswith("controlnet_blocks.")
    if hit:
        evidence.append(f"ControlNet key {hit!r}")
        return "controlnet", None, None
    hit = keys.any_contains("motion_modules.")
    if hit:
        evidence.append(f"AnimateDiff motion module key {hit!r}")
        return "motion-module", None, None
    model_markers = ("model.diffusion_model.", "cond_stage_model.", "conditioner.", "text_model.", "double_blocks.",
                     "joint_blocks.", "input_blocks.", "text_encoders.")
    has_model = any(k.startswith(model_markers) for k in keys.shapes)
    vae_key = next((k for k in ("decoder.conv_in.weight", "encoder.conv_in.weight", "quant_conv.weight")
                    if k in keys.shapes), None)
    if vae_key and not has_model:
        evidence.append(f"VAE key {vae_key!r} and no UNet or text-encoder keys")
        return "vae", None, None
    hit = next((k for k in keys.shapes if k.startswith(("model.diffusion_model.", "double_blocks.", "joint_blocks."))),
               None)
    if hit:
        evidence.append(f"checkpoint key {hit!r}")
        return "checkpoint", None, None
    hit = keys.any_contains("RRDB_trunk", "body.0.rdb1") or ("conv_first.weight" if "conv_first.weight" in keys.shapes
                                                             else None)
    if hit:
        evidence.append(f"ESRGAN-style upscaler key {hit!r}")
        return "upscaler", None, None
    return "unknown", None, None


# --------------------------------------------------------------------------- base model from the tensors


def _context_width(keys: _Keys) -> tuple[int, str] | None:
    """The cross-attention context width, from a to_k projection of attn2 (full weight or adapter input)."""
    for key, shape in keys.shapes.items():
        if "attn2" not in key or "to_k" not in key or len(shape) < 2:
            continue
        if key.endswith(("attn2.to_k.weight", ".lora_down.weight", ".lora_A.weight", ".lora.down.weight",
                         ".hada_w1_b", ".hada_w2_b")):
            return shape[1], key
    return None


def _family_from_keys(kind: str, keys: _Keys, evidence: list[str]) -> tuple[str | None, str | None, str | None]:
    """(family, variant, base_model_type) from keys and shapes (reference §5, "Base model")."""
    in_ch_shape = keys.get("input_blocks.0.0.weight")
    in_ch = in_ch_shape[1] if in_ch_shape and len(in_ch_shape) == 4 else None
    unet_type = {9: "Inpainting", 8: "Pix2Pix"}.get(in_ch) if in_ch else None

    if kind == "checkpoint":
        if keys.get("double_stream_modulation_img.lin.weight"):
            evidence.append("Flux.2 (double_stream_modulation_img)")
            return FLUX2, None, "Standard"
        if keys.get("double_blocks.0.img_attn.norm.key_norm.scale"):
            dev = keys.any_startswith("guidance_in.")
            evidence.append("Flux.1 " + ("dev-like (guidance_in)" if dev else "schnell-like (no guidance_in)"))
            return FLUX1, "dev" if dev else "schnell", "Standard"
        if keys.get("joint_blocks.0.context_block.attn.qkv.weight"):
            x = keys.get("x_embedder.proj.weight")
            depth = x[0] // 64 if x else None
            variant = ("3.5-large" if depth == 38 else
                       "3.5-medium" if keys.get("joint_blocks.0.x_block.attn2.qkv.weight") else None)
            evidence.append(f"SD3 MMDiT (joint_blocks, depth {depth})")
            return SD3, variant, "Standard"
        if keys.get("conditioner.embedders.1.model.ln_final.weight"):
            evidence.append("SDXL (two text encoders, conditioner.embedders.1 is OpenCLIP-G)")
            variant = "v-prediction" if "v_pred" in keys.shapes else None
            return SDXL, variant, unet_type or "Standard"
        if keys.get("conditioner.embedders.0.model.ln_final.weight"):
            evidence.append("SDXL Refiner (only OpenCLIP-G in conditioner.embedders.0)")
            return SDXL_REFINER, None, "Refiner"
        proj = keys.get("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight")
        if proj and len(proj) == 2 and proj[1] == 1024:
            evidence.append("SD 2.x (OpenCLIP-H text encoder, width 1024)")
            return SD2, None, unet_type or "Standard"
        if keys.any_startswith("cond_stage_model.transformer.text_model."):
            evidence.append("SD 1.x (CLIP-L text encoder)" + (f", UNet input {in_ch} channels" if unet_type else ""))
            return SD1, None, unet_type or "Standard"
    if kind == "textual-inversion":
        if "clip_l" in keys.shapes and "clip_g" in keys.shapes:
            evidence.append("SDXL embedding (clip_l + clip_g)")
            return SDXL, None, "Standard"
        for key, shape in keys.shapes.items():
            if key == "emb_params" or key.startswith("string_to_param."):
                family = {768: SD1, 1024: SD2}.get(shape[-1]) if shape else None
                if family:
                    evidence.append(f"embedding width {shape[-1]} ({_FAMILY_NAMES[family]})")
                return family, None, "Standard" if family else None
        return None, None, None
    if kind in _ADAPTER_KINDS:
        hit = keys.any_contains("lora_unet_double_blocks_", "lora_unet_single_blocks_", "single_transformer_blocks.",
                                "double_blocks.")
        if hit:
            evidence.append(f"Flux adapter key {hit!r}")
            return FLUX1, None, "Standard"
        hit = keys.any_contains("joint_blocks")
        if hit:
            evidence.append(f"SD3 adapter key {hit!r}")
            return SD3, None, "Standard"
        hit = next((k for k in keys.shapes if k.startswith(("lora_te1_", "lora_te2_"))), None)
        if hit:
            evidence.append(f"two text encoders ({hit.split('_text')[0]}…): SDXL")
            return SDXL, None, "Standard"
        width = _context_width(keys)
        if width and width[0] in _CONTEXT_WIDTH:
            family = _CONTEXT_WIDTH[width[0]]
            evidence.append(f"cross-attention context {width[0]} ({_FAMILY_NAMES[family]})")
            return family, None, "Refiner" if family == SDXL_REFINER else "Standard"
        for key, shape in keys.shapes.items():
            if key.startswith("lora_te_") and key.endswith(".lora_down.weight") and len(shape) == 2:
                family = {768: SD1, 1024: SD2}.get(shape[1])
                if family:
                    evidence.append(f"text-encoder width {shape[1]} ({_FAMILY_NAMES[family]})")
                    return family, None, "Standard"
        return None, None, None
    if kind == "vae":
        conv_in = keys.get("decoder.conv_in.weight")
        channels = conv_in[1] if conv_in and len(conv_in) == 4 else None
        if channels == 4:
            evidence.append("4 latent channels: the SD 1.x / 2.x / SDXL family (shapes cannot tell which)")
        elif channels == 16:
            evidence.append("16 latent channels: the SD3 / Flux.1 family (shapes cannot tell which)")
        elif channels:
            evidence.append(f"{channels} latent channels")
        return None, None, None
    if kind == "controlnet":
        hit = keys.any_contains("single_transformer_blocks.", "double_blocks.", "single_blocks.")
        if hit:
            evidence.append(f"Flux ControlNet key {hit!r}")
            return FLUX1, None, "Standard"
    if kind in ("controlnet", "checkpoint"):  # a UNet without its text encoder: its cross-attention width
        width = _context_width(keys)
        if width and width[0] in _CONTEXT_WIDTH:
            family = _CONTEXT_WIDTH[width[0]]
            evidence.append(f"cross-attention context {width[0]} ({_FAMILY_NAMES[family]})")
            return family, None, "Refiner" if family == SDXL_REFINER else (unet_type or "Standard")
    if kind == "motion-module":
        if keys.any_startswith("down_blocks.3.motion_modules."):
            evidence.append("motion modules in four down blocks (the SD 1.5 UNet; AnimateDiff v1-v3)")
            return SD1, None, "Standard"
        if keys.any_startswith("down_blocks.2.motion_modules."):
            evidence.append("motion modules in three down blocks (the SDXL UNet)")
            return SDXL, None, "Standard"
    return None, None, None


# --------------------------------------------------------------------------- base model from the metadata


def _family_from_architecture(arch: str) -> tuple[str | None, str | None]:
    """``modelspec.architecture`` base part -> (family, variant); (None, None) when not one we map."""
    arch = arch.strip().lower()
    if arch == "stable-diffusion-v1":
        return SD1, None
    if arch.startswith("stable-diffusion-v2"):
        return SD2, "v-prediction" if arch.endswith("-v") else None
    if arch == "stable-diffusion-xl-v1-base":
        return SDXL, None
    if arch == "stable-diffusion-xl-v1-refiner":
        return SDXL_REFINER, None
    if arch.startswith(("stable-diffusion-v3", "stable-diffusion-3")):
        variant = ("3.5-large" if "3.5-large" in arch or "3-5-large" in arch else
                   "3.5-medium" if "3.5-medium" in arch or "3-5-medium" in arch else None)
        return SD3, variant
    if arch.startswith("flux-1"):
        return FLUX1, "schnell" if "schnell" in arch else "dev" if "dev" in arch else None
    if arch.startswith("flux-2"):
        return FLUX2, None
    return None, None


def _family_from_version(version: str) -> tuple[str | None, str | None]:
    """kohya ``ss_base_model_version`` -> (family, variant)."""
    v = version.strip().lower()
    if v in ("sd_v1", "sd_v1_v"):
        return SD1, "v-prediction" if v.endswith("_v") else None
    if v in ("sd_v2", "sd_v2_v"):
        return SD2, "v-prediction" if v.endswith("_v") else None
    if v.startswith("sdxl_"):
        return (SDXL_REFINER if "refiner" in v else SDXL), None
    if v.startswith("flux1"):
        return FLUX1, None
    if v.startswith("flux2") or v.startswith("flux-2"):
        return FLUX2, None
    if v.startswith("sd3") or "mmdit" in v:
        return SD3, None
    return None, None


@dataclass(frozen=True)
class _Claim:
    """What one metadata key says about the base: ``family`` None = an architecture we do not map (Chroma…)."""

    family: str | None
    variant: str | None
    source: str

    @property
    def label(self) -> str:
        return _FAMILY_NAMES[self.family] if self.family else "an unmapped architecture"


def _metadata_claim(metadata: Mapping[str, str], warnings: list[str]) -> tuple[_Claim | None, str | None]:
    """(the claim that decides, in order modelspec > ss_base_model_version > ss_v2 > ss_network_module; the
    modelspec adapter part, e.g. "lora"). Claims that disagree with the deciding one become warnings."""
    claims: list[_Claim] = []
    adapter = None
    arch = metadata.get("modelspec.architecture")
    if arch:
        base, _, adapter = arch.partition("/")
        claims.append(_Claim(*_family_from_architecture(base), f"modelspec.architecture {arch[:60]!r}"))
    version = metadata.get("ss_base_model_version")
    if version:
        claims.append(_Claim(*_family_from_version(version), f"ss_base_model_version {version[:60]!r}"))
    elif metadata.get("ss_v2") in ("True", "False"):
        claims.append(_Claim(SD2 if metadata["ss_v2"] == "True" else SD1, None, f"ss_v2 {metadata['ss_v2']!r}"))
    module = metadata.get("ss_network_module", "")
    for marker, family in (("lora_flux", FLUX1), ("lora_sd3", SD3)):
        if marker in module:
            claims.append(_Claim(family, None, f"ss_network_module {module[:60]!r}"))
    if not claims:
        return None, adapter or None
    first = claims[0]
    for other in claims[1:]:
        if other.family != first.family:
            warnings.append(f"the metadata disagrees with itself: {first.source} says {first.label}, "
                            f"{other.source} says {other.label}")
    variant = first.variant or next((c.variant for c in claims if c.family == first.family and c.variant), None)
    return _Claim(first.family, variant, first.source), adapter or None


_LORA_ADAPTERS = frozenset({"lora", "lycoris", "locon", "loha", "lokr", "dora"})
#: the modelspec.architecture suffixes ("<base>/lora") that fit each kind
_ADAPTER_FOR_KIND: dict[str, frozenset[str]] = {
    "lora": _LORA_ADAPTERS, "locon": _LORA_ADAPTERS, "dora": _LORA_ADAPTERS, "lycoris": _LORA_ADAPTERS,
    "textual-inversion": frozenset({"textual-inversion"}), "controlnet": frozenset({"controlnet"}),
    "vae": frozenset({"vae"}),
}


def hub_base_model(family: str | None, variant: str | None = None) -> str | None:
    """The hub's ``baseModel`` spelling for a family (None when unknown)."""
    if family == SD1:
        return "SD 1.5"
    if family == SD2:
        return "SD 2.1"
    if family in (SDXL, SDXL_REFINER):
        return "SDXL 1.0"
    if family == SD3:
        return {"3.5-large": "SD 3.5 Large", "3.5-medium": "SD 3.5 Medium"}.get(variant or "", "SD 3")
    if family == FLUX1:
        return "Flux.1 S" if variant == "schnell" else "Flux.1 D"
    if family == FLUX2:
        return "Flux.2 D"
    return None


def _sdxl_flavour(metadata: Mapping[str, str], file_name: str | None) -> tuple[str, str] | None:
    """("Pony", "ss_sd_model_name 'ponyDiffusionV6XL'") when a name says which SDXL derivative it is."""
    sources = [("ss_sd_model_name", metadata.get("ss_sd_model_name")), ("modelspec.title", metadata.get(
        "modelspec.title")), ("the file name", file_name)]
    for label, text in sources:
        if not text:
            continue
        lowered = text.lower()
        for needle, name in _SDXL_FLAVOURS:
            if needle in lowered:
                return name, f"{label} {text[:80]!r}"
    return None


# --------------------------------------------------------------------------- entry points


def detect(shapes: Mapping[str, Sequence[int]], metadata: Mapping[str, str] | None = None, *,
           file_name: str | None = None) -> Detection:
    """Type and base model from tensor names/shapes and ``__metadata__`` (see the module docstring)."""
    metadata = metadata or {}
    keys = _Keys(shapes)
    evidence: list[str] = []
    warnings: list[str] = []
    kind, algo, vectors = _kind(keys, metadata, evidence)
    key_family, key_variant, unet_type = _family_from_keys(kind, keys, evidence)
    claim, adapter = _metadata_claim(metadata, warnings)

    if adapter is not None and kind != "unknown":
        if adapter.strip().lower() not in _ADAPTER_FOR_KIND.get(kind, frozenset()):
            warnings.append(f"modelspec.architecture says {adapter[:40]!r}, the tensors look like a {kind}")
    elif metadata.get("modelspec.architecture") and kind in _ADAPTER_FOR_KIND:
        warnings.append(f"modelspec.architecture names a full model, the tensors look like a {kind}")

    family, variant = key_family, key_variant
    if claim is not None:
        evidence.insert(0, f"{claim.source} ({claim.label})")
        key_label = _FAMILY_NAMES[key_family] if key_family else None
        if claim.family is None:
            warnings.append(f"{claim.source} names a base this bot does not map to the hub"
                            + (f" (the tensors look like {key_label})" if key_label else "") + ": choose it by hand")
        elif key_family and key_family != claim.family:
            warnings.append(f"{claim.source} says {claim.label}, the tensors look like {key_label}")
        elif key_variant and claim.variant and key_variant != claim.variant:
            warnings.append(f"{claim.source} says {claim.variant}, the tensors look {key_variant}")
        if key_family != claim.family:
            unet_type = None
            variant = claim.variant
        else:
            variant = claim.variant or key_variant
        family = claim.family

    if family == FLUX1 and variant is None:
        hint = " ".join(filter(None, (metadata.get("ss_sd_model_name"), file_name))).lower()
        variant = "schnell" if "schnell" in hint else "dev"
        evidence.append("schnell named in the base model or file name" if variant == "schnell"
                        else "Flux.1 dev assumed (the tensors do not tell dev from schnell)")

    base_model = hub_base_model(family, variant)
    if family == SDXL:
        flavour = _sdxl_flavour(metadata, file_name)
        if flavour:
            base_model = flavour[0]
            evidence.append(f"{flavour[0]} (an SDXL derivative) named in {flavour[1]}")
    base_type = None
    if base_model:
        base_type = "Refiner" if family == SDXL_REFINER else (unet_type or "Standard")
    if kind == "unknown":
        warnings.append("not a model type these rules recognise: check by hand")
    return Detection(kind=kind, model_type=HUB_TYPES[kind], family=family, base_model=base_model,
                     base_model_type=base_type, variant=variant, lycoris_algo=algo, vectors=vectors,
                     evidence=tuple(evidence), warnings=tuple(warnings))


def detect_header(header: SafetensorsHeader, *, file_name: str | None = None) -> Detection:
    """:func:`detect` on a validated safetensors header."""
    return detect(header.shapes(), header.metadata, file_name=file_name)

