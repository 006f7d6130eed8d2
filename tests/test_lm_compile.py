"""torch.compile per decoder block: same outputs and gradients as eager on packed documents, one
graph for all blocks (no recompilation across batches of other document layouts), state-dict keys
unchanged. CPU inductor on a tiny model; the GPU speed is a benchmark (benchmarks/gpu_check.sh)."""

import shutil
from dataclasses import replace

import pytest
import torch

from audiolm.lm.config import ModelConfig
from audiolm.lm.model import AudioLM

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                                reason="inductor on CPU needs a C compiler")


def packed_batch(seed: int, B: int = 2, L: int = 48, vocab: int = 101):
    g = torch.Generator().manual_seed(seed)
    doc = torch.empty(B, L, dtype=torch.long)
    pos = torch.empty(B, L, dtype=torch.long)
    for b in range(B):
        i, d = 0, 0
        while i < L:
            n = min(int(torch.randint(4, 20, (1,), generator=g)), L - i)
            doc[b, i:i + n], pos[b, i:i + n] = d, torch.arange(n)
            i, d = i + n, d + 1
    x = torch.randint(0, vocab, (B, L), generator=g)
    y = torch.randint(0, vocab, (B, L), generator=g)
    return x, pos, doc, y


def test_compiled_blocks_match_eager_and_compile_once(one_thread):
    import torch._dynamo

    torch._dynamo.reset()
    cfg = ModelConfig(vocab_size=101, d_model=64, n_layers=3, n_heads=4, n_kv_heads=2, ffn_dim=96, max_seq_len=64,
                      init_std=0.2, attention="sdpa")
    torch.manual_seed(0)
    eager = AudioLM(cfg)
    compiled = AudioLM(replace(cfg))
    compiled.load_state_dict(eager.state_dict())
    keys = list(compiled.state_dict())
    compiled.compile_blocks()
    assert list(compiled.state_dict()) == keys  # checkpoints of compiled runs load into plain models
    from torch._dynamo.utils import counters

    graphs = []
    for seed in range(3):  # three batches, three different document layouts (the masks' contents differ)
        x, pos, doc, y = packed_batch(seed)
        ref = eager(x, pos, doc, labels=y, z_loss=1e-4)
        out = compiled(x, pos, doc, labels=y, z_loss=1e-4)
        torch.testing.assert_close(out.loss, ref.loss, atol=1e-5, rtol=1e-5)
        g_ref = torch.autograd.grad(ref.loss, list(eager.parameters()))
        g_out = torch.autograd.grad(out.loss, list(compiled.parameters()))
        for a, b in zip(g_out, g_ref):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[0] >= 1 and graphs[-1] == graphs[0], graphs  # compiled at the first batch only, for all blocks
