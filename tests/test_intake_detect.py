"""Type and base-model detection from a header (issue 12 point 3; ``../shared/reference/intake.md`` §5).

Each synthetic preset (``tests/fakes/model_files.py``, built from the layouts the reference cites) is
read back through the real header parser and must come out as the hub's type and base model; metadata
(``modelspec.architecture``, ``ss_base_model_version``) wins over the key rules, and every disagreement
is reported for moderators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from bot.hub.models import MODEL_TYPES
from bot.intake.detect import Detection, detect, detect_header
from bot.intake.safetensors import read_header_file
from tests.fakes import model_files as mf


def _detect(tmp_path: Path, preset: Callable[..., Path], *, file_name: str | None = None,
            metadata: Mapping[str, str] | None = None, **kwargs: object) -> Detection:
    path = preset(tmp_path / "model.safetensors", metadata=metadata, **kwargs)
    return detect_header(read_header_file(path), file_name=file_name)


# preset -> (hub type, hub base model, base model type)
EXPECTED: dict[str, tuple[str, str | None, str | None]] = {
    "lora_sd1": ("LORA", "SD 1.5", "Standard"),
    "lora_sd2": ("LORA", "SD 2.1", "Standard"),
    "locon_sd1": ("LoCon", "SD 1.5", "Standard"),
    "lora_sdxl": ("LORA", "SDXL 1.0", "Standard"),
    "dora_sdxl": ("DoRA", "SDXL 1.0", "Standard"),
    "lora_flux": ("LORA", "Flux.1 D", "Standard"),
    "lora_sd3": ("LORA", "SD 3", "Standard"),
    "loha_sd1": ("LoCon", "SD 1.5", "Standard"),  # the hub's LoCon type is its "LyCORIS"
    "ti_sd1": ("TextualInversion", "SD 1.5", "Standard"),
    "ti_sd2": ("TextualInversion", "SD 2.1", "Standard"),
    "ti_sdxl": ("TextualInversion", "SDXL 1.0", "Standard"),
    "vae_sd": ("VAE", None, None),  # shapes cannot tell SD 1.5's VAE from SDXL's
    "vae_flux": ("VAE", None, None),
    "controlnet_sd1": ("Controlnet", "SD 1.5", "Standard"),
    "controlnet_sdxl": ("Controlnet", "SDXL 1.0", "Standard"),
    "checkpoint_sd1": ("Checkpoint", "SD 1.5", "Standard"),
    "checkpoint_sd2": ("Checkpoint", "SD 2.1", "Standard"),
    "checkpoint_sdxl": ("Checkpoint", "SDXL 1.0", "Standard"),
    "checkpoint_sdxl_refiner": ("Checkpoint", "SDXL 1.0", "Refiner"),
    "checkpoint_sd3": ("Checkpoint", "SD 3", "Standard"),
    "checkpoint_flux": ("Checkpoint", "Flux.1 D", "Standard"),
    "checkpoint_flux2": ("Checkpoint", "Flux.2 D", "Standard"),
    "upscaler_esrgan": ("Upscaler", None, None),
    "motion_module_sd1": ("MotionModule", "SD 1.5", "Standard"),
}


def test_every_preset_has_an_expectation() -> None:
    assert set(EXPECTED) == set(mf.PRESETS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_preset_is_detected_from_its_keys(tmp_path: Path, name: str) -> None:
    result = _detect(tmp_path, mf.PRESETS[name])
    assert (result.model_type, result.base_model, result.base_model_type) == EXPECTED[name], result
    assert result.model_type in MODEL_TYPES
    assert result.evidence, "every result says why"
    assert result.warnings == ()


def test_finer_details(tmp_path: Path) -> None:
    assert _detect(tmp_path, mf.loha_sd1).lycoris_algo == "loha"
    assert _detect(tmp_path, mf.ti_sdxl, vectors=6).vectors == 6
    assert _detect(tmp_path, mf.ti_sd1, vectors=2).vectors == 2
    assert _detect(tmp_path, mf.checkpoint_sd1, in_channels=9).base_model_type == "Inpainting"
    assert _detect(tmp_path, mf.checkpoint_sd1, in_channels=8).base_model_type == "Pix2Pix"
    assert _detect(tmp_path, mf.checkpoint_sdxl, in_channels=9).base_model_type == "Inpainting"
    schnell = _detect(tmp_path, mf.checkpoint_flux, schnell=True)
    assert (schnell.base_model, schnell.variant) == ("Flux.1 S", "schnell")
    prefixed = _detect(tmp_path, mf.checkpoint_flux, prefix="model.diffusion_model.")
    assert (prefixed.model_type, prefixed.base_model) == ("Checkpoint", "Flux.1 D")
    assert _detect(tmp_path, mf.lora_flux, style="peft").base_model == "Flux.1 D"
    assert _detect(tmp_path, mf.checkpoint_sd3, depth=38).base_model == "SD 3.5 Large"
    vae = _detect(tmp_path, mf.vae_flux)
    assert any("16 latent channels" in e for e in vae.evidence)


def test_unknown_files_are_other_and_flagged() -> None:
    result = detect({"encoder.layer.0.attention.self.query.weight": (384, 384), "pooler.dense.bias": (384,)},
                    {"format": "pt"})
    assert (result.kind, result.model_type, result.base_model) == ("unknown", "Other", None)
    assert any("check by hand" in w for w in result.warnings)


# --------------------------------------------------------------------------- metadata


def test_metadata_that_agrees_is_evidence_without_warnings(tmp_path: Path) -> None:
    meta = {**mf.kohya_metadata("sdxl_base_v1-0", sd_model_name="sd_xl_base_1.0.safetensors"),
            **mf.modelspec_metadata("stable-diffusion-xl-v1-base/lora")}
    result = _detect(tmp_path, mf.lora_sdxl, metadata=meta)
    assert result.base_model == "SDXL 1.0" and result.warnings == ()
    assert result.evidence[0].startswith("modelspec.architecture")


def test_metadata_wins_over_the_keys_and_the_conflict_is_reported(tmp_path: Path) -> None:
    result = _detect(tmp_path, mf.lora_sd1, metadata=mf.kohya_metadata("sdxl_base_v1-0"))
    assert result.base_model == "SDXL 1.0"
    assert result.warnings == ("ss_base_model_version 'sdxl_base_v1-0' says SDXL, the tensors look like SD 1.x",)

    result = _detect(tmp_path, mf.lora_sdxl, metadata=mf.modelspec_metadata("stable-diffusion-v1/lora"))
    assert result.base_model == "SD 1.5"
    assert any("SD 1.x" in w and "SDXL" in w for w in result.warnings)


def test_metadata_that_disagrees_with_itself_is_reported(tmp_path: Path) -> None:
    meta = {**mf.kohya_metadata("sd_v1"), **mf.modelspec_metadata("stable-diffusion-xl-v1-base/lora")}
    result = _detect(tmp_path, mf.lora_sdxl, metadata=meta)
    assert result.base_model == "SDXL 1.0"  # modelspec first
    assert any("disagrees with itself" in w for w in result.warnings)


def test_a_type_conflict_with_modelspec_is_reported(tmp_path: Path) -> None:
    result = _detect(tmp_path, mf.lora_sd1, metadata=mf.modelspec_metadata("stable-diffusion-v1/textual-inversion"))
    assert result.model_type == "LORA"
    assert any("'textual-inversion'" in w for w in result.warnings)
    result = _detect(tmp_path, mf.lora_sd1, metadata=mf.modelspec_metadata("stable-diffusion-v1"))
    assert any("full model" in w for w in result.warnings)


def test_an_unmapped_architecture_leaves_the_base_to_a_moderator(tmp_path: Path) -> None:
    result = _detect(tmp_path, mf.lora_flux, metadata=mf.modelspec_metadata("chroma/lora"))
    assert result.base_model is None
    assert any("choose it by hand" in w and "Flux.1" in w for w in result.warnings)


def test_old_kohya_ss_v2_and_network_module_count_as_metadata(tmp_path: Path) -> None:
    result = _detect(tmp_path, mf.lora_sd1, metadata={"ss_v2": "True", "ss_network_module": "networks.lora"})
    assert result.base_model == "SD 2.1" and len(result.warnings) == 1
    lycoris = _detect(tmp_path, mf.lora_sd1, metadata={"ss_network_module": "lycoris.kohya"})
    assert (lycoris.kind, lycoris.model_type, lycoris.lycoris_algo) == ("lycoris", "LoCon", "locon")


def test_flux_variant_from_metadata_or_names(tmp_path: Path) -> None:
    assert _detect(tmp_path, mf.lora_flux, metadata=mf.modelspec_metadata("flux-1-schnell/lora")).base_model \
        == "Flux.1 S"
    named = _detect(tmp_path, mf.lora_flux, metadata=mf.kohya_metadata(
        "flux1", module="networks.lora_flux", sd_model_name="flux1-schnell.safetensors"))
    assert named.base_model == "Flux.1 S" and named.warnings == ()
    mismatch = _detect(tmp_path, mf.checkpoint_flux, metadata=mf.modelspec_metadata("flux-1-schnell"))
    assert mismatch.base_model == "Flux.1 S"
    assert any("schnell" in w and "dev" in w for w in mismatch.warnings)


def test_sdxl_derivatives_come_from_names(tmp_path: Path) -> None:
    pony = _detect(tmp_path, mf.lora_sdxl, metadata=mf.kohya_metadata(
        "sdxl_base_v1-0", sd_model_name="ponyDiffusionV6XL_v6.safetensors"))
    assert pony.base_model == "Pony" and any("ponyDiffusionV6XL" in e for e in pony.evidence)
    assert _detect(tmp_path, mf.checkpoint_sdxl, file_name="illustriousXL_v01.safetensors").base_model \
        == "Illustrious"
    assert _detect(tmp_path, mf.lora_sd1, file_name="pony_style.safetensors").base_model == "SD 1.5"
