"""Split residual vector quantization with EMA codebooks, dead-code restarts and quantizer dropout.

``SplitResidualVQ`` = a semantic RVQ (``n_semantic`` codebooks, default 1) + an acoustic RVQ
(``n_acoustic``, default 7). ``split_mode="parallel"`` is Mimi's arrangement: both RVQs quantize
the same latent and their outputs are summed; ``"residual"`` makes the acoustic RVQ quantize what
the semantic one left (one plain 8-level RVQ whose first level is distilled). Codes are returned
semantic first: ``codes[:, 0]`` is codebook 0.

Codebooks are not trained by gradients: each keeps EMA statistics of the vectors assigned to it
(``cluster_size``, ``embed_sum``), and a code whose EMA usage falls below ``dead_threshold`` is
replaced by a random vector of the current batch. Under DDP the statistics are all-reduced and the
replacements broadcast from rank 0, so every replica keeps identical codebooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


def _ddp() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class EuclideanCodebook(nn.Module):
    def __init__(self, dim: int, size: int, decay: float = 0.99, eps: float = 1e-5, dead_threshold: float = 0.1,
                 lookup: str = "euclidean"):
        super().__init__()
        if lookup not in ("euclidean", "cosine"):
            raise ValueError(f"codebook lookup must be euclidean or cosine, got {lookup!r}")
        # cosine: nearest code by direction (DAC-style factorised codes); the code's value is still the
        # EMA mean of its vectors. Robust to the latent's scale drifting early in training.
        self.lookup = lookup
        # dead_threshold is relative: a code is dead when its EMA count falls under this fraction of
        # a uniform share of the vectors seen per step (so it means the same for any batch size).
        self.dim, self.size, self.decay, self.eps, self.dead_threshold = dim, size, decay, eps, dead_threshold
        self.register_buffer("initialized", torch.tensor(False))
        self.register_buffer("embed", torch.randn(size, dim) * 0.02)
        self.register_buffer("cluster_size", torch.zeros(size))
        self.register_buffer("embed_sum", self.embed.clone())
        self.n_restarted = 0

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, dim] -> codes [N]."""
        e = self.embed
        if self.lookup == "cosine":
            return (F.normalize(x, dim=-1) @ F.normalize(e, dim=-1).t()).argmax(-1)
        dist2 = x.pow(2).sum(-1, keepdim=True) - 2 * x @ e.t() + e.pow(2).sum(-1)[None]
        return dist2.argmin(-1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return F.embedding(codes, self.embed)

    @torch.no_grad()
    def _sample(self, x: torch.Tensor, n: int) -> torch.Tensor:
        if x.shape[0] < n:  # with replacement: jitter so no two codes are identical (exact ties)
            out = x[torch.randint(0, x.shape[0], (n,), device=x.device)]
            out = out + 1e-3 * out.std().clamp_min(1e-6) * torch.randn_like(out)
        else:
            out = x[torch.randperm(x.shape[0], device=x.device)[:n]].clone()
        if _ddp():
            dist.broadcast(out, 0)
        return out

    @torch.no_grad()
    def init_from(self, x: torch.Tensor) -> None:
        self.embed.copy_(self._sample(x, self.size))
        share = x.shape[0] / self.size  # each code starts with a uniform share of the batch
        self.embed_sum.copy_(self.embed * share)
        self.cluster_size.fill_(share)
        self.initialized.fill_(True)

    @torch.no_grad()
    def update(self, x: torch.Tensor, codes: torch.Tensor) -> None:
        """EMA update of the codebook from vectors x [N, dim] assigned to codes [N], then restarts."""
        onehot = F.one_hot(codes, self.size).type(x.dtype)
        counts = onehot.sum(0)
        sums = onehot.t() @ x
        if _ddp():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.size * self.eps) * n
        self.embed.copy_(self.embed_sum / smoothed[:, None])
        self.restart_dead(x, float(counts.sum()))

    @torch.no_grad()
    def restart_dead(self, x: torch.Tensor, n_vectors: float | None = None) -> int:
        """Replace codes whose EMA count is under ``dead_threshold * n_vectors / size`` by batch vectors."""
        threshold = self.dead_threshold * (n_vectors if n_vectors is not None else x.shape[0]) / self.size
        dead = self.cluster_size < threshold
        if _ddp():
            dist.broadcast(dead, 0)
        n_dead = int(dead.sum())
        if n_dead:
            new = self._sample(x, n_dead)
            self.embed[dead] = new
            # restarted codes start with a uniform share, so they get some steps to attract vectors
            share = (n_vectors if n_vectors is not None else x.shape[0]) / self.size
            self.embed_sum[dead] = new * share
            self.cluster_size[dead] = share
        self.n_restarted = n_dead
        return n_dead


class VectorQuantizer(nn.Module):
    """One codebook: x [B, D, T] -> (quantized [B, D, T] with straight-through grads, codes [B, T])."""

    def __init__(self, dim: int, size: int, **kw):
        super().__init__()
        self.codebook = EuclideanCodebook(dim, size, **kw)

    def forward(self, x: torch.Tensor, update: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, d, t = x.shape
        flat = x.transpose(1, 2).reshape(-1, d)
        if update and not bool(self.codebook.initialized):
            self.codebook.init_from(flat.detach().float())
        codes = self.codebook.encode(flat.detach().float())
        q = self.codebook.decode(codes).to(x.dtype)
        if update:
            self.codebook.update(flat.detach().float(), codes)
        q = q.view(b, t, d).transpose(1, 2)
        commit = F.mse_loss(x, q.detach())
        return x + (q - x).detach(), codes.view(b, t), commit


@dataclass
class QuantizedResult:
    quantized: torch.Tensor  # [B, D, T] sum of the kept levels (straight-through)
    codes: torch.Tensor  # [B, n_q, T]
    commitment: torch.Tensor  # scalar, mean over levels
    semantic: torch.Tensor  # [B, D, T] output of the semantic codebooks alone (for distillation)
    n_active: torch.Tensor | None = None  # [B] acoustic levels kept per sample (training)
    stats: dict = field(default_factory=dict)


class ResidualVQ(nn.Module):
    """Residual VQ in a (possibly) lower codebook dimension with in/out projections."""

    def __init__(self, dim: int, codebook_dim: int, n_q: int, size: int, **kw):
        super().__init__()
        self.n_q = n_q
        self.input_proj = nn.Conv1d(dim, codebook_dim, 1, bias=False) if codebook_dim != dim else nn.Identity()
        self.output_proj = nn.Conv1d(codebook_dim, dim, 1, bias=False) if codebook_dim != dim else nn.Identity()
        self.layers = nn.ModuleList(VectorQuantizer(codebook_dim, size, **kw) for _ in range(n_q))

    def forward(self, x: torch.Tensor, update: bool, keep: torch.Tensor | None = None):
        """keep: [B, n_q] 0/1 mask of levels whose output is summed (quantizer dropout)."""
        h = self.input_proj(x)
        residual, out = h, torch.zeros_like(h)
        codes, commits = [], []
        for i, layer in enumerate(self.layers):
            q, c, commit = layer(residual, update)
            residual = residual - q  # EnCodec: the output's gradient reaches x once, through level 0
            out = out + (q if keep is None else q * keep[:, i, None, None])
            codes.append(c)
            commits.append(commit)
        zero = x.new_zeros(())
        return self.output_proj(out), torch.stack(codes, 1), (torch.stack(commits).mean() if commits else zero)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.input_proj(x)
        codes = []
        for layer in self.layers:
            c = layer.codebook.encode(residual.transpose(1, 2).reshape(-1, residual.shape[1]).float())
            c = c.view(x.shape[0], -1)
            residual = residual - layer.codebook.decode(c).transpose(1, 2).to(residual.dtype)
            codes.append(c)
        return torch.stack(codes, 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        out = 0
        for i in range(codes.shape[1]):
            out = out + self.layers[i].codebook.decode(codes[:, i]).transpose(1, 2)
        return self.output_proj(out)


class SplitResidualVQ(nn.Module):
    def __init__(self, dim: int, codebook_dim: int = 256, n_semantic: int = 1, n_acoustic: int = 7,
                 codebook_size: int = 2048, split_mode: str = "parallel", decay: float = 0.99,
                 dead_threshold: float = 0.1, quantizer_dropout: float = 0.5, lookup: str = "euclidean",
                 quantize_prob: float = 1.0):
        super().__init__()
        if split_mode not in ("parallel", "residual"):
            raise ValueError(f"split_mode must be parallel or residual, got {split_mode!r}")
        kw = dict(decay=decay, dead_threshold=dead_threshold, lookup=lookup)
        self.n_semantic, self.n_acoustic, self.split_mode = n_semantic, n_acoustic, split_mode
        self.codebook_size = codebook_size
        self.quantizer_dropout = quantizer_dropout
        self.quantize_prob = quantize_prob  # Mimi: in training, a sample is quantized with this probability
        self.semantic = ResidualVQ(dim, codebook_dim, n_semantic, codebook_size, **kw)
        self.acoustic = ResidualVQ(dim, codebook_dim, n_acoustic, codebook_size, **kw) if n_acoustic else None

    @property
    def n_q(self) -> int:
        return self.n_semantic + self.n_acoustic

    def forward(self, x: torch.Tensor, n_q: int | None = None) -> QuantizedResult:
        """Training/eval forward. In training, each sample keeps a random number of acoustic levels
        with probability ``quantizer_dropout`` (all of them otherwise); ``n_q`` fixes the count."""
        b = x.shape[0]
        update = self.training
        sem_q, sem_codes, sem_commit = self.semantic(x, update)
        if self.acoustic is None:
            return QuantizedResult(sem_q, sem_codes, sem_commit, sem_q)
        keep = None
        n_active = None
        if n_q is not None:
            n_active = torch.full((b,), max(n_q - self.n_semantic, 0), device=x.device)
        elif self.training and self.quantizer_dropout > 0:
            drop = torch.rand(b, device=x.device) < self.quantizer_dropout
            rnd = torch.randint(0, self.n_acoustic + 1, (b,), device=x.device)
            n_active = torch.where(drop, rnd, torch.full_like(rnd, self.n_acoustic))
        if n_active is not None:
            keep = (torch.arange(self.n_acoustic, device=x.device)[None] < n_active[:, None]).to(x.dtype)
        target = x if self.split_mode == "parallel" else x - sem_q.detach()
        ac_q, ac_codes, ac_commit = self.acoustic(target, update, keep)
        commit = (sem_commit * self.n_semantic + ac_commit * self.n_acoustic) / self.n_q
        out = sem_q + ac_q
        if self.training and self.quantize_prob < 1 and n_q is None:
            # the rest of the samples pass the latent through unquantized (the codebooks still learn
            # from them): the encoder and decoder get an informative path from the first step
            keep_q = (torch.rand(b, device=x.device) < self.quantize_prob).to(x.dtype)[:, None, None]
            out = keep_q * out + (1 - keep_q) * x
        return QuantizedResult(out, torch.cat([sem_codes, ac_codes], 1), commit, sem_q, n_active)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        sem = self.semantic.encode(x)
        if self.acoustic is None:
            return sem
        target = x if self.split_mode == "parallel" else x - self.semantic.decode(sem)
        return torch.cat([sem, self.acoustic.encode(target)], 1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [B, k, T] with k <= n_q (the first k codebooks; missing acoustic levels are zero)."""
        out = self.semantic.decode(codes[:, : self.n_semantic])
        if self.acoustic is not None and codes.shape[1] > self.n_semantic:
            out = out + self.acoustic.decode(codes[:, self.n_semantic :])
        return out

    def codebooks(self) -> list[EuclideanCodebook]:
        layers = list(self.semantic.layers) + (list(self.acoustic.layers) if self.acoustic is not None else [])
        return [layer.codebook for layer in layers]
