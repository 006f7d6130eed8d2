"""Codec measurements as functions (the benchmarks and the quickstart report call these).

* :func:`reconstruction_metrics` -- mel distance, STOI (pystoi), PESQ (if ``pesq`` imports), bitrate,
  codebook utilisation, and optionally an offline ASR word error rate (pocketsphinx) on the
  originals and the reconstructions: the "are the words recognisable" figure.
* :func:`real_time_factor` -- encode/decode speed on one CPU core (x real time).
* :func:`semantic_probe` -- how well per-frame phones (from the corpus alignments) are predicted
  from the tokens of one codebook (a small classifier over a window of token embeddings),
  codebook 0 vs the last codebook.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from audiolm.asr import PocketSphinxJudge, wer_cer
from audiolm.resample import resample

from .audio import LogMel, load_cut
from .phones import frame_labels, phone_inventory

log = logging.getLogger("audiolm")


def _cuts_list(cuts, max_cuts: int):
    out = []
    for c in cuts:
        if max_cuts and len(out) >= max_cuts:
            break
        out.append(c)
    return out


def _encode_all(codec, cuts, max_seconds: float | None = None):
    """-> list of (cut, audio np [S], codes np [n_q, T]) for the readable cuts."""
    items = []
    for cut in cuts:
        try:
            audio = load_cut(cut, codec.sample_rate)
        except Exception as e:
            log.warning("metrics: skipping unreadable %s (%s)", cut.id, e)
            continue
        if max_seconds:
            audio = audio[: int(max_seconds * codec.sample_rate)]
        if audio.size == 0:
            continue
        codes = codec.encode(torch.from_numpy(audio)[None, None])[0].cpu()
        items.append((cut, audio, codes))
    return items


def _stoi(ref: np.ndarray, deg: np.ndarray, sr: int) -> float:
    from pystoi import stoi

    return float(stoi(ref, deg, sr, extended=False))


def _pesq(ref: np.ndarray, deg: np.ndarray, sr: int) -> float | None:
    try:
        from pesq import pesq
    except Exception:
        return None
    try:
        return float(pesq(16000, resample(ref, sr, 16000), resample(deg, sr, 16000), "wb"))
    except Exception:
        return None


@torch.no_grad()
def reconstruction_metrics(codec, cuts, *, max_cuts: int = 50, max_seconds: float = 10.0, asr: bool = False,
                           n_codebooks: int | None = None) -> dict:
    """Reconstruction quality of ``codec`` on ``cuts`` (first ``max_cuts``), averaged over cuts.

    ``n_codebooks`` decodes from the first k codebooks only. ``asr=True`` adds pocketsphinx WER on
    originals (``wer_original``) and reconstructions (``wer_reconstruction``) against the transcripts.
    """
    cuts = _cuts_list(cuts, max_cuts)
    sr = codec.sample_rate
    mel = LogMel(sr, n_fft=1024, hop=256, n_mels=80)
    items = _encode_all(codec, cuts, max_seconds)
    recognizer = None
    if asr:
        try:
            recognizer = PocketSphinxJudge()  # the evaluation's judge and WER: the same measure
        except Exception as e:  # pragma: no cover - pocketsphinx missing
            log.warning("ASR unavailable: %s", e)
    mel_d, stois, pesqs = [], [], []
    heard: dict[str, list] = {"original": [], "reconstruction": []}
    refs: list[str] = []
    all_codes = []
    for cut, audio, codes in items:
        k = n_codebooks or codes.shape[0]
        rec = codec.decode(codes[None, :k])[0, 0].cpu().numpy()[: audio.size]
        if rec.size < audio.size:
            rec = np.pad(rec, (0, audio.size - rec.size))
        a, b = torch.from_numpy(audio)[None], torch.from_numpy(rec)[None]
        mel_d.append(float((mel(a) - mel(b)).abs().mean()))
        if audio.size > sr // 4:
            stois.append(_stoi(audio, rec, sr))
            p = _pesq(audio, rec, sr)
            if p is not None:
                pesqs.append(p)
        all_codes.append(codes)
        text = " ".join(s.text or "" for s in cut.supervisions)
        if recognizer is not None and text.strip():
            refs.append(text)
            for key, x in (("original", audio), ("reconstruction", rec)):
                heard[key] += recognizer.transcribe([x], sr)
    res: dict = {"n_cuts": len(items), "mel_distance": float(np.mean(mel_d)) if mel_d else float("nan"),
                 "stoi": float(np.mean(stois)) if stois else float("nan"),
                 "pesq": float(np.mean(pesqs)) if pesqs else None,
                 "bitrate_bps": codec.frame_rate * (n_codebooks or codec.n_codebooks) * math.log2(codec.codebook_size),
                 "frame_rate": codec.frame_rate, "n_codebooks": n_codebooks or codec.n_codebooks,
                 "codebook_size": codec.codebook_size}
    if all_codes:
        cat = torch.cat(all_codes, -1)
        per = []
        for q in range(cat.shape[0]):
            counts = torch.bincount(cat[q].long(), minlength=codec.codebook_size).float()
            p = counts / counts.sum()
            ent = float(-(p[p > 0] * p[p > 0].log2()).sum())
            per.append({"used_fraction": float((counts > 0).float().mean()), "entropy_bits": ent,
                        "perplexity": 2 ** ent})
        res["codebook_utilization"] = per
        res["mean_used_fraction"] = float(np.mean([u["used_fraction"] for u in per]))
    if recognizer is not None and refs:
        for key, hyps in heard.items():
            res[f"wer_{key}"] = wer_cer(refs, hyps)["wer"]
    return res


@torch.no_grad()
def real_time_factor(codec, seconds: float = 10.0, repeats: int = 3, threads: int = 1, batch: int = 1) -> dict:
    """Encode/decode speed on ``threads`` CPU threads as multiples of real time (higher = faster).

    Measured as CPU time of this process (``time.process_time``), so a busy machine does not
    distort it; on an idle machine it equals wall time for one thread."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        wav = torch.from_numpy((0.1 * rng.standard_normal((batch, 1, int(seconds * codec.sample_rate)))).astype(np.float32))
        wav = wav.to(codec.device)
        codes = codec.encode(wav)  # warm-up
        codec.decode(codes)
        t = time.process_time()
        for _ in range(repeats):
            codes = codec.encode(wav)
        enc = (time.process_time() - t) / repeats
        t = time.process_time()
        for _ in range(repeats):
            codec.decode(codes)
        dec = (time.process_time() - t) / repeats
    finally:
        torch.set_num_threads(old)
    audio_s = seconds * batch
    return {"encode_x_realtime": audio_s / max(enc, 1e-9), "decode_x_realtime": audio_s / max(dec, 1e-9),
            "threads": threads, "seconds": audio_s}


class _Probe(nn.Module):
    def __init__(self, vocab: int, context: int, n_classes: int, dim: int = 64):
        super().__init__()
        self.context = context
        self.emb = nn.Embedding(vocab, dim)
        self.mix = nn.Conv1d(dim, 128, 2 * context + 1, padding=context)
        self.out = nn.Conv1d(128, n_classes, 1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, C, T]
        return self.out(F.gelu(self.mix(self.emb(tokens).transpose(1, 2))))


def _train_probe(seqs, labels, vocab: int, n_classes: int, context: int, steps: int, seed: int):
    torch.manual_seed(seed)
    probe = _Probe(vocab, context, n_classes)
    opt = torch.optim.AdamW(probe.parameters(), lr=3e-3, weight_decay=1e-2)
    x = torch.nn.utils.rnn.pad_sequence([torch.as_tensor(s) for s in seqs], batch_first=True)
    y = torch.nn.utils.rnn.pad_sequence([torch.as_tensor(lab) for lab in labels], batch_first=True, padding_value=-100)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (min(32, x.shape[0]),), generator=g)
        loss = F.cross_entropy(probe(x[idx]), y[idx], ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return probe


def _accuracy(probe, seqs, labels) -> float:
    correct = total = 0
    with torch.no_grad():
        for s, lab in zip(seqs, labels):
            pred = probe(torch.as_tensor(s)[None]).argmax(1)[0]
            correct += int((pred == torch.as_tensor(lab)).sum())
            total += len(lab)
    return correct / max(total, 1)


@torch.no_grad()
def _codes_and_labels(codec, cuts, phones: list[str]):
    p2i = {p: i for i, p in enumerate(phones)}
    out = []
    for cut, _, codes in _encode_all(codec, cuts):
        labels = frame_labels(cut, 1.0 / codec.frame_rate, codes.shape[-1], p2i)
        out.append((codes.numpy().astype(np.int64), labels))
    return out


def semantic_probe(codec, cuts, test_cuts=None, *, codebooks: list[int] | None = None, context: int = 2,
                   steps: int = 400, max_cuts: int = 400, seed: int = 0) -> dict:
    """Phone accuracy predicted from single codebooks' tokens (default: codebook 0 and the last).

    Frame label = phone covering the frame centre (silence included, as ``<sil>``). The probe sees
    ``2*context+1`` frames of token embeddings. Without ``test_cuts`` the first 75 % of ``cuts`` train
    the probe and the rest test it. ``chance`` is the majority-class accuracy on the test frames.
    """
    train = _cuts_list(cuts, max_cuts)
    if test_cuts is None:
        n_tr = max(1, int(len(train) * 0.75))
        train, test = train[:n_tr], train[n_tr:]
    else:
        test = _cuts_list(test_cuts, max_cuts)
    phones = phone_inventory(train + test)
    if len(phones) <= 1:
        raise ValueError("semantic_probe needs cuts with phone alignments (supervision.alignment['phone'])")
    tr, te = _codes_and_labels(codec, train, phones), _codes_and_labels(codec, test, phones)
    if not tr or not te:
        raise ValueError("semantic_probe: not enough readable cuts")
    codebooks = codebooks if codebooks is not None else [0, codec.n_codebooks - 1]
    te_labels = np.concatenate([lab for _, lab in te])
    chance = float(np.bincount(te_labels).max() / len(te_labels))
    res = {"n_train_cuts": len(tr), "n_test_cuts": len(te), "n_phones": len(phones), "frame_rate": codec.frame_rate,
           "context_frames": context, "chance": chance, "accuracy": {}}
    with torch.enable_grad():
        for q in codebooks:
            probe = _train_probe([c[q] for c, _ in tr], [lab for _, lab in tr], codec.codebook_size, len(phones),
                                 context, steps, seed)
            res["accuracy"][str(q)] = _accuracy(probe, [c[q] for c, _ in te], [lab for _, lab in te])
    return res


@torch.no_grad()
def phone_recognition(codec, cuts, teacher, *, max_cuts: int = 50, max_seconds: float = 10.0) -> dict:
    """Frame phone accuracy of a phone recognizer (e.g. the run's ``teacher/phone_teacher.pt``) on the
    original audio and on the codec's reconstructions: an offline "are the phones recognisable" figure
    that works on the synthetic corpus, where a general-English ASR model mostly fails on the
    originals already."""
    from .teachers import PhoneTeacher

    if not isinstance(teacher, PhoneTeacher):
        teacher = PhoneTeacher.load(teacher)
    p2i = {p: i for i, p in enumerate(teacher.phones)}
    sr = codec.sample_rate
    hits = {"original": 0, "reconstruction": 0}
    total = 0
    for cut, audio, codes in _encode_all(codec, _cuts_list(cuts, max_cuts), max_seconds):
        rec = codec.decode(codes[None])[0, 0].cpu().numpy()[: audio.size]
        if rec.size < audio.size:
            rec = np.pad(rec, (0, audio.size - rec.size))
        for key, x in (("original", audio), ("reconstruction", rec)):
            x = resample(x, sr, teacher.sample_rate)
            pred = teacher.net(teacher.log_mel(torch.from_numpy(x)[None])).argmax(1)[0].numpy()
            labels = frame_labels(cut, 1.0 / teacher.frame_rate, len(pred), p2i)
            hits[key] += int((pred == labels).sum())
            if key == "original":
                total += len(labels)
    return {"n_frames": total, "phone_accuracy_original": hits["original"] / max(total, 1),
            "phone_accuracy_reconstruction": hits["reconstruction"] / max(total, 1)}
