import numpy as np
import pytest

from audiolm.tokens.layout import make_layout
from audiolm.tokens.modality import ACOUSTIC, SEMANTIC, SPECIAL, TEXT, modality_of
from audiolm.tokens.vocab import Vocabulary

V = Vocabulary(128256)
SELECTIONS = [[0], [0, 1, 2], None, [1, 3, 7], 2]


@pytest.mark.parametrize("name", ["frame_major", "delay"])
@pytest.mark.parametrize("codebooks", SELECTIONS)
def test_round_trip(name, codebooks):
    rng = np.random.default_rng(1)
    lay = make_layout(name, codebooks, V)
    for T in (0, 1, 2, 9, 50):
        codes = rng.integers(0, 2048, (8, T))
        ids = lay.encode(codes)
        assert ids.dtype == np.int64 and len(ids) == lay.n_tokens(T)
        assert np.array_equal(lay.decode(ids), codes[lay.codebooks])
        assert lay.audio_mask(T).sum() == T * lay.tokens_per_frame
        assert lay.can_end(len(ids))
        # codebook index: every real code position names its codebook; text/tags are -1
        seq = np.concatenate([[5, V.audio_start], ids, [V.audio_end, 7]])
        ci = lay.codebook_index(seq)
        assert ci[0] == ci[1] == ci[-2] == ci[-1] == -1
        inner = ci[2:-2]
        assert np.array_equal(inner >= 0, lay.audio_mask(T))
        for q in lay.codebooks:
            assert (inner == q).sum() == T


def test_frame_major_is_soda_order():
    codes = np.array([[1, 2], [3, 4], [5, 6]])
    lay = make_layout("frame_major", None, Vocabulary(100, 3, 8))
    off = 104
    assert lay.encode(codes).tolist() == [off + 1, off + 8 + 3, off + 16 + 5, off + 2, off + 8 + 4, off + 16 + 6]
    assert lay.tokens_per_frame == 3 and lay.codebook_at(np.arange(4)).tolist() == [0, 1, 2, 0]


def test_delay_pattern_and_fill_code():
    v = Vocabulary(100, 3, 8)
    lay = make_layout("delay", [0, 1, 2], v, fill_code=7)
    codes = np.array([[1, 2], [3, 4], [5, 6]])
    grid = (lay.encode(codes) - v.audio_offset) % 8
    # steps: (c0[0], fill, fill), (c0[1], c1[0], fill), (fill, c1[1], c2[0]), (fill, fill, c2[1])
    assert grid.reshape(4, 3).tolist() == [[1, 7, 7], [2, 3, 7], [7, 4, 5], [7, 7, 6]]
    assert lay.audio_mask(2).reshape(4, 3).tolist() == [[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert not lay.can_end(3) and lay.can_end(6) and not lay.can_end(7)
    # two spans side by side: fills are found per span
    ids = lay.encode(codes)
    seq = np.concatenate([[v.audio_start], ids, [v.audio_end, v.audio_start], lay.encode(codes[:, :1]), [v.audio_end]])
    assert (lay.codebook_index(seq) >= 0).sum() == 6 + 3


def test_decode_rejects_malformed_and_truncates_when_lenient():
    lay = make_layout("frame_major", [0, 1], V)
    ids = lay.encode(np.zeros((8, 3), int))
    with pytest.raises(ValueError, match="whole number"):
        lay.decode(ids[:-1])
    assert lay.decode(ids[:-1], strict=False).shape == (2, 2)
    with pytest.raises(ValueError, match="codebook 1"):
        lay.decode(ids[[0, 0, 2, 3]])
    with pytest.raises(ValueError, match="strictly increasing"):
        make_layout("frame_major", [1, 0], V)
    with pytest.raises(ValueError, match="unknown layout"):
        make_layout("zigzag", None, V)
    with pytest.raises(ValueError, match="codebook 7"):
        make_layout("delay", None, V).encode(np.zeros((4, 3), int))


def test_modality_of():
    ids = np.array([0, 128000, V.text_start, V.audio_id(0, 5), V.audio_id(3, 5), V.audio_end])
    assert modality_of(ids, V, special_text_ids=[128000]).tolist() == [TEXT, SPECIAL, SPECIAL, SEMANTIC, ACOUSTIC, SPECIAL]
