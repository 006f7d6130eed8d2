"""The trainable codec: causal SEANet -> transformer -> downsample -> split RVQ -> mirror image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import CodecModelConfig
from .modules import (CausalConv1d, CausalConvTranspose1d, CausalTransformer, SEANetDecoder, SEANetEncoder,
                      receptive_field)
from .quantization import QuantizedResult, SplitResidualVQ


@dataclass
class CodecOutput:
    audio: torch.Tensor  # [B, C, S] reconstruction
    q: QuantizedResult
    latent: torch.Tensor  # [B, D, T] pre-quantization


class SplitRVQCodec(nn.Module):
    def __init__(self, cfg: CodecModelConfig):
        super().__init__()
        self.cfg = cfg
        s, t, qc = cfg.seanet, cfg.transformer, cfg.quantizer
        kw = dict(channels=cfg.channels, dimension=s.dimension, n_filters=s.n_filters, ratios=tuple(s.ratios),
                  n_residual_layers=s.n_residual_layers, kernel_size=s.kernel_size,
                  last_kernel_size=s.last_kernel_size, residual_kernel_size=s.residual_kernel_size,
                  dilation_base=s.dilation_base, compress=s.compress, activation=s.activation,
                  max_filters=s.max_filters, patch_size=s.patch_size)
        self.encoder = SEANetEncoder(**kw)
        self.decoder = SEANetDecoder(**kw)
        d = s.dimension
        if t.n_layers:
            self.encoder_transformer = CausalTransformer(d, t.n_layers, t.n_heads, t.ffn_dim, t.context, t.layer_scale)
            self.decoder_transformer = CausalTransformer(d, t.n_layers, t.n_heads, t.ffn_dim, t.context, t.layer_scale)
        else:
            self.encoder_transformer = self.decoder_transformer = None
        if cfg.downsample > 1:
            self.downsample = CausalConv1d(d, d, 2 * cfg.downsample, stride=cfg.downsample)
            self.upsample = CausalConvTranspose1d(d, d, 2 * cfg.downsample, stride=cfg.downsample)
        else:
            self.downsample = self.upsample = None
        self.quantizer = SplitResidualVQ(d, qc.codebook_dim, qc.n_semantic, qc.n_acoustic, qc.codebook_size,
                                         qc.split_mode, qc.ema_decay, qc.dead_threshold, qc.quantizer_dropout)
        self.hop = self.encoder.hop * max(cfg.downsample, 1)
        parts = [self.encoder, self.encoder_transformer, self.downsample]
        self.receptive_field = receptive_field(nn.ModuleList([p for p in parts if p is not None]), self.hop)

    @property
    def sample_rate(self) -> int:
        return self.cfg.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.cfg.sample_rate / self.hop

    @property
    def n_codebooks(self) -> int:
        return self.quantizer.n_q

    @property
    def codebook_size(self) -> int:
        return self.quantizer.codebook_size

    def _pad(self, wav: torch.Tensor) -> torch.Tensor:
        n = wav.shape[-1]
        target = max(1, math.ceil(n / self.hop)) * self.hop
        return F.pad(wav, (0, target - n)) if target != n else wav

    def encode_latent(self, wav: torch.Tensor) -> torch.Tensor:
        z = self.encoder(self._pad(wav))
        if self.encoder_transformer is not None:
            z = self.encoder_transformer(z)
        if self.downsample is not None:
            z = self.downsample(z)
        return z

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        if self.upsample is not None:
            z = self.upsample(z)
        if self.decoder_transformer is not None:
            z = self.decoder_transformer(z)
        return self.decoder(z)

    def forward(self, wav: torch.Tensor, n_q: int | None = None) -> CodecOutput:
        z = self.encode_latent(wav)
        q = self.quantizer(z, n_q=n_q)
        audio = self.decode_latent(q.quantized)[..., : wav.shape[-1]]
        return CodecOutput(audio, q, z)

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, C, S] -> codes [B, n_q, ceil(S / hop)]."""
        return self.quantizer.encode(self.encode_latent(wav))

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, k, T] (k <= n_q: a prefix of the codebooks) -> wav [B, C, T * hop]."""
        return self.decode_latent(self.quantizer.decode(codes.long()))
