"""One home for prompts: exact ids, the delay layout's budget, and the CLI asking as the eval does."""

import argparse
import math

import numpy as np
import pytest

from audiolm.eval.testing import ByteTokenizer
from audiolm.lm import prompts
from audiolm.tokens.layout import make_layout

TOK = ByteTokenizer(n_codebooks=2, codebook_size=16)
V = TOK.vocab
FM = make_layout("frame_major", [0, 1], V)
CODES = np.array([[1, 2], [3, 4]])  # (n_q, T): frames (1, 3) and (2, 4)
A = [V.audio_id(0, 1), V.audio_id(1, 3), V.audio_id(0, 2), V.audio_id(1, 4)]


def T(text):
    return [V.text_start, *TOK.encode_text(text), V.text_end]


def test_prompt_ids_are_pinned():
    audio = [V.audio_start, *A, V.audio_end]
    assert prompts.asr_prompt(TOK, FM, CODES) == [TOK.bos_id, *audio, V.text_start]
    assert prompts.asr_prompt(TOK, FM, CODES, [(CODES, "hi")]) == [TOK.bos_id, *audio, *T("hi"), *audio, V.text_start]
    assert prompts.tts_prompt(TOK, FM, "yes") == [TOK.bos_id, *T("yes"), V.audio_start]
    assert prompts.tts_prompt(TOK, FM, "yes", CODES, "hi") == [TOK.bos_id, *T("hi"), *audio, *T("yes"), V.audio_start]
    assert prompts.continuation_prompt(TOK, FM, CODES, 1) == [TOK.bos_id, V.audio_start, *A[:2]]
    assert prompts.until([5, 6, V.text_end, 7], V.text_end) == [5, 6]
    assert prompts.generated_audio(V, FM, [*A, A[0], V.audio_end, *A]).tolist() == A  # whole frames, up to the end


@pytest.mark.parametrize("layout", ["frame_major", "delay"])
def test_a_generation_that_runs_to_its_budget_decodes_to_the_frames_asked(layout):
    lay = make_layout(layout, [0, 1], V)
    seconds, frame_rate = 0.8, 12.5
    frames = math.ceil(seconds * frame_rate)
    codes = np.stack([np.arange(frames + 5) % 16, (3 * np.arange(frames + 5)) % 16])
    stream = lay.encode(codes).tolist()  # a model that never says <|audio_end|>
    budget = prompts.audio_budget(lay, frame_rate, seconds)
    got = lay.decode(prompts.generated_audio(V, lay, stream[:budget]), strict=False)
    assert got.shape[1] >= frames  # before: tokens_per_frame x frames left a delay layout one frame short
    assert budget == lay.n_tokens(frames) + 1


class _FakeSession:
    """The CLI's session with the model and codec replaced: records what generate is asked."""

    asked: list = []

    def __init__(self, args):
        self.args, self.tok, self.vocab, self.layout = args, TOK, V, FM
        self.codec = argparse.Namespace(sample_rate=24000, frame_rate=12.5)

    def encode(self, wav):
        return CODES

    def read_audio(self, path, seconds=0.0):
        return np.zeros(4800, np.float32)

    def audio_budget(self, seconds):
        return prompts.audio_budget(self.layout, 12.5, seconds)

    def generate(self, prompt, max_new_tokens, stop, temperature=None):
        _FakeSession.asked.append(list(prompt))
        return [V.text_end]

    def decode(self, ids):
        return np.zeros(0, np.float32)

    def write(self, path, wav):
        pass


def test_the_cli_asks_with_the_shared_prompt_builders(monkeypatch, capsys):
    from audiolm.lm import commands

    monkeypatch.setattr(commands, "_Session", _FakeSession)
    _FakeSession.asked = []
    ns = argparse.Namespace
    commands.run_generate_asr(ns(wav="x.wav", shots=0, shots_from=None, max_new_tokens=4))
    commands.run_generate_tts(ns(text="yes", voice_wav="v.wav", voice_text="hi", seconds=1.0, out="o.wav"))
    commands.run_generate_continue(ns(text=None, wav="x.wav", cuts=None, cut_id=None, prompt_seconds=0.0, seconds=1.0,
                                      out="o.wav", new_only=False))
    assert _FakeSession.asked == [prompts.asr_prompt(TOK, FM, CODES), prompts.tts_prompt(TOK, FM, "yes", CODES, "hi"),
                                  prompts.continuation_prompt(TOK, FM, CODES)]
