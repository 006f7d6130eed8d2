"""Codec model: frame counts, RVQ behaviour, causality/streaming consistency."""

import math

import numpy as np
import pytest
import torch

from audiolm.codec.audio import crop_or_pad, downmix, pad_to_multiple
from audiolm.resample import resample
from audiolm.codec.quantization import EuclideanCodebook, ResidualVQ, SplitResidualVQ
from audiolm.codec.testing import tiny_codec


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    yield
    torch.set_num_threads(old)


SPECTRAL = {"model.kind": "spectral", "model.seanet.ratios": "[2,2]", "model.spectral.channels": 16,
            "model.spectral.n_blocks": 1, "model.spectral.griffin_lim_iters": 4}


@pytest.fixture(scope="module", params=["seanet", "spectral"])
def codec(_one_thread, request):
    torch.manual_seed(0)
    c = tiny_codec(**(SPECTRAL if request.param == "spectral" else {}))
    # initialise the EMA codebooks from data once, as training would
    c.model.train()
    c.model(0.1 * torch.randn(8, 1, 8 * c.hop))
    return c.eval()


@pytest.mark.parametrize("n", [1, 100, 1920, 1921, 5 * 1920, 24000])
def test_encode_decode_shapes_and_frame_counts(codec, n):
    assert codec.hop == 1920 and codec.frame_rate == 12.5 and codec.sample_rate == 24000
    wav = 0.1 * torch.randn(3, 1, n)
    codes = codec.encode(wav)
    t = math.ceil(n / codec.hop)
    assert codes.shape == (3, codec.n_codebooks, t) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < codec.codebook_size
    audio = codec.decode(codes)
    assert audio.shape == (3, 1, t * codec.hop)
    # a prefix of the codebooks decodes too (what "first k codebooks" experiments use)
    assert codec.decode(codes[:, :1]).shape == (3, 1, t * codec.hop)


def test_encoder_is_causal(codec):
    wav = 0.1 * torch.randn(1, 1, 10 * codec.hop)
    codes = codec.encode(wav)
    lat = codec.model.encode_latent(wav)
    t = 4  # perturb everything after frame t's last sample
    wav2 = wav.clone()
    wav2[..., (t + 1) * codec.hop:] = torch.randn_like(wav2[..., (t + 1) * codec.hop:])
    lat2 = codec.model.encode_latent(wav2)
    assert torch.allclose(lat[..., : t + 1], lat2[..., : t + 1], atol=1e-5)
    assert torch.equal(codes[..., : t + 1], codec.encode(wav2)[..., : t + 1])
    assert not torch.allclose(lat[..., t + 1:], lat2[..., t + 1:])


def test_chunked_encoding_equals_full_encoding(codec):
    wav = 0.1 * torch.randn(1, 1, 40 * codec.hop + 123)
    full = codec.encode(wav)
    assert codec.receptive_field > codec.hop
    chunked = codec.encode_long(wav, chunk_seconds=6 * codec.hop / codec.sample_rate)
    assert chunked.shape == full.shape
    assert torch.equal(chunked, full)


def test_batched_padded_encoding_equals_single(codec):
    a, b = 0.1 * torch.randn(1, 1, 7000), 0.1 * torch.randn(1, 1, 20000)
    batch = torch.zeros(2, 1, 20000)
    batch[0, :, :7000], batch[1] = a[0], b[0]
    codes = codec.encode(batch)
    assert torch.equal(codes[0, :, : codec.n_frames(7000)], codec.encode(a)[0])
    assert torch.equal(codes[1], codec.encode(b)[0])


def test_rvq_residual_error_shrinks_with_more_codebooks():
    torch.manual_seed(0)
    rvq = ResidualVQ(dim=8, codebook_dim=8, n_q=4, size=32, decay=0.8).train()
    data = torch.randn(16, 8, 50)
    for _ in range(30):
        rvq(data, update=True)
    rvq.eval()
    codes = rvq.encode(data)
    errs = [float((rvq.decode(codes[:, :k]) - data).pow(2).mean()) for k in range(1, 5)]
    assert all(e2 < e1 for e1, e2 in zip(errs, errs[1:])), errs
    assert errs[-1] < 0.5 * float(data.pow(2).mean())


def test_dead_codes_are_restarted_from_the_batch():
    torch.manual_seed(0)
    cb = EuclideanCodebook(dim=4, size=16, decay=0.5, dead_threshold=1.0)
    x = torch.randn(256, 4)
    cb.init_from(x)
    cb.embed[:8] = 1000.0  # codes 0..7 can never be chosen
    cb.embed_sum[:8] = 1000.0
    for _ in range(6):
        cb.update(x, cb.encode(x))
    assert cb.embed.abs().max() < 100  # all replaced by vectors near the data
    used = torch.bincount(cb.encode(x), minlength=16)
    assert int((used > 0).sum()) >= 12


def test_split_rvq_semantic_first_and_quantizer_dropout():
    torch.manual_seed(0)
    q = SplitResidualVQ(dim=16, codebook_dim=8, n_semantic=1, n_acoustic=3, codebook_size=16, quantizer_dropout=1.0)
    x = torch.randn(8, 16, 10)
    q.train()
    res = q(x)
    assert res.codes.shape == (8, 4, 10)
    assert res.n_active is not None and res.n_active.min() >= 0 and res.n_active.max() <= 3
    q.eval()
    res = q(x)
    assert torch.equal(res.codes, q.encode(x))
    assert torch.allclose(res.quantized, q.decode(res.codes), atol=1e-5)
    assert torch.allclose(res.semantic, q.decode(res.codes[:, :1]), atol=1e-5)
    # n_q=1 keeps only the semantic codebook
    assert torch.allclose(q(x, n_q=1).quantized, res.semantic, atol=1e-5)


def test_audio_helpers():
    sr_in, sr_out = 16000, 24000
    t = np.arange(sr_in) / sr_in
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = resample(x, sr_in, sr_out)
    assert isinstance(y, np.ndarray) and y.shape == (sr_out,)
    ref = np.sin(2 * np.pi * 440 * np.arange(sr_out) / sr_out)
    assert np.abs(y[500:-500] - ref[500:-500]).max() < 0.01
    yt = resample(torch.from_numpy(x)[None, None], sr_in, sr_out)
    assert yt.shape == (1, 1, sr_out) and np.allclose(yt[0, 0].numpy(), y, atol=1e-5)
    st = np.stack([x, -x])
    assert downmix(st).shape == (1, sr_in) and np.abs(downmix(st)).max() < 1e-6
    assert pad_to_multiple(torch.zeros(1, 5), 4).shape == (1, 8)
    assert pad_to_multiple(torch.zeros(1, 0), 4).shape == (1, 4)
    assert crop_or_pad(np.ones(3, np.float32), 5).tolist() == [1, 1, 1, 0, 0]
