"""A trained LM as a Hugging Face folder, and Hugging Face folders (SODA's releases) as trained LMs.

``export_hf(ckpt, out)`` writes what ``transformers.AutoModelForCausalLM.from_pretrained`` and
``AutoTokenizer.from_pretrained`` open: ``config.json`` + safetensors (``Qwen3ForCausalLM``),
``generation_config.json`` whose stop ids are ``<|text_end|>``, ``<|audio_end|>`` and EOS, the
unified ``tokenizer.json``, and ``audiolm.json`` with what the weights alone do not say (codec
description, token layout, codebooks, frame rate) so the folder can be used for audio again.

``load_hf_lm(path)`` is the way back (``hf:PATH`` wherever a checkpoint is accepted): the model,
its unified tokenizer, and the layout/codebooks/codec from ``audiolm.json`` or from arguments
(``--codec``, ``--layout``, ``--codebooks``), with an error naming what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch

AUDIOLM_JSON = "audiolm.json"
HF_PREFIX = "hf:"


class HFFolderError(ValueError):
    """A folder that cannot be used as an audiolm LM; the message names the file and what is wrong."""


def is_hf_spec(spec) -> bool:
    return isinstance(spec, str) and spec.startswith(HF_PREFIX)


def export_hf(ckpt_path: str | Path, out_dir: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write the checkpoint of ``audiolm train lm`` as a Hugging Face Qwen3 folder (module doc)."""
    from audiolm.config import to_dict
    from audiolm.lm.checkpoint import load_lm
    from audiolm.lm.hf import to_hf

    lm = load_lm(ckpt_path)
    if lm.tokenizer is None:
        raise HFFolderError(f"{ckpt_path}: trained without a tokenizer; a Hugging Face folder needs one")
    out = to_hf(lm.model, out_dir, tokenizer=lm.tokenizer, dtype=dtype)
    v = lm.tokenizer.vocab
    stops = [v.text_end, v.audio_end, lm.tokenizer.eos_id]
    gen = {"bos_token_id": lm.tokenizer.bos_id, "eos_token_id": stops, "pad_token_id": lm.tokenizer.pad_id,
           "do_sample": False}
    (out / "generation_config.json").write_text(json.dumps(gen, indent=2))
    data = to_dict(lm.config).get("data", {})
    meta = {
        "format": 1,
        "codec": lm.codec_info.to_dict() if lm.codec_info else None,
        "layout": data.get("layout", "frame_major"),
        "codebooks": list(data.get("codebooks", range(v.n_codebooks))),
        "frame_rate": lm.codec_info.frame_rate if lm.codec_info else None,
        "formats": list(data.get("formats", [])),
        "trained_seq_len": data.get("seq_len"),
        "step": lm.step,
        "source_checkpoint": str(ckpt_path),
    }
    (out / AUDIOLM_JSON).write_text(json.dumps(meta, indent=2))
    return out


def read_audiolm_json(folder: Path) -> dict:
    from audiolm.jsonfiles import read_json_object

    path = folder / AUDIOLM_JSON
    return read_json_object(path) if path.is_file() else {}


def load_hf_lm(path: str | Path, device: str | torch.device = "cpu", *, codec: str | None = None,
               layout: str | None = None, codebooks: Sequence[int] | None = None):
    """A local Hugging Face Qwen3 folder as :class:`audiolm.lm.checkpoint.LoadedLM` (fp32, eval mode)."""
    from audiolm.lm.loaded import LoadedLM
    from audiolm.lm.hf import from_hf
    from audiolm.lm.train_config import LMTrainConfig
    from audiolm.tokens.layout import make_layout
    from audiolm.token_shards import CodecInfo
    from audiolm.tokens.tokenizer import UnifiedTokenizer

    folder = Path(str(path)[len(HF_PREFIX):] if is_hf_spec(str(path)) else path)
    cfg_file = folder / "config.json"
    if not cfg_file.is_file():
        raise HFFolderError(f"{folder}: no config.json (not a Hugging Face model folder)")
    try:
        hf_cfg = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as e:
        raise HFFolderError(f"{cfg_file}: unreadable ({e})") from None
    model_type = hf_cfg.get("model_type")
    if model_type != "qwen3":
        raise HFFolderError(f"{cfg_file}: model_type {model_type!r}; audiolm reads Qwen3 checkpoints (model_type 'qwen3')")
    tok_file = folder / "tokenizer.json"
    if not tok_file.is_file():
        raise HFFolderError(f"{folder}: no tokenizer.json (the unified text+audio tokenizer is needed)")
    tokenizer = UnifiedTokenizer.from_file(tok_file)
    if tokenizer.vocab.size > int(hf_cfg.get("vocab_size", 0)):
        raise HFFolderError(f"{tok_file}: {tokenizer.vocab.size} token ids, but the model in {cfg_file} has only "
                            f"vocab_size {hf_cfg.get('vocab_size')}")
    from transformers import Qwen3ForCausalLM

    from audiolm.lm.hf import _transformers_major

    dtype_kw = "dtype" if _transformers_major() >= 5 else "torch_dtype"
    hf_model = Qwen3ForCausalLM.from_pretrained(str(folder), **{dtype_kw: torch.float32})
    model = from_hf(hf_model, attention="sdpa").float().eval().to(device)
    meta = read_audiolm_json(folder)
    codec_info = CodecInfo.from_stored(meta.get("codec"), f"{folder / AUDIOLM_JSON}: codec")
    codec_spec = codec or (codec_info.spec if codec_info else None)
    layout_name = layout or meta.get("layout")
    books = list(codebooks) if codebooks is not None else meta.get("codebooks")
    missing = [what for what, val in (("--layout", layout_name), ("--codebooks", books)) if not val]
    if missing:
        raise HFFolderError(f"{folder}: no {AUDIOLM_JSON} says the token layout; pass {' and '.join(missing)} "
                            f"(e.g. --layout frame_major --codebooks 0,1,2,3,4,5,6,7 for SODA's releases)")
    config = LMTrainConfig(name=folder.name)
    config.model = model.cfg
    config.data.layout, config.data.codebooks = layout_name, list(books)
    if meta.get("trained_seq_len"):
        config.data.seq_len = int(meta["trained_seq_len"])
    lay = make_layout(layout_name, list(books), tokenizer.vocab)
    return LoadedLM(model=model, tokenizer=tokenizer, layout=lay, codec_spec=codec_spec, config=config,
                    codec_info=codec_info, step=int(meta.get("step", 0) or 0))


# -- command-line plumbing ---------------------------------------------------------------------
def add_hf_arguments(parser) -> None:
    """``--layout``/``--codebooks`` for an ``hf:DIR`` checkpoint without ``audiolm.json``."""
    parser.add_argument("--layout", default=None, help="hf:DIR without audiolm.json: the token layout "
                        "(frame_major | delay; SODA's releases: frame_major)")
    parser.add_argument("--codebooks", default=None, help="hf:DIR without audiolm.json: codebooks, e.g. 0,1,2,3,4,5,6,7")


def hf_options(args) -> dict:
    """``load_lm`` keyword arguments for ``args.checkpoint`` when it is ``hf:DIR`` (else none)."""
    if not is_hf_spec(getattr(args, "checkpoint", "")):
        return {}
    books = getattr(args, "codebooks", None)
    return {"codec": getattr(args, "codec", None), "layout": getattr(args, "layout", None),
            "codebooks": [int(b) for b in books.split(",")] if books else None}


# -- the `audiolm export hf` verb ------------------------------------------------------------
def configure_export_hf(parser) -> None:
    parser.add_argument("checkpoint", help="an LM checkpoint of `audiolm train lm` (checkpoints/last.ckpt)")
    parser.add_argument("out_dir", help="the Hugging Face folder to write (config.json, safetensors, tokenizer.json, "
                        "generation_config.json, audiolm.json)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None,
                        help="weights' dtype in the folder (default: as trained)")


def run_export_hf(args) -> int:
    dtype = getattr(torch, args.dtype) if args.dtype else None
    out = export_hf(args.checkpoint, args.out_dir, dtype=dtype)
    print(f"wrote {out}: transformers.AutoModelForCausalLM.from_pretrained({str(out)!r}); "
          f"back into audiolm as hf:{out}")
    return 0
