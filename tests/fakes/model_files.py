"""Synthetic safetensors files for intake tests: a real header, zero (sparse) data.

Why synthetic: no small real diffusion LoRA, TI or checkpoint is available offline
(``../shared/reference/intake.md`` §11), and detection works from keys and shapes only. The key names
and shapes below follow the layouts of kohya-ss, LyCORIS, A1111, diffusers/PEFT, ComfyUI and the
original LDM/Flux checkpoints (reference §5), with just enough tensors to carry each signal.

Data is written with ``truncate``, so the file is sparse: a "7 GB" checkpoint costs a few KB of disk
and no time, and reads back as zeros. Pass ``data=`` to write real bytes (hash tests).

    write_safetensors(path, {"w": ("F16", (4, 8))}, metadata={"k": "v"})
    lora_sdxl(tmp_path / "x.safetensors", metadata=kohya_metadata("sdxl_base_v1-0"))
    checkpoint_sdxl(tmp_path / "big.safetensors", pad_to=7 * 10**9)

Every preset takes ``path`` and keywords ``metadata=None``, ``pad_to=None`` and returns the path.
This module does not import the bot: it is an independent writer, so tests can trust what it wrote.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path

TensorSpec = tuple[str, Sequence[int]]

_BITS = {"BOOL": 8, "U8": 8, "I8": 8, "F8_E4M3": 8, "F8_E5M2": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
         "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64, "U64": 64, "F4": 4}
PADDING_TENSOR = "padding"


def tensor_nbytes(dtype: str, shape: Sequence[int]) -> int:
    elements = 1
    for dim in shape:
        elements *= dim
    return elements * _BITS[dtype] // 8


def header_bytes(tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None) -> tuple[bytes, int]:
    """(the first 8 + N bytes of the file, the tensor buffer's size): tensors laid out in the given order.

    The JSON is padded with spaces to a multiple of 8 bytes, as the safetensors library writes it.
    """
    header: dict[str, object] = {}
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = tensor_nbytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw, offset


def write_raw(path: str | Path, header: bytes, data_size: int, data: bytes | None = None) -> Path:
    """``header`` (8 + N bytes) then ``data`` (must be ``data_size`` long) or ``data_size`` sparse zeros."""
    path = Path(path)
    with path.open("wb") as f:
        f.write(header)
        if data is not None:
            if len(data) != data_size:
                raise ValueError(f"data is {len(data)} bytes, the tensors need {data_size}")
            f.write(data)
        else:
            f.truncate(len(header) + data_size)
    return path


def write_safetensors(path: str | Path, tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None = None,
                      *, data: bytes | None = None, pad_to: int | None = None) -> Path:
    """Write a valid safetensors file; with ``pad_to``, a U8 tensor named ``padding`` makes it exactly that size."""
    tensors = dict(tensors)
    if pad_to is not None:
        if data is not None:
            raise ValueError("pad_to and data do not mix")
        extra = 0
        for _ in range(5):  # the padding tensor's numbers change the header's length: iterate to a fixed point
            head, size = header_bytes({**tensors, PADDING_TENSOR: ("U8", (extra,))}, metadata)
            missing = pad_to - (len(head) + size)
            if missing == 0:
                break
            extra += missing
            if extra < 0:
                raise ValueError(f"pad_to={pad_to} is smaller than the file without padding")
        else:
            raise ValueError(f"cannot pad to exactly {pad_to} bytes")
        tensors[PADDING_TENSOR] = ("U8", (extra,))
    head, size = header_bytes(tensors, metadata)
    return write_raw(path, head, size, data)


# --------------------------------------------------------------------------- metadata helpers


def kohya_metadata(base_version: str = "sd_v1", *, module: str = "networks.lora", dim: int = 8, alpha: int = 4,
                   folder: str = "10_mychar", tags: Mapping[str, int] | None = None, images: int = 20,
                   sd_model_name: str = "v1-5-pruned-emaonly.safetensors", **extra: str) -> dict[str, str]:
    """``ss_*`` metadata as kohya-ss sd-scripts writes it (all values strings; JSON where kohya nests)."""
    tags = dict(tags) if tags is not None else {"mychar": images, "1girl": images - 2, "solo": images // 2}
    meta = {
        "ss_base_model_version": base_version,
        "ss_network_module": module,
        "ss_network_dim": str(dim),
        "ss_network_alpha": str(alpha),
        "ss_output_name": "mychar",
        "ss_sd_model_name": sd_model_name,
        "ss_resolution": "(512, 512)",
        "ss_num_train_images": str(images * 10),
        "ss_epoch": "10",
        "ss_steps": "2000",
        "ss_learning_rate": "0.0001",
        "ss_tag_frequency": json.dumps({folder: tags}),
        "ss_dataset_dirs": json.dumps({folder: {"n_repeats": 10, "img_count": images}}),
    }
    if base_version.startswith("sd_v2"):
        meta["ss_v2"] = "True"
    meta.update(extra)
    return meta


def modelspec_metadata(architecture: str, *, title: str = "My model", trigger_phrase: str | None = None,
                       thumbnail: bool = True, **extra: str) -> dict[str, str]:
    """``modelspec.*`` metadata (SAI ModelSpec 1.0.1), with a data-URL thumbnail like kohya embeds."""
    meta = {
        "modelspec.sai_model_spec": "1.0.1",
        "modelspec.architecture": architecture,
        "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
        "modelspec.title": title,
        "modelspec.resolution": "1024x1024",
        "modelspec.author": "someone",
    }
    if trigger_phrase is not None:
        meta["modelspec.trigger_phrase"] = trigger_phrase
    if thumbnail:
        meta["modelspec.thumbnail"] = "data:image/png;base64," + "iVBORw0KGgo" * 400
    meta.update(extra)
    return meta


# --------------------------------------------------------------------------- presets


def _lora_pair(prefix: str, rank: int, in_features: int, out_features: int, *, conv: tuple[int, int] | None = None,
               style: str = "kohya", dtype: str = "F16") -> dict[str, TensorSpec]:
    kernel = tuple(conv) if conv else ()
    up_kernel = (1, 1) if conv else ()
    if style == "peft":
        return {f"{prefix}.lora_A.weight": (dtype, (rank, in_features, *kernel)),
                f"{prefix}.lora_B.weight": (dtype, (out_features, rank, *up_kernel))}
    return {f"{prefix}.lora_down.weight": (dtype, (rank, in_features, *kernel)),
            f"{prefix}.lora_up.weight": (dtype, (out_features, rank, *up_kernel)),
            f"{prefix}.alpha": (dtype, ())}


def _write(path: str | Path, tensors: Mapping[str, TensorSpec], metadata: Mapping[str, str] | None,
           pad_to: int | None) -> Path:
    return write_safetensors(path, tensors, metadata, pad_to=pad_to)


def lora_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
             rank: int = 8) -> Path:
    """kohya LoRA for SD 1.x: cross-attention to_k reads the 768-wide CLIP-L context."""
    block = "lora_unet_down_blocks_0_attentions_0"
    return _write(path, {
        **_lora_pair(f"{block}_transformer_blocks_0_attn2_to_k", rank, 768, 320),
        **_lora_pair(f"{block}_transformer_blocks_0_attn1_to_q", rank, 320, 320),
        **_lora_pair(f"{block}_proj_in", rank, 320, 320, conv=(1, 1)),
        **_lora_pair("lora_te_text_model_encoder_layers_0_self_attn_q_proj", rank, 768, 768),
    }, metadata, pad_to)


def lora_sd2(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
             rank: int = 8) -> Path:
    """kohya LoRA for SD 2.x: 1024-wide OpenCLIP-H context."""
    block = "lora_unet_down_blocks_0_attentions_0"
    return _write(path, {
        **_lora_pair(f"{block}_transformer_blocks_0_attn2_to_k", rank, 1024, 320),
        **_lora_pair(f"{block}_proj_in", rank, 320, 320),
        **_lora_pair("lora_te_text_model_encoder_layers_0_self_attn_q_proj", rank, 1024, 1024),
    }, metadata, pad_to)


def locon_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    """kohya LoCon (conv LoRA): a 3×3 ``lora_down`` on a ResNet conv besides the attention LoRA."""
    tensors = {**_lora_pair("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", 8, 768, 320),
               **_lora_pair("lora_unet_down_blocks_0_resnets_0_conv1", 8, 320, 320, conv=(3, 3))}
    return _write(path, tensors, metadata, pad_to)


def lora_sdxl(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
              rank: int = 8) -> Path:
    """kohya LoRA for SDXL: 2048-wide context, two text encoders (``lora_te1_`` CLIP-L, ``lora_te2_`` CLIP-G)."""
    block = "lora_unet_input_blocks_4_1_transformer_blocks_0"
    return _write(path, {
        **_lora_pair(f"{block}_attn2_to_k", rank, 2048, 640),
        **_lora_pair(f"{block}_attn1_to_q", rank, 640, 640),
        **_lora_pair("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", rank, 768, 768),
        **_lora_pair("lora_te2_text_model_encoder_layers_0_self_attn_q_proj", rank, 1280, 1280),
    }, metadata, pad_to)


def dora_sdxl(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    """LyCORIS/kohya DoRA: a LoRA plus a ``dora_scale`` (weight-decomposition magnitude) per module."""
    prefix = "lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k"
    return _write(path, {**_lora_pair(prefix, 8, 2048, 640), f"{prefix}.dora_scale": ("F16", (640, 1))},
                  metadata, pad_to)


def lora_flux(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
              style: str = "kohya") -> Path:
    """Flux.1 LoRA: kohya ``lora_unet_double_blocks_*`` keys, or ``style="peft"`` (ai-toolkit/diffusers keys)."""
    if style == "peft":
        tensors = {
            **_lora_pair("transformer.transformer_blocks.0.attn.to_k", 16, 3072, 3072, style="peft", dtype="BF16"),
            **_lora_pair("transformer.single_transformer_blocks.0.attn.to_k", 16, 3072, 3072, style="peft",
                         dtype="BF16"),
        }
    else:
        tensors = {**_lora_pair("lora_unet_double_blocks_0_img_attn_qkv", 16, 3072, 9216, dtype="BF16"),
                   **_lora_pair("lora_unet_single_blocks_0_linear1", 16, 3072, 21504, dtype="BF16")}
    return _write(path, tensors, metadata, pad_to)


def lora_sd3(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    """kohya SD3 LoRA: MMDiT ``joint_blocks`` keys."""
    return _write(path, _lora_pair("lora_unet_joint_blocks_0_x_block_attn_qkv", 8, 1536, 4608), metadata, pad_to)


def loha_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    """LyCORIS LoHa (Hadamard product of two low-rank pairs) for SD 1.x."""
    prefix = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k"
    return _write(path, {
        f"{prefix}.hada_w1_a": ("F16", (320, 8)), f"{prefix}.hada_w1_b": ("F16", (8, 768)),
        f"{prefix}.hada_w2_a": ("F16", (320, 8)), f"{prefix}.hada_w2_b": ("F16", (8, 768)),
        f"{prefix}.alpha": ("F16", ()),
    }, metadata, pad_to)


def ti_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
           vectors: int = 4) -> Path:
    """A1111 textual inversion for SD 1.x: ``emb_params`` of (vectors, 768)."""
    return _write(path, {"emb_params": ("F32", (vectors, 768))}, metadata, pad_to)


def ti_sd2(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
           vectors: int = 4) -> Path:
    return _write(path, {"emb_params": ("F32", (vectors, 1024))}, metadata, pad_to)


def ti_sdxl(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
            vectors: int = 4) -> Path:
    """SDXL embedding: ``clip_l`` (vectors, 768) and ``clip_g`` (vectors, 1280)."""
    return _write(path, {"clip_g": ("F32", (vectors, 1280)), "clip_l": ("F32", (vectors, 768))}, metadata, pad_to)


def vae_sd(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
           latent_channels: int = 4) -> Path:
    """A standalone VAE (LDM keys): 4 latent channels for SD 1/2/XL, 16 for SD3/Flux (``vae_flux``)."""
    tensors: dict[str, TensorSpec] = {
        "encoder.conv_in.weight": ("F16", (128, 3, 3, 3)),
        "encoder.conv_out.weight": ("F16", (2 * latent_channels, 512, 3, 3)),
        "decoder.conv_in.weight": ("F16", (512, latent_channels, 3, 3)),
        "decoder.conv_out.weight": ("F16", (3, 128, 3, 3)),
    }
    if latent_channels == 4:
        tensors["quant_conv.weight"] = ("F16", (8, 8, 1, 1))
        tensors["post_quant_conv.weight"] = ("F16", (4, 4, 1, 1))
    return _write(path, tensors, metadata, pad_to)


def vae_flux(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    return vae_sd(path, metadata=metadata, pad_to=pad_to, latent_channels=16)


def controlnet_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    """An SD 1.5 ControlNet (LDM keys, ``control_model.`` prefix stripped): hint block, zero convs, UNet encoder."""
    return _write(path, {
        "input_hint_block.0.weight": ("F16", (16, 3, 3, 3)),
        "zero_convs.0.0.weight": ("F16", (320, 320, 1, 1)),
        "time_embed.0.weight": ("F16", (1280, 320)),
        "input_blocks.0.0.weight": ("F16", (320, 4, 3, 3)),
        "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": ("F16", (320, 768)),
    }, metadata, pad_to)


def controlnet_sdxl(path: str | Path, *, metadata: Mapping[str, str] | None = None,
                    pad_to: int | None = None) -> Path:
    """An SDXL ControlNet in diffusers layout (``controlnet_cond_embedding``)."""
    return _write(path, {
        "controlnet_cond_embedding.conv_in.weight": ("F16", (16, 3, 3, 3)),
        "controlnet_down_blocks.0.weight": ("F16", (320, 320, 1, 1)),
        "down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight": ("F16", (640, 2048)),
    }, metadata, pad_to)


def _sd_vae_part() -> dict[str, TensorSpec]:
    return {"first_stage_model.decoder.conv_in.weight": ("F16", (512, 4, 3, 3)),
            "first_stage_model.encoder.conv_in.weight": ("F16", (128, 3, 3, 3))}


def checkpoint_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
                   in_channels: int = 4) -> Path:
    """SD 1.x full checkpoint (LDM keys); ``in_channels`` 9 = inpainting, 8 = instruct-pix2pix."""
    return _write(path, {
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", (320, in_channels, 3, 3)),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": ("F16", (320, 768)),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": ("F16", (49408, 768)),
        "cond_stage_model.transformer.text_model.final_layer_norm.weight": ("F16", (768,)),
        **_sd_vae_part(),
    }, metadata, pad_to)


def checkpoint_sd2(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None) -> Path:
    """SD 2.x: OpenCLIP-H text encoder (``cond_stage_model.model.*``, width 1024)."""
    return _write(path, {
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", (320, 4, 3, 3)),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": ("F16", (320, 1024)),
        "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight": ("F16", (3072, 1024)),
        "cond_stage_model.model.ln_final.weight": ("F16", (1024,)),
        **_sd_vae_part(),
    }, metadata, pad_to)


def checkpoint_sdxl(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
                    in_channels: int = 4) -> Path:
    """SDXL base: CLIP-L (``conditioner.embedders.0``) + OpenCLIP-G (``conditioner.embedders.1``), 2048 context."""
    return _write(path, {
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": ("F16", (49408, 768)),
        "conditioner.embedders.1.model.ln_final.weight": ("F16", (1280,)),
        "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight": ("F16", (3840, 1280)),
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", (320, in_channels, 3, 3)),
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": ("F16", (640, 2048)),
        "model.diffusion_model.label_emb.0.0.weight": ("F16", (1280, 2816)),
        **_sd_vae_part(),
    }, metadata, pad_to)


def checkpoint_sdxl_refiner(path: str | Path, *, metadata: Mapping[str, str] | None = None,
                            pad_to: int | None = None) -> Path:
    """SDXL refiner: only OpenCLIP-G (``conditioner.embedders.0.model``), 1280 context."""
    return _write(path, {
        "conditioner.embedders.0.model.ln_final.weight": ("F16", (1280,)),
        "model.diffusion_model.input_blocks.0.0.weight": ("F16", (384, 4, 3, 3)),
        "model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": ("F16", (768, 1280)),
        **_sd_vae_part(),
    }, metadata, pad_to)


def checkpoint_sd3(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
                   depth: int = 24) -> Path:
    """SD3 (MMDiT): ``joint_blocks``; width = 64 × depth (24 = SD3 Medium, 38 = SD3.5 Large)."""
    width = 64 * depth
    return _write(path, {
        "model.diffusion_model.x_embedder.proj.weight": ("F16", (width, 16, 2, 2)),
        "model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight": ("F16", (3 * width, width)),
        "model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": ("F16", (3 * width, width)),
        "first_stage_model.decoder.conv_in.weight": ("F16", (512, 16, 3, 3)),
    }, metadata, pad_to)


def checkpoint_flux(path: str | Path, *, metadata: Mapping[str, str] | None = None, pad_to: int | None = None,
                    schnell: bool = False, prefix: str = "") -> Path:
    """Flux.1 transformer (BFL keys, e.g. flux1-dev.safetensors): dev has ``guidance_in``, schnell does not."""
    tensors: dict[str, TensorSpec] = {
        f"{prefix}img_in.weight": ("BF16", (3072, 64)),
        f"{prefix}double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", (128,)),
        f"{prefix}double_blocks.0.img_attn.qkv.weight": ("BF16", (9216, 3072)),
        f"{prefix}single_blocks.0.linear1.weight": ("BF16", (21504, 3072)),
    }
    if not schnell:
        tensors[f"{prefix}guidance_in.in_layer.weight"] = ("BF16", (3072, 256))
    return _write(path, tensors, metadata, pad_to)


def checkpoint_flux2(path: str | Path, *, metadata: Mapping[str, str] | None = None,
                     pad_to: int | None = None) -> Path:
    """Flux.2 transformer: shared ``double_stream_modulation_img`` instead of per-block modulation."""
    return _write(path, {
        "img_in.weight": ("BF16", (6144, 128)),
        "double_stream_modulation_img.lin.weight": ("BF16", (36864, 6144)),
        "double_blocks.0.img_attn.norm.key_norm.scale": ("BF16", (128,)),
        "guidance_in.in_layer.weight": ("BF16", (6144, 256)),
    }, metadata, pad_to)


def upscaler_esrgan(path: str | Path, *, metadata: Mapping[str, str] | None = None,
                    pad_to: int | None = None) -> Path:
    """An ESRGAN/RRDB upscaler (BasicSR keys)."""
    return _write(path, {
        "conv_first.weight": ("F32", (64, 3, 3, 3)),
        "body.0.rdb1.conv1.weight": ("F32", (32, 64, 3, 3)),
        "conv_body.weight": ("F32", (64, 64, 3, 3)),
        "conv_last.weight": ("F32", (3, 64, 3, 3)),
    }, metadata, pad_to)


def motion_module_sd1(path: str | Path, *, metadata: Mapping[str, str] | None = None,
                      pad_to: int | None = None) -> Path:
    """AnimateDiff motion module for SD 1.5: temporal transformers in the four down blocks, mid and up."""
    tensors: dict[str, TensorSpec] = {}
    for i, channels in enumerate((320, 640, 1280, 1280)):
        base = f"down_blocks.{i}.motion_modules.0.temporal_transformer"
        tensors[f"{base}.norm.weight"] = ("F16", (channels,))
        tensors[f"{base}.transformer_blocks.0.attention_blocks.0.pos_encoder.pe"] = ("F16", (1, 32, channels))
    tensors["mid_block.motion_modules.0.temporal_transformer.norm.weight"] = ("F16", (1280,))
    tensors["up_blocks.0.motion_modules.0.temporal_transformer.norm.weight"] = ("F16", (1280,))
    return _write(path, tensors, metadata, pad_to)


#: Every preset by name (for parametrized tests).
PRESETS = {
    "lora_sd1": lora_sd1, "lora_sd2": lora_sd2, "locon_sd1": locon_sd1, "lora_sdxl": lora_sdxl,
    "dora_sdxl": dora_sdxl, "lora_flux": lora_flux, "lora_sd3": lora_sd3, "loha_sd1": loha_sd1,
    "ti_sd1": ti_sd1, "ti_sd2": ti_sd2, "ti_sdxl": ti_sdxl, "vae_sd": vae_sd, "vae_flux": vae_flux,
    "controlnet_sd1": controlnet_sd1, "controlnet_sdxl": controlnet_sdxl, "checkpoint_sd1": checkpoint_sd1,
    "checkpoint_sd2": checkpoint_sd2, "checkpoint_sdxl": checkpoint_sdxl,
    "checkpoint_sdxl_refiner": checkpoint_sdxl_refiner, "checkpoint_sd3": checkpoint_sd3,
    "checkpoint_flux": checkpoint_flux, "checkpoint_flux2": checkpoint_flux2, "upscaler_esrgan": upscaler_esrgan,
    "motion_module_sd1": motion_module_sd1,
}
