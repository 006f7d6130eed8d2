"""Does the LM link the modalities? The cross-modal gain, and the NLL vector.

For every utterance (a transcript ``T`` and its codec codes ``A``) four sequences are scored:

- text alone ``[BOS] <|text_start|> T <|text_end|>`` and text after its audio
  ``[BOS] <|audio_start|> A <|audio_end|> <|text_start|> T <|text_end|>`` (the ASR direction);
- audio alone ``[BOS] <|audio_start|> A`` and audio after its transcript
  ``[BOS] <|text_start|> T <|text_end|> <|audio_start|> A`` (the TTS direction).

``text_gain_nats`` = mean NLL per transcript token alone minus after the audio; ``audio_gain_nats``
the same for audio tokens. Positive means the other modality helps; an LM that is two unimodal
models scores 0. Each gain is averaged over utterances (equal weight) with its standard error.

The *NLL vector* (SODA's follow-up work: aggregate NLL ranks model classes wrongly) comes from
the interleaved (conditioned) sequences: bits per text token, NLL of the semantic codebook,
NLL per acoustic codebook, and bits per second of audio (summed audio NLL / ln 2 / seconds).
"""

from __future__ import annotations

import math

import numpy as np

from audiolm.eval.scoring import ScoreRequest, score_requests_by_group


def _text_ids(ctx, text: str) -> list[int]:
    return [ctx.vocab.text_start] + list(ctx.tokenizer.encode_text(text)) + [ctx.vocab.text_end]


def _request(head: list[int], ctx_ids: list[int], target: list[int], group: np.ndarray, score: np.ndarray) -> ScoreRequest:
    ids = np.asarray(head + ctx_ids + target, dtype=np.int64)
    n0 = len(head) + len(ctx_ids)
    mask = np.zeros(len(ids), dtype=bool)
    mask[n0:] = score
    grp = np.zeros(len(ids), dtype=np.int64)
    grp[n0:] = group
    return ScoreRequest(ids, mask, grp)


def cross_modal_requests(ctx, utterances: list[tuple[str, np.ndarray]]) -> list[ScoreRequest]:
    """Four requests per utterance: text alone, text | audio, audio alone, audio | text.

    Groups: 0 = text tokens (incl. ``<|text_end|>``), 1 + q = audio codebook q.
    """
    vocab, layout = ctx.vocab, ctx.layout
    head = [ctx.bos_id] if ctx.bos_id is not None else []
    out = []
    for text, codes in utterances:
        t = _text_ids(ctx, text)
        body = np.asarray(layout.encode(np.asarray(codes, dtype=np.int64)), dtype=np.int64)
        cb = np.asarray(layout.codebook_index(body), dtype=np.int64)
        a_ids = [vocab.audio_start] + [int(x) for x in body]
        a_grp = np.concatenate([[0], np.maximum(cb, 0) + 1])
        a_score = np.concatenate([[False], cb >= 0])
        t_grp = np.zeros(len(t), dtype=np.int64)
        t_score = np.ones(len(t), dtype=bool)
        t_score[0] = False  # <|text_start|> is the prompt's, not the transcript's
        out += [
            _request(head, [], t, t_grp, t_score),
            _request(head, a_ids + [vocab.audio_end], t, t_grp, t_score),
            _request(head, [], a_ids, a_grp, a_score),
            _request(head, t, a_ids, a_grp, a_score),
        ]
    return out


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    x = np.asarray(x, dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def cross_modal_metrics(sums: np.ndarray, counts: np.ndarray, seconds: np.ndarray, codebooks: list[int]) -> dict:
    """Gains and the NLL vector from the grouped scores of :func:`cross_modal_requests` (4 per utterance)."""
    s = sums.reshape(-1, 4, sums.shape[1])
    c = counts.reshape(-1, 4, counts.shape[1])
    nll = lambda k, g: -s[:, k, g].sum(-1) / np.maximum(c[:, k, g].sum(-1), 1)  # noqa: E731  per utterance
    text, audio = [0], list(range(1, sums.shape[1]))
    text_alone, text_after = nll(0, text), nll(1, text)
    audio_alone, audio_after = nll(2, audio), nll(3, audio)
    tg, tg_se = _mean_se(text_alone - text_after)
    ag, ag_se = _mean_se(audio_alone - audio_after)
    res = {
        "text_gain_nats": tg, "text_gain_stderr": tg_se,
        "audio_gain_nats": ag, "audio_gain_stderr": ag_se,
        "text_nll_alone": float(text_alone.mean()), "text_nll_after_audio": float(text_after.mean()),
        "audio_nll_alone": float(audio_alone.mean()), "audio_nll_after_text": float(audio_after.mean()),
    }
    # the NLL vector, token-weighted over the conditioned sequences (text | audio, audio | text)
    t_sum, t_cnt = -s[:, 1, 0].sum(), c[:, 1, 0].sum()
    vec = {"bits_per_text_token": float(t_sum / max(t_cnt, 1) / math.log(2))}
    a_sum = 0.0
    for q in codebooks:
        g = 1 + q
        if g >= s.shape[2] or c[:, 3, g].sum() == 0:
            continue
        v = float(-s[:, 3, g].sum() / c[:, 3, g].sum())
        vec["nll_semantic" if q == 0 else f"nll_acoustic_{q}"] = v
        a_sum += float(-s[:, 3, g].sum())
    if seconds.sum() > 0:
        vec["bits_per_audio_second"] = a_sum / math.log(2) / float(seconds.sum())
    res["nll_vector"] = vec
    res.update(vec)
    return res


def run_cross_modal(ctx, task: str, folder, opts) -> tuple[dict, list]:
    """The ``cross_modal`` task on the test utterances of a prepared speech set."""
    from audiolm.eval.tasks import _check_codes, _window, load_speech_split

    cuts = sorted(load_speech_split(task, folder, "test"), key=lambda c: c.id)[: opts.max_items or None]
    codes = ctx.encode_cuts(task, {c.id: c for c in cuts}, [c.id for c in cuts])
    frame_rate = float(ctx.get_codec(task).frame_rate)
    utts = [(c.supervisions[0].text, _check_codes(codes[c.id], ctx.layout, task)) for c in cuts]
    reqs = cross_modal_requests(ctx, utts)
    n_groups = 1 + max(ctx.layout.codebooks) + 1
    sums, counts = score_requests_by_group(ctx.model, reqs, n_groups=n_groups, batch_tokens=opts.batch_tokens,
                                           max_len=_window(ctx, opts), pad_id=ctx.pad_id, device=ctx.device)
    seconds = np.asarray([np.asarray(u[1]).shape[1] / frame_rate for u in utts])
    res = cross_modal_metrics(sums, counts, seconds, list(ctx.layout.codebooks))
    res["n"] = len(utts)
    return res, []
