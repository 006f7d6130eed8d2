"""The codec interface every later stage uses: ``load_codec(spec) -> AudioCodec``.

``spec`` is a checkpoint of ``audiolm train codec`` (a Lightning ``.ckpt``; loaded with
``weights_only=True``) or ``mimi:PATH`` for a local Hugging Face ``kyutai/mimi``-format directory.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class AudioCodec(nn.Module):
    """wav [B, 1, S] at ``sample_rate`` <-> codes [B, n_codebooks, ceil(S / hop)] in [0, codebook_size)."""

    sample_rate: int
    frame_rate: float
    n_codebooks: int
    codebook_size: int
    spec: str

    @property
    def hop(self) -> int:
        return int(round(self.sample_rate / self.frame_rate))

    @property
    def device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    @property
    def bitrate(self) -> float:
        return self.frame_rate * self.n_codebooks * math.log2(self.codebook_size)

    def info(self) -> dict:
        """What ``OUT/codec.json`` of token shards records."""
        return {"spec": self.spec, "sample_rate": self.sample_rate, "frame_rate": self.frame_rate,
                "n_codebooks": self.n_codebooks, "codebook_size": self.codebook_size}

    def n_frames(self, n_samples: int) -> int:
        return max(1, math.ceil(n_samples / self.hop))

    def _pad(self, wav: torch.Tensor) -> torch.Tensor:
        target = self.n_frames(wav.shape[-1]) * self.hop
        return F.pad(wav, (0, target - wav.shape[-1])) if target != wav.shape[-1] else wav

    def encode(self, wav: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, codes: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    @torch.no_grad()
    def encode_long(self, wav: torch.Tensor, chunk_seconds: float = 30.0, context_seconds: float | None = None) -> torch.Tensor:
        """Encode long audio in hop-aligned chunks, each re-encoded with ``context_seconds`` of left
        context (default: the encoder's receptive field, which makes it exact for a causal codec).
        Memory stays bounded by the chunk size."""
        n = wav.shape[-1]
        chunk = max(1, int(chunk_seconds * self.frame_rate)) * self.hop
        if n <= chunk:
            return self.encode(wav)
        if context_seconds is None:
            context = getattr(self, "receptive_field", 10 * self.sample_rate)
        else:
            context = int(context_seconds * self.sample_rate)
        context = math.ceil(context / self.hop) * self.hop
        out = []
        for start in range(0, n, chunk):
            lo = max(0, start - context)
            codes = self.encode(wav[..., lo : min(n, start + chunk)])
            out.append(codes[..., (start - lo) // self.hop :])
        return torch.cat(out, -1)


class TrainedCodec(AudioCodec):
    """An ``audiolm train codec`` checkpoint behind the AudioCodec interface."""

    def __init__(self, model, spec: str):
        super().__init__()
        self.model = model.eval()
        self.spec = spec
        self.sample_rate = model.sample_rate
        self.frame_rate = model.frame_rate
        self.n_codebooks = model.n_codebooks
        self.codebook_size = model.codebook_size
        self.receptive_field = model.receptive_field

    @property
    def hop(self) -> int:
        return self.model.hop

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        codes = self.model.encode(wav.to(self.device, torch.float32))
        return codes[..., : self.n_frames(wav.shape[-1])]

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes.to(self.device).long())


class MimiCodec(AudioCodec):
    """Pretrained Mimi (``transformers.MimiModel``) from a local directory, first ``n_codebooks`` levels."""

    def __init__(self, path: str | Path, n_codebooks: int = 8):
        super().__init__()
        from transformers import MimiModel

        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"mimi:{path}: not a local directory holding a kyutai/mimi-format model")
        self.model = MimiModel.from_pretrained(path).eval()
        c = self.model.config
        self.spec = f"mimi:{path}"
        self.sample_rate = int(c.sampling_rate)
        self.frame_rate = float(c.frame_rate)
        self.n_codebooks = min(int(n_codebooks), int(c.num_quantizers))
        self.codebook_size = int(c.codebook_size)
        self.receptive_field = 10 * self.sample_rate  # transformer context 250 frames; 10 s keeps chunks close

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        n = wav.shape[-1]
        x = self._pad(wav.to(self.device, torch.float32))
        codes = self.model.encode(x, num_quantizers=self.n_codebooks).audio_codes
        return codes[..., : self.n_frames(n)].long()

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.model.decode(codes.to(self.device).long()).audio_values


def length_batches(sizes: list[int], batch_size: int = 16, max_samples: float = float("inf")) -> list[list[int]]:
    """Indices of ``sizes`` in batches of similar length (shortest first): at most ``batch_size``
    clips and ``max_samples`` padded samples per batch (a longer clip goes alone)."""
    order = sorted(range(len(sizes)), key=lambda k: sizes[k])
    out, i = [], 0
    while i < len(order):
        j = i + 1
        while j < len(order) and j - i < batch_size and (j - i + 1) * sizes[order[j]] <= max_samples:
            j += 1
        out.append(order[i:j])
        i = j
    return out


@torch.no_grad()
def encode_padded(codec: "AudioCodec", audios: list) -> list:
    """Codes ``[n_q, T_i]`` (numpy) of each mono clip in one codec call: zero-padded on the right
    to the longest, each clip's frames cut back to its own length (exact for a causal codec)."""
    import numpy as np

    wav = torch.zeros(len(audios), 1, max(max(a.size for a in audios), 1))
    for b, a in enumerate(audios):
        wav[b, 0, : a.size] = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    out = codec.encode(wav.to(module_device(codec))).cpu().numpy()
    return [out[b, :, : codec.n_frames(a.size)] for b, a in enumerate(audios)]


def module_device(m, default: str | torch.device = "cpu") -> torch.device:
    """The device of a module's first parameter (``default`` for a module without any)."""
    try:
        return next(m.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device(default)


def load_codec(spec: str | Path, device: str | torch.device = "cpu") -> AudioCodec:
    """``mimi:PATH`` -> :class:`MimiCodec`; a checkpoint path -> :class:`TrainedCodec`."""
    spec = str(spec)
    if spec.startswith("mimi:"):
        return MimiCodec(spec[len("mimi:"):]).to(device)
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"codec spec {spec!r}: no such checkpoint (or use mimi:PATH)")
    from ..config import config_from_dict
    from .config import CodecTrainConfig
    from .model import build_codec

    ck = torch.load(path, map_location="cpu", weights_only=True)
    cfg = config_from_dict(CodecTrainConfig, ck["hyper_parameters"]["config"])
    model = build_codec(cfg.model)
    state = {k[len("model."):]: v for k, v in ck["state_dict"].items() if k.startswith("model.")}
    model.load_state_dict(state)
    return TrainedCodec(model, str(path)).to(device)
