"""Load a trained LM from an ``LMModule`` checkpoint: model, tokenizer, layout and codec in one call.

``load_lm(path, device="cpu") -> LoadedLM(model, tokenizer, layout, codec_spec, config)``.
The checkpoint is read with ``torch.load(weights_only=True)``; everything needed beyond the
weights (run config, model config, the unified ``tokenizer.json``, the codec's ``codec.json``)
travels inside it under ``checkpoint["audiolm"]`` (see :mod:`audiolm.lm.module`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from audiolm.config import config_from_dict
from audiolm.lm.config import ModelConfig
from audiolm.lm.model import AudioLM
from audiolm.lm.loaded import LoadedLM, layout_of  # noqa: F401  (LoadedLM: re-exported, its former home)
from audiolm.lm.module import CHECKPOINT_FORMAT, CheckpointMismatchError
from audiolm.lm.train_config import LMTrainConfig
from audiolm.token_shards import CodecInfo


def read_checkpoint(path: str | Path) -> dict:
    """``torch.load(weights_only=True)`` with clear messages for missing or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointMismatchError(f"{path}: cannot be read as a checkpoint with weights_only=True ({e})") from None
    if not isinstance(ckpt, dict) or "audiolm" not in ckpt or "state_dict" not in ckpt:
        raise CheckpointMismatchError(f"{path}: not an audiolm LM checkpoint (no 'audiolm' entry): write it with `audiolm train lm`")
    fmt = ckpt["audiolm"].get("format")
    if fmt != CHECKPOINT_FORMAT:
        raise CheckpointMismatchError(f"{path}: checkpoint format {fmt!r}, this audiolm reads format {CHECKPOINT_FORMAT}")
    return ckpt


def model_state(ckpt: dict) -> dict[str, torch.Tensor]:
    """The AudioLM weights of an LMModule state dict (prefix ``model.`` removed)."""
    return {k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}


def load_tokenizer_from_json(text: str):
    from tokenizers import Tokenizer

    from audiolm.tokens.tokenizer import UnifiedTokenizer

    return UnifiedTokenizer.from_file(Tokenizer.from_str(text))


def load_lm(path: str | Path, device: str | torch.device = "cpu", **hf_options) -> LoadedLM:
    """Rebuild the trained model (fp32, eval mode) and everything needed to prompt and decode it.

    ``path`` is a ``.ckpt`` of ``audiolm train lm`` or ``hf:FOLDER``, a local Hugging Face Qwen3
    folder (``audiolm export hf`` output or SODA's releases; ``hf_options``: ``codec``, ``layout``,
    ``codebooks`` for a folder without ``audiolm.json``; see :mod:`audiolm.lm.hf_folder`).
    """
    from audiolm.lm.hf_folder import is_hf_spec, load_hf_lm

    if is_hf_spec(str(path)):
        return load_hf_lm(path, device=device, **hf_options)
    ckpt = read_checkpoint(path)
    meta = ckpt["audiolm"]
    config = config_from_dict(LMTrainConfig, meta["config"])
    model_cfg = config_from_dict(ModelConfig, meta["model_config"])
    model = AudioLM(model_cfg)
    state = model_state(ckpt)
    expected = model.state_dict()
    bad = [f"{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}" for k, v in state.items()
           if k in expected and v.shape != expected[k].shape]
    missing = sorted(set(expected) - set(state))
    if bad or missing:
        raise CheckpointMismatchError(
            f"{path}: weights do not fit the model config stored with them "
            f"(shape mismatches: {bad[:5]}, missing: {missing[:5]})"
        )
    model.load_state_dict(state, strict=False)
    model.eval().to(device)

    tokenizer = layout = None
    if meta.get("tokenizer_json"):
        tokenizer = load_tokenizer_from_json(meta["tokenizer_json"])
        layout = layout_of(config, tokenizer)
    codec = CodecInfo.from_stored(meta.get("codec") or None, f"{path}: codec")
    return LoadedLM(
        model=model, tokenizer=tokenizer, layout=layout, codec_spec=codec.spec if codec else None,
        config=config, codec_info=codec, step=int(ckpt.get("global_step", 0)),
    )
