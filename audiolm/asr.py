"""Speech recognition as a measuring instrument: the offline ASR judge, text normalisation and WER.

One home for the codec benchmarks (``reconstruction_metrics(asr=True)``, ``bench_codec --asr``),
the evaluation's TTS / S2ST judges and the ASR task, so that "WER" is the same measure
everywhere: the same judge input (mono, 16 kHz, peak-normalised), the same normalisation,
corpus-level counts (torchmetrics). Speaker similarity lives beside it in :mod:`audiolm.speaker`.

Judges (``make_asr_judge(spec)``):

- ``pocketsphinx`` (default, offline; :class:`audiolm.asr.PocketSphinxJudge`, the codec benchmarks'
  judge too): the en-us acoustic model, dictionary and language model that
  the ``pocketsphinx`` wheel ships. Weak on synthetic voices: read it next to ``wer_reference``
  (the same judge on the ground-truth audio), which every TTS report carries.
- ``whisper:PATH`` or a local folder holding a Whisper model saved by ``transformers``
  (``WhisperForConditionalGeneration`` + its processor).
- ``corpus:CORPUS_DIR`` (offline, for the embedded corpus): a phone recogniser trained on the
  corpus' train split (cached in ``CORPUS_DIR/.judge/``) + a word loop over the corpus lexicon
  (``audiolm.codec.intelligibility.CorpusRecognizer``); WER 0.06 on real recordings of that corpus'
  voices, 0.53 on held-out voices (docs/evaluation.md).

Normalisation (references and hypotheses alike, Whisper-English style but small): Unicode NFKC,
lower case, ``&`` -> ``and``, apostrophes dropped inside words (``don't`` -> ``dont``), every other
punctuation mark -> space, whitespace collapsed. Digits are kept as they are.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

JUDGE_RATE = 16000
_PUNCT = re.compile(r"[^\w\s]", flags=re.UNICODE)
_APOS = re.compile(r"(?<=\w)['’](?=\w)")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = text.replace("&", " and ")
    text = _APOS.sub("", text)
    text = _PUNCT.sub(" ", text).replace("_", " ")
    return _SPACE.sub(" ", text).strip()


def wer_cer(references: Sequence[str], hypotheses: Sequence[str], normalize: bool = True) -> dict:
    """Corpus-level WER and CER (errors / reference length over all pairs), after normalisation."""
    from torchmetrics.text import CharErrorRate, WordErrorRate

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    refs = [normalize_text(r) if normalize else r for r in references]
    hyps = [normalize_text(h) if normalize else h for h in hypotheses]
    if not refs:
        return {"wer": float("nan"), "cer": float("nan")}
    return {"wer": float(WordErrorRate()(hyps, refs)), "cer": float(CharErrorRate()(hyps, refs))}


def to_rate(wav: np.ndarray, sr: int, rate: int = JUDGE_RATE) -> np.ndarray:
    """Mono float32 at ``rate`` (the package's one resampler)."""
    from audiolm.resample import resample

    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim > 1:
        wav = wav.mean(axis=0)
    return resample(wav, int(sr), rate)


class ASRJudge(Protocol):
    name: str

    def transcribe(self, wavs: Sequence[np.ndarray], sample_rate: int) -> list[str]: ...


class PocketSphinxJudge:
    """pocketsphinx with the en-us model bundled in its wheel (no download)."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        try:
            import pocketsphinx
        except ImportError as e:  # a declared dependency
            raise RuntimeError("the pocketsphinx ASR judge needs the 'pocketsphinx' package") from e
        self._decoder = pocketsphinx.Decoder(loglevel="FATAL")

    def transcribe(self, wavs: Sequence[np.ndarray], sample_rate: int) -> list[str]:
        out = []
        for wav in wavs:
            a = to_rate(wav, sample_rate)
            peak = float(np.abs(a).max()) if a.size else 0.0
            if peak < 1e-4:
                out.append("")
                continue
            pcm = (np.clip(a / peak * 0.5, -1, 1) * 32767).astype(np.int16).tobytes()
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
            out.append(hyp.hypstr if hyp is not None else "")
        return out


class WhisperJudge:
    """A Whisper model from a local folder (``transformers`` format)."""

    name = "whisper"

    def __init__(self, path: str | Path, device: str = "cpu", max_new_tokens: int = 128) -> None:
        from transformers import AutoProcessor, WhisperForConditionalGeneration

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"whisper judge: no config.json in {path} (save a Whisper model there with save_pretrained)")
        self.processor = AutoProcessor.from_pretrained(path)
        self.model = WhisperForConditionalGeneration.from_pretrained(path).to(device).eval()
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.name = f"whisper:{path}"

    def transcribe(self, wavs: Sequence[np.ndarray], sample_rate: int) -> list[str]:
        import torch

        if not len(wavs):
            return []
        audio = [to_rate(w, sample_rate) for w in wavs]
        feats = self.processor.feature_extractor(audio, sampling_rate=JUDGE_RATE, return_tensors="pt").input_features
        kw = {"max_new_tokens": self.max_new_tokens}
        gc = getattr(self.model, "generation_config", None)
        if gc is not None and "<|en|>" in (getattr(gc, "lang_to_id", None) or {}):
            kw.update(language="en", task="transcribe")
        with torch.no_grad():
            ids = self.model.generate(feats.to(self.device, self.model.dtype), **kw)
        return [t.strip() for t in self.processor.tokenizer.batch_decode(ids, skip_special_tokens=True)]


def make_asr_judge(spec: str = "pocketsphinx", device: str = "cpu") -> ASRJudge:
    if spec in ("", "pocketsphinx"):
        return PocketSphinxJudge()
    if spec.startswith("whisper:"):
        return WhisperJudge(spec.split(":", 1)[1], device)
    if spec.startswith("corpus:"):
        from audiolm.codec.intelligibility import CorpusRecognizer

        return CorpusRecognizer.from_corpus(spec.split(":", 1)[1])
    if Path(spec).is_dir():
        return WhisperJudge(spec, device)
    raise ValueError(f"unknown ASR judge {spec!r}: use 'pocketsphinx', 'whisper:PATH', 'corpus:CORPUS_DIR' or a "
                     "local Whisper folder")
