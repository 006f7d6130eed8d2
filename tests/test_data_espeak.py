"""espeak-ng binding: audible 24 kHz speech, monotone alignments, determinism, distinct voices."""

import numpy as np
import pytest

from audiolm.data.espeak import OUTPUT_SAMPLE_RATE, Espeak, EspeakError, SynthResult, Voice
from audiolm.data.synth import make_speakers

TEXT = "The children played in the garden all afternoon."


def f0_median(x, sr=OUTPUT_SAMPLE_RATE):
    """Median F0 (Hz) of voiced frames by autocorrelation."""
    fr, hop = 1024, 480
    f0s = []
    for i in range(0, len(x) - fr, hop):
        w = x[i:i + fr]
        if np.sqrt((w ** 2).mean()) < 0.02:
            continue
        w = w - w.mean()
        ac = np.correlate(w, w, "full")[fr - 1:]
        lo, hi = sr // 400, sr // 60
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            f0s.append(sr / k)
    return float(np.median(f0s)) if f0s else 0.0


def voice_embedding(x, sr=OUTPUT_SAMPLE_RATE, n_mels=40):
    """Mean log-mel spectrum of the loud frames + scaled log F0: a crude timbre/pitch fingerprint."""
    n = len(x) // 512 * 512
    X = np.abs(np.fft.rfft(x[:n].reshape(-1, 512) * np.hanning(512), axis=1)) ** 2
    f = np.fft.rfftfreq(512, 1 / sr)
    mel = 2595 * np.log10(1 + f / 700)
    edges = np.linspace(mel[1], mel[-1], n_mels + 2)
    fb = np.stack([np.clip(np.minimum((mel - edges[m]) / (edges[m + 1] - edges[m]),
                                      (edges[m + 2] - mel) / (edges[m + 2] - edges[m + 1])), 0, None) for m in range(n_mels)])
    E = X @ fb.T
    keep = E.sum(1) > 0.05 * E.sum(1).max()
    return np.concatenate([np.log(E[keep] + 1e-8).mean(0), [3 * np.log(max(f0_median(x), 1.0))]])


@pytest.fixture(scope="module")
def tts():
    return Espeak()


def test_synthesis_is_audible_24k_with_alignments(tts):
    res = tts.synthesize(TEXT, Voice("en-us", "m3"))
    assert isinstance(res, SynthResult) and res.sample_rate == 24000
    assert res.audio.dtype == np.float32 and res.audio.ndim == 1
    assert 1.0 < res.duration < 6.0
    assert np.sqrt((res.audio ** 2).mean()) > 0.01 and np.abs(res.audio).max() <= 1.0
    words = [w for w, _, _ in res.words]
    assert words == ["The", "children", "played", "in", "the", "garden", "all", "afternoon"]
    for items in (res.words, res.phones):
        starts = [s for _, s, _ in items]
        assert starts == sorted(starts)
        for _, s, d in items:
            assert d >= 0 and 0 <= s and s + d <= res.duration + 1e-6
    # words lie over their phones and do not overlap
    for (_, s1, d1), (_, s2, _) in zip(res.words, res.words[1:]):
        assert s1 + d1 <= s2 + 1e-6
    assert len(res.phones) >= 20 and all(p and not p.startswith("_") for p, _, _ in res.phones)
    # speech (not silence) under the words
    i0, i1 = int(res.words[0][1] * 24000), int((res.words[-1][1] + res.words[-1][2]) * 24000)
    assert np.sqrt((res.audio[i0:i1] ** 2).mean()) > 0.02


def test_clitic_groups_are_split_into_words(tts):
    # espeak reports "in the", "do not" as one word event: each text word still gets an interval
    res = tts.synthesize("I do not know what is in the box.", Voice())
    assert [w for w, _, _ in res.words] == ["I", "do", "not", "know", "what", "is", "in", "the", "box"]
    assert all(d > 0 for _, _, d in res.words)


def test_deterministic_whatever_came_before(tts):
    v = Voice("en-us", "f2")
    a = tts.synthesize(TEXT, v)
    tts.synthesize("Something entirely different, spoken by someone else.", Voice("en", "m1", pitch=20))
    b = tts.synthesize(TEXT, v)
    assert np.array_equal(a.audio, b.audio) and a.words == b.words and a.phones == b.phones


def test_empty_and_odd_text(tts):
    assert tts.synthesize("", Voice()).words == []
    assert tts.synthesize("   \n\t ", Voice()).words == []
    res = tts.synthesize("Caf\u00e9 na\u00efve \u2014 fine!\nNext line.", Voice())
    assert [w for w, _, _ in res.words] == ["Caf\u00e9", "na\u00efve", "fine", "Next", "line"]


def test_unknown_voice_is_a_clear_error(tts):
    with pytest.raises(EspeakError, match="no voice"):
        tts.synthesize("hello", Voice("xx-nonexistent"))
    # the engine still works afterwards
    assert tts.synthesize("hello", Voice()).words[0][0] == "hello"


def test_phonemes(tts):
    assert tts.phonemes("cat", Voice()) == ["k", "'a", "t"]


def test_speakers_distinct_and_stable(tts):
    speakers = make_speakers(8, 0)
    assert len(set(speakers)) == 8 and {v.gender for v in speakers} == {"female", "male"}
    assert make_speakers(8, 0) == speakers and make_speakers(4, 0) == speakers[:4]
    sents = [TEXT, "My brother bought a new coat at the market yesterday.", "Where did the old farmer hide the key?"]
    emb = [[voice_embedding(tts.synthesize(s, v).audio) for s in sents] for v in speakers]
    # speaker identification by nearest neighbour: other sentences of a voice are closest to its own
    for i in range(len(speakers)):
        for j in (1, 2):
            d = [np.linalg.norm(emb[i][j] - emb[k][0]) for k in range(len(speakers))]
            assert int(np.argmin(d)) == i, (speakers[i], d)
    # pitch: female voices higher than male ones, and each voice's F0 stable across sentences
    f0 = {v: [f0_median(tts.synthesize(s, v).audio) for s in sents[:2]] for v in speakers}
    fem = [np.mean(f0[v]) for v in speakers if v.gender == "female"]
    mal = [np.mean(f0[v]) for v in speakers if v.gender == "male"]
    assert min(fem) > max(mal)
    for v, (a, b) in f0.items():
        assert abs(a - b) / max(a, b) < 0.15, (v, a, b)
