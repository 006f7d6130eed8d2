import numpy as np
import pytest

from audiolm.tokens.vocab import PUA_BASE, Vocabulary, codes_to_pua, pua_to_codes


def test_soda_layout_exact_ids():
    v = Vocabulary(128256)
    assert (v.text_start, v.text_end, v.audio_start, v.audio_end) == (128256, 128257, 128258, 128259)
    assert v.audio_id(0, 0) == 128260
    assert v.audio_id(7, 2047) == 144643
    assert v.size == 144644


def test_pua_frame_major_and_round_trip():
    codes = np.array([[1, 2], [3, 4]])  # (n_q=2, T=2)
    s = codes_to_pua(codes)
    assert [ord(c) - PUA_BASE for c in s] == [1, 2048 + 3, 2, 2048 + 4]
    rng = np.random.default_rng(0)
    c8 = rng.integers(0, 2048, size=(8, 37))
    assert np.array_equal(pua_to_codes(codes_to_pua(c8), 8), c8)


def test_pua_rejects_bad_input():
    with pytest.raises(ValueError, match="whole number"):
        pua_to_codes(chr(PUA_BASE) * 3, 2)
    with pytest.raises(ValueError, match="codebook position"):
        pua_to_codes(chr(PUA_BASE) * 2, 2)  # second char should be in codebook 1
    with pytest.raises(ValueError, match="range"):
        codes_to_pua(np.array([[2048]]))
