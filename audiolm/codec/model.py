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
    audio: torch.Tensor | None  # [B, C, S] reconstruction (waveform decoders)
    q: QuantizedResult
    latent: torch.Tensor  # [B, D, T] pre-quantization
    log_mag: torch.Tensor | None = None  # [B, F, frames] predicted STFT log-magnitudes (spectral decoder)


class SplitRVQCodec(nn.Module):
    def __init__(self, cfg: CodecModelConfig):
        super().__init__()
        self.cfg = cfg
        s = cfg.seanet
        kw = dict(channels=cfg.channels, dimension=s.dimension, n_filters=s.n_filters, ratios=tuple(s.ratios),
                  n_residual_layers=s.n_residual_layers, kernel_size=s.kernel_size,
                  last_kernel_size=s.last_kernel_size, residual_kernel_size=s.residual_kernel_size,
                  dilation_base=s.dilation_base, compress=s.compress, activation=s.activation,
                  max_filters=s.max_filters, patch_size=s.patch_size)
        self.encoder = SEANetEncoder(**kw)
        self.decoder = SEANetDecoder(**kw)
        d = s.dimension
        self._build_bottleneck(cfg, d)
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


# --- spectral variant -----------------------------------------------------------------------


    def _build_bottleneck(self, cfg: CodecModelConfig, d: int) -> None:
        """Transformers, 2x down/upsampling and the split RVQ at latent width ``d`` (both codec kinds)."""
        t, qc = cfg.transformer, cfg.quantizer
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
                                         qc.split_mode, qc.ema_decay, qc.dead_threshold, qc.quantizer_dropout,
                                         qc.lookup, qc.quantize_prob)


class _ResBlock(nn.Module):
    def __init__(self, dim: int, kernel: int = 3, dilation: int = 1):
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), CausalConv1d(dim, dim, kernel, dilation=dilation), nn.ELU(),
                                   CausalConv1d(dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class SpectralRVQCodec(SplitRVQCodec):
    """Same split RVQ, transformer and interface, but spectral ends (``model.kind: spectral``).

    Encoder: causal STFT (each frame's window ends at its hop) -> log-mel -> causal convs, strided
    down to the transformer rate. Decoder: the mirror image, up to the STFT rate, predicting
    log-magnitudes; training compares them with the input's (no waveform needed, so it learns fast
    on a CPU); ``decode`` turns them into audio with fast Griffin-Lim (momentum 0.99).
    """

    def __init__(self, cfg: CodecModelConfig):
        nn.Module.__init__(self)
        self.cfg = cfg
        sp = cfg.spectral
        d, c = cfg.seanet.dimension, sp.channels
        stft_per_frame = math.prod(cfg.seanet.ratios)  # STFT frames per transformer frame
        self.stft_hop, self.n_fft = sp.hop, sp.n_fft
        self.hop = sp.hop * stft_per_frame * max(cfg.downsample, 1)
        from .audio import mel_filterbank

        self.register_buffer("window", torch.hann_window(sp.n_fft), persistent=False)
        self.register_buffer("fb", mel_filterbank(cfg.sample_rate, sp.n_fft, sp.n_mels), persistent=False)
        enc: list[nn.Module] = [CausalConv1d(sp.n_mels, c, 3)]
        for r in reversed(list(cfg.seanet.ratios)):
            enc += [_ResBlock(c, 3, 2 ** j) for j in range(sp.n_blocks)]
            enc += [nn.ELU(), CausalConv1d(c, c, 2 * r, stride=r)]
        enc += [nn.ELU(), CausalConv1d(c, d, 3)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [CausalConv1d(d, c, 3)]
        for r in cfg.seanet.ratios:
            dec += [nn.ELU(), CausalConvTranspose1d(c, c, 2 * r, stride=r)]
            dec += [_ResBlock(c, 3, 2 ** j) for j in range(sp.n_blocks)]
        dec += [nn.ELU(), CausalConv1d(c, sp.n_fft // 2 + 1, 1)]
        self.decoder = nn.Sequential(*dec)
        self._build_bottleneck(cfg, d)
        parts = [p for p in (self.encoder, self.encoder_transformer, self.downsample) if p is not None]
        self.receptive_field = receptive_field(nn.ModuleList(parts), self.hop) * sp.hop + sp.n_fft

    def log_magnitude(self, wav: torch.Tensor) -> torch.Tensor:
        """Causal STFT log-magnitude [B, n_fft/2+1, S_pad / stft_hop] of wav [B, 1, S] (padded to whole frames)."""
        x = self._pad(wav)[:, 0].float()
        x = F.pad(x, (self.n_fft - self.stft_hop, 0))
        spec = torch.stft(x, self.n_fft, self.stft_hop, window=self.window, center=False, return_complex=True)
        return torch.log(spec.abs() + 1e-5)

    def log_mel_of(self, log_mag: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.matmul(self.fb, log_mag.clamp(-12.0, 8.0).exp()) + 1e-5)

    def encode_latent(self, wav: torch.Tensor) -> torch.Tensor:
        z = self.encoder(self.log_mel_of(self.log_magnitude(wav)))
        if self.encoder_transformer is not None:
            z = self.encoder_transformer(z)
        if self.downsample is not None:
            z = self.downsample(z)
        return z

    def forward(self, wav: torch.Tensor, n_q: int | None = None) -> CodecOutput:
        z = self.encode_latent(wav)
        q = self.quantizer(z, n_q=n_q)
        return CodecOutput(None, q, z, log_mag=self.decode_latent(q.quantized))

    def griffin_lim(self, log_mag: torch.Tensor, n_iter: int | None = None, momentum: float = 0.99) -> torch.Tensor:
        """[B, F, frames] log-magnitudes (causal framing) -> wav [B, 1, frames * stft_hop]."""
        n_iter = self.cfg.spectral.griffin_lim_iters if n_iter is None else n_iter
        mag = log_mag.float().clamp(-12.0, 8.0).exp()
        frames = mag.shape[-1]
        length = frames * self.stft_hop
        g = torch.Generator(device="cpu").manual_seed(0)
        angles = torch.exp(2j * math.pi * torch.rand(mag.shape, generator=g)).to(mag.device)
        prev = torch.zeros_like(angles)
        kw = dict(n_fft=self.n_fft, hop_length=self.stft_hop, window=self.window, center=True)
        for _ in range(n_iter):
            y = torch.istft(mag * angles, length=length, **kw)
            rebuilt = torch.stft(y, return_complex=True, **kw)[..., :frames]
            angles = rebuilt - (momentum / (1 + momentum)) * prev
            prev = rebuilt
            angles = angles / angles.abs().clamp_min(1e-8)
        y = torch.istft(mag * angles, length=length, **kw)
        # causal frame i is centred at (i + 1) * hop - n_fft / 2, centred-STFT frame i at i * hop
        shift = self.n_fft // 2 - self.stft_hop
        if shift > 0:
            y = F.pad(y[..., shift:], (0, shift))
        return y[:, None]

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return self.griffin_lim(self.decode_latent(self.quantizer.decode(codes.long())))


def build_codec(cfg: CodecModelConfig) -> SplitRVQCodec:
    if cfg.kind == "seanet":
        return SplitRVQCodec(cfg)
    if cfg.kind == "spectral":
        return SpectralRVQCodec(cfg)
    raise ValueError(f"model.kind must be seanet or spectral, got {cfg.kind!r}")
