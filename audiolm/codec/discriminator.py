"""Multi-scale STFT discriminator (EnCodec): one 2-D conv net over the complex STFT per resolution."""

from __future__ import annotations

import torch
from torch import nn


class STFTDiscriminator(nn.Module):
    def __init__(self, n_fft: int, filters: int = 32, max_filters: int = 256, n_layers: int = 3):
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        convs = [nn.Sequential(nn.Conv2d(2, filters, (3, 9), padding=(1, 4)), act())]
        ch = filters
        for i in range(n_layers):
            out = min(filters * 2 ** (i + 1), max_filters)
            convs.append(nn.Sequential(nn.Conv2d(ch, out, (3, 9), stride=(1, 2), dilation=(2 ** i, 1),
                                                 padding=(2 ** i, 4)), act()))
            ch = out
        convs.append(nn.Sequential(nn.Conv2d(ch, ch, (3, 3), padding=(1, 1)), act()))
        self.convs = nn.ModuleList(convs)
        self.out = nn.Conv2d(ch, 1, (3, 3), padding=(1, 1))

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(wav.squeeze(1).float(), self.n_fft, self.hop, window=self.window, return_complex=True)
        x = torch.stack([spec.real, spec.imag], 1).transpose(2, 3)  # [B, 2, frames, freq]
        feats = []
        for conv in self.convs:
            x = conv(x)
            feats.append(x)
        return self.out(x), feats


class MultiScaleSTFTDiscriminator(nn.Module):
    def __init__(self, n_ffts=(2048, 1024, 512, 256, 128), filters: int = 32, max_filters: int = 256, n_layers: int = 3):
        super().__init__()
        self.discs = nn.ModuleList(STFTDiscriminator(n, filters, max_filters, n_layers) for n in n_ffts)

    def forward(self, wav: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        logits, feats = [], []
        for d in self.discs:
            lo, fe = d(wav)
            logits.append(lo)
            feats.append(fe)
        return logits, feats
