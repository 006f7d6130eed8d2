"""Pretrained Mimi and WavLM/HuBERT teachers loaded from local directories (tiny random models)."""

import math

import pytest
import torch

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def mimi_dir(tmp_path_factory):
    from transformers import MimiConfig, MimiModel

    torch.manual_seed(0)
    cfg = MimiConfig(hidden_size=32, num_filters=4, num_residual_layers=1, codebook_size=64, codebook_dim=16,
                     num_quantizers=16, vector_quantization_hidden_dimension=16, num_hidden_layers=1,
                     intermediate_size=64, num_attention_heads=2, num_key_value_heads=2, upsample_groups=32,
                     head_dim=16, sliding_window=50)
    d = tmp_path_factory.mktemp("mimi")
    MimiModel(cfg).save_pretrained(d)
    return d


def test_mimi_from_local_dir_encode_decode(mimi_dir):
    from audiolm.codec import MimiCodec, load_codec

    codec = load_codec(f"mimi:{mimi_dir}")
    assert isinstance(codec, MimiCodec)
    assert codec.info() == {"spec": f"mimi:{mimi_dir}", "sample_rate": 24000, "frame_rate": 12.5,
                            "n_codebooks": 8, "codebook_size": 64}
    for n in (1, 1920, 1921, 24000):
        wav = 0.1 * torch.randn(2, 1, n)
        codes = codec.encode(wav)
        t = math.ceil(n / 1920)
        assert codes.shape == (2, 8, t)
        assert int(codes.max()) < 64 and int(codes.min()) >= 0
        assert codec.decode(codes).shape[:2] == (2, 1)
        assert codec.decode(codes).shape[-1] >= n


def test_mimi_missing_dir_is_a_clear_error(tmp_path):
    from audiolm.codec import load_codec

    with pytest.raises(FileNotFoundError, match="mimi"):
        load_codec(f"mimi:{tmp_path / 'nope'}")
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        load_codec(str(tmp_path / "nope.ckpt"))


@pytest.mark.parametrize("kind", ["wavlm", "hubert"])
def test_hf_teacher_from_local_dir(tmp_path, kind):
    from audiolm.codec.config import TeacherConfig
    from audiolm.codec.teachers import HFTeacher, align_features, build_teacher

    small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                 conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    if kind == "wavlm":
        from transformers import WavLMConfig as C, WavLMModel as M
    else:
        from transformers import HubertConfig as C, HubertModel as M
    torch.manual_seed(0)
    M(C(**small)).save_pretrained(tmp_path)
    teacher = build_teacher(TeacherConfig(kind="hf", path=str(tmp_path), layer=1), sample_rate=24000)
    assert isinstance(teacher, HFTeacher) and teacher.dim == 32 and teacher.frame_rate == 50.0
    feats = teacher.features(0.1 * torch.randn(2, 1, 24000))  # 1 s at 24 kHz -> 16 kHz -> ~50 frames
    assert feats.shape[0] == 2 and abs(feats.shape[1] - 50) <= 1 and feats.shape[2] == 32
    assert align_features(feats, 13).shape == (2, 13, 32)
    with pytest.raises(FileNotFoundError):
        build_teacher(TeacherConfig(kind="hf", path=str(tmp_path / "missing")), sample_rate=24000)
