"""The one resampler: numpy input through scipy's resample_poly, tensors through the same filter in torch."""

import numpy as np
import pytest
import torch
from scipy.signal import resample_poly

from audiolm.resample import resample

RATES = [(16000, 24000), (24000, 16000), (22050, 24000), (24000, 22050), (44100, 16000), (8000, 24000)]


@pytest.mark.parametrize("orig, new", RATES)
def test_numpy_is_scipy_and_torch_matches_it(orig, new):
    rng = np.random.default_rng(orig + new)
    for n in (1, 7, 101, orig // 3):
        x = rng.standard_normal(n).astype(np.float32)
        from math import gcd

        g = gcd(orig, new)
        y = resample(x, orig, new)
        assert y.dtype == np.float32 and np.array_equal(y, resample_poly(x, new // g, orig // g).astype(np.float32))
        t = resample(torch.from_numpy(x), orig, new)
        assert t.dtype == torch.float32 and t.shape == (len(y),) == (-(-n * new // orig),)
        np.testing.assert_allclose(t.numpy(), y, atol=2e-5)


def test_leading_shape_identity_and_a_sine_survives():
    x = torch.randn(2, 3, 1600)
    y = resample(x, 16000, 24000)
    assert y.shape == (2, 3, 2400)
    torch.testing.assert_close(y[1, 2], resample(x[1, 2], 16000, 24000))
    assert resample(x, 16000, 16000) is x
    t = np.arange(16000) / 16000
    s = resample(np.sin(2 * np.pi * 440 * t).astype(np.float32), 16000, 24000)
    ref = np.sin(2 * np.pi * 440 * np.arange(24000) / 24000)
    assert np.abs(s[500:-500] - ref[500:-500]).max() < 0.01
