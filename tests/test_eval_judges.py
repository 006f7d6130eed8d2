"""Text normalisation, WER/CER, and the pluggable judges (offline defaults and local transformers models)."""

import json

import numpy as np
import pytest

from audiolm.asr import PocketSphinxJudge, WhisperJudge, make_asr_judge, normalize_text, wer_cer
from audiolm.speaker import MfccSimilarity, WavLMSimilarity, cosine, make_similarity, similarity


def test_normalisation():
    assert normalize_text("  Hello, World!  It's   DONE... ") == "hello world its done"
    assert normalize_text("Tom & Jerry—friends") == "tom and jerry friends"
    assert normalize_text("Ça va?") == "ça va"


def test_wer_cer_after_normalisation():
    r = wer_cer(["The cat sat.", "a b c d"], ["the cat, sat", "a x c"])
    assert r["wer"] == pytest.approx(2 / 7)  # one substitution + one deletion over 7 words
    assert r["cer"] > 0
    assert wer_cer(["Hello!"], ["hello"]) == {"wer": 0.0, "cer": 0.0}
    assert wer_cer(["Hello!"], ["hello"], normalize=False)["wer"] == 1.0


def _espeak(text, variant, pitch=50, rate=150):
    from audiolm.data.espeak import Espeak, Voice

    return Espeak().synthesize(text, Voice("en-us", variant, pitch=pitch, rate=rate)).audio


def test_pocketsphinx_offline_judge():
    judge = make_asr_judge("pocketsphinx")
    assert isinstance(judge, PocketSphinxJudge)
    hyp = judge.transcribe([_espeak("I would like a cup of coffee please.", "f2"), np.zeros(24000, np.float32)], 24000)
    assert wer_cer(["I would like a cup of coffee please."], hyp[:1])["wer"] <= 0.5
    assert hyp[1] == ""  # silence


def test_mfcc_similarity_same_speaker_beats_different_speakers():
    sim = make_similarity("mfcc")
    assert isinstance(sim, MfccSimilarity)
    voices = [("m3", 40), ("f2", 70), ("m7", 55), ("f4", 60)]
    texts = ["The farmer walked to the market in the morning.", "She found a small red box under the old table."]
    emb = {(v, t): sim.embed(_espeak(texts[t], v, p), 24000) for v, p in voices for t in range(2)}
    same = [cosine(emb[(v, 0)], emb[(v, 1)]) for v, _ in voices]
    diff = [cosine(emb[(v, 0)], emb[(u, 1)]) for v, _ in voices for u, _ in voices if u != v]
    assert min(same) > np.mean(diff)
    assert np.mean(same) > max(diff) - 0.02
    a = _espeak(texts[0], "m3", 40)
    assert similarity(sim, a, 24000, a, 24000) == pytest.approx(1.0)


def _tiny_whisper(path):
    from transformers import (WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor,
                              WhisperTokenizer)

    vocab = {"<|endoftext|>": 0}
    for c in "abcdefghijklmnopqrstuvwxyzĠ":
        vocab[c] = len(vocab)
    vocab["<|startoftranscript|>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tok = WhisperTokenizer(str(path / "vocab.json"), str(path / "merges.txt"))
    cfg = WhisperConfig(vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=80,
                        max_source_positions=1500, max_target_positions=32, pad_token_id=0, eos_token_id=0,
                        bos_token_id=0, decoder_start_token_id=vocab["<|startoftranscript|>"])
    model = WhisperForConditionalGeneration(cfg)
    model.generation_config.decoder_start_token_id = cfg.decoder_start_token_id
    out = path / "whisper"
    model.save_pretrained(out)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=80), tok).save_pretrained(out)
    return out


def test_whisper_judge_from_a_local_folder(tmp_path):
    pytest.importorskip("transformers")
    folder = _tiny_whisper(tmp_path)
    judge = make_asr_judge(f"whisper:{folder}")
    assert isinstance(judge, WhisperJudge)
    judge.max_new_tokens = 4
    out = judge.transcribe([np.random.default_rng(0).standard_normal(24000).astype(np.float32) * 0.1], 24000)
    assert len(out) == 1 and isinstance(out[0], str)
    assert isinstance(make_asr_judge(str(folder)), WhisperJudge)  # a bare folder means Whisper


def test_wavlm_similarity_from_a_local_folder(tmp_path):
    pytest.importorskip("transformers")
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    cfg = WavLMConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, conv_dim=(16, 16),
                      conv_kernel=(10, 3), conv_stride=(5, 2), tdnn_dim=(16, 16), tdnn_kernel=(3, 1), tdnn_dilation=(1, 1),
                      xvector_output_dim=8, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, num_buckets=32,
                      max_bucket_distance=64)
    folder = tmp_path / "wavlm-sv"
    WavLMForXVector(cfg).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)
    sim = make_similarity(f"wavlm:{folder}")
    assert isinstance(sim, WavLMSimilarity)
    a = np.random.default_rng(1).standard_normal(24000).astype(np.float32) * 0.1
    assert sim.embed(a, 24000).shape == (8,)
    assert similarity(sim, a, 24000, a, 24000) == pytest.approx(1.0, abs=1e-5)


def test_bad_judge_specs(tmp_path):
    with pytest.raises(ValueError, match="unknown ASR judge"):
        make_asr_judge("google")
    with pytest.raises(ValueError, match="speaker-similarity"):
        make_similarity("ecapa")
    with pytest.raises(FileNotFoundError, match="config.json"):
        make_asr_judge(f"whisper:{tmp_path}")
    with pytest.raises(FileNotFoundError, match="config.json"):
        make_similarity(f"wavlm:{tmp_path}")


def test_codec_benchmarks_measure_wer_as_the_evaluation_does(monkeypatch, tmp_path):
    """bench_codec --asr and the eval's TTS WER: the same judge class and the same corpus WER."""
    from audiolm.codec import metrics as codec_metrics
    from audiolm.codec.testing import make_fake_cuts, tiny_codec

    class Fixed:
        name = "fixed"

        def transcribe(self, wavs, sr):
            return ["the cat sat"] * len(wavs)

    assert codec_metrics.PocketSphinxJudge is PocketSphinxJudge
    monkeypatch.setattr(codec_metrics, "PocketSphinxJudge", Fixed)
    cuts = make_fake_cuts(tmp_path, n=3, seconds=0.4)
    res = codec_metrics.reconstruction_metrics(tiny_codec(), cuts, asr=True)
    want = wer_cer([c.supervisions[0].text for c in cuts], ["the cat sat"] * 3)["wer"]
    assert res["wer_original"] == res["wer_reconstruction"] == pytest.approx(want)
