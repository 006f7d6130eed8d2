"""espeak-ng speech synthesis in memory, through ctypes over the ``espeakng-loader`` wheel.

No system package and no root: the wheel ships ``libespeak-ng.so`` and its ``espeak-ng-data``
folder; we load the library, initialise it in synchronous mode and collect the samples and the
word / phoneme events that espeak reports through its synthesis callback.

    >>> from audiolm.data.espeak import Espeak, Voice
    >>> res = Espeak().synthesize("The cat sat on the mat.", Voice("en-us", "m3"))
    >>> res.audio.dtype, res.sample_rate, res.words[0]
    (dtype('float32'), 24000, ('The', 0.0..., 0.1...))

espeak synthesizes at 22,050 Hz; audio is resampled to 24 kHz (``OUTPUT_SAMPLE_RATE``) with a
polyphase filter (:func:`audiolm.resample.resample`: scipy's ``resample_poly``, 160/147). Timings are in seconds from the start
of the returned audio. ``words`` and ``phones`` are lists of ``(symbol, start_s, duration_s)``;
phone symbols are espeak's phoneme mnemonics (e.g. ``k``, ``'a``, ``t``), pauses (``_``) are left
out of ``phones`` (they only end the phone before them).

espeak-ng keeps one global synthesizer per process: :class:`Espeak` is a cheap handle on it,
serialised by a lock, so one process can call it many times (and from several threads). With
multiprocessing every process loads its own copy of the library.
"""

from __future__ import annotations

import bisect
import ctypes
import os
import re
import threading
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

OUTPUT_SAMPLE_RATE = 24000

# espeak_AUDIO_OUTPUT
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_Initialize options
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
# espeak_Synth flags
_CHARS_UTF8 = 1
# espeak_POSITION_TYPE
_POS_CHARACTER = 1
# espeak_PARAMETER
_P_RATE, _P_VOLUME, _P_PITCH, _P_RANGE, _P_PUNCTUATION, _P_CAPITALS, _P_WORDGAP = 1, 2, 3, 4, 5, 6, 7
# espeak_EVENT_TYPE
_EV_LIST_TERMINATED, _EV_WORD, _EV_SENTENCE, _EV_MARK, _EV_PLAY, _EV_END, _EV_MSG_TERMINATED, _EV_PHONEME = range(8)


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class EspeakError(RuntimeError):
    pass


@dataclass(frozen=True)
class Voice:
    """One espeak voice setting: a *speaker* of the synthetic corpus.

    ``name``: espeak language/voice (``en-us``, ``en``, ``en-gb-scotland``, ``en-029``, ...);
    ``variant``: a voice variant from ``espeak-ng-data/voices/!v`` (``m3``, ``f2``, ... or ``""``);
    ``pitch`` and ``range``: 0..100 (espeak's base pitch and pitch range, 50 = the variant's own);
    ``rate``: words per minute (80..450); ``word_gap``: extra pause between words in 10 ms units;
    ``gender``: ``"male"`` / ``"female"`` (metadata, taken from the variant).
    """

    name: str = "en-us"
    variant: str = ""
    pitch: int = 50
    rate: int = 175
    range: int = 50
    word_gap: int = 0
    volume: int = 100
    gender: str = "male"

    @property
    def spec(self) -> str:
        """The string given to ``espeak_SetVoiceByName`` (``name+variant``)."""
        return f"{self.name}+{self.variant}" if self.variant else self.name

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Voice":
        return cls(**d)


class SynthResult(NamedTuple):
    audio: np.ndarray  # float32, mono, OUTPUT_SAMPLE_RATE
    words: list  # [(word, start_s, duration_s)]
    phones: list  # [(phoneme mnemonic, start_s, duration_s)]

    @property
    def sample_rate(self) -> int:
        return OUTPUT_SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.audio) / OUTPUT_SAMPLE_RATE


def library_paths() -> tuple[str, str]:
    """(path of libespeak-ng, path of espeak-ng-data) inside the espeakng-loader wheel."""
    try:
        import espeakng_loader
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise EspeakError("the 'espeakng-loader' package is needed for espeak synthesis (pip install espeakng-loader)") from e
    lib, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    if not os.path.exists(lib):
        raise EspeakError(f"espeakng-loader ships no library at {lib}")
    return lib, data


class _Engine:
    """The process-wide espeak-ng instance (the C library is a singleton)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._events: list[tuple] = []
        self._callback = _CALLBACK(self._on_audio)  # keep a reference: the C side holds the pointer
        self._n_phonemes: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        self.lib = None
        self._load()

    def _load(self) -> None:
        lib_path, data_path = library_paths()
        lib = ctypes.CDLL(lib_path)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        ]
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Terminate.restype = ctypes.c_int
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed (data path {data_path})")
        lib.espeak_SetSynthCallback(self._callback)
        _seed_random(lib)
        self.lib = lib
        self.native_rate = rate
        self._voice: Voice | None = None
        self.dirty = False

    def reset(self) -> None:
        """Unload and reload the library: a fresh synthesizer state.

        espeak-ng keeps signal-generator state (pitch flutter phase, filter memories, echo
        buffer, ...) in static variables from one utterance to the next, so the same text comes out
        a few samples different after other speech. Reloading the library (about 30-40 ms) makes
        the next synthesis identical to the first one of a fresh process.
        """
        if not self.dirty:
            return
        import _ctypes

        self.lib.espeak_Terminate()
        _ctypes.dlclose(self.lib._handle)
        self.lib = None
        self._load()

    def _on_audio(self, wav, n, events) -> int:
        if n > 0 and wav:
            self._chunks.append(ctypes.string_at(wav, 2 * n))
        if events:
            i = 0
            while True:
                ev = events[i]
                t = ev.type
                if t == _EV_LIST_TERMINATED:
                    break
                if t == _EV_PHONEME:
                    self._events.append((t, ev.audio_position, ev.text_position, ev.length, ev.id.string))
                elif t in (_EV_WORD, _EV_SENTENCE, _EV_END, _EV_MSG_TERMINATED):
                    self._events.append((t, ev.audio_position, ev.text_position, ev.length, ev.id.number))
                i += 1
        return 0  # 0 = continue synthesis

    def set_voice(self, voice: Voice) -> None:
        if voice == self._voice:
            return
        lib = self.lib
        if lib.espeak_SetVoiceByName(voice.spec.encode()) != 0:
            self._voice = None
            raise EspeakError(f"espeak has no voice {voice.spec!r} (language + '+' + variant from espeak-ng-data/voices/!v)")
        for param, value in ((_P_RATE, voice.rate), (_P_PITCH, voice.pitch), (_P_RANGE, voice.range),
                             (_P_WORDGAP, voice.word_gap), (_P_VOLUME, voice.volume)):
            lib.espeak_SetParameter(param, int(value), 0)
        self._voice = voice

    def phonemes(self, text: str, voice: Voice) -> list[str]:
        """espeak's phoneme mnemonics for ``text`` (no audio)."""
        self.set_voice(voice)
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        out: list[str] = []
        for _ in range(10_000):  # one call per clause; the pointer is advanced (NULL at the end)
            if not ptr.value:
                break
            r = self.lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, ord(" ") << 8)
            if r:
                out += r.decode("utf-8", "replace").split()
        return out

    def n_phonemes(self, word: str, voice: Voice) -> int:
        key = (voice.name, word)
        n = self._n_phonemes.get(key)
        if n is None:
            n = self._n_phonemes[key] = len(self.phonemes(word, voice))
        return n

    def synth(self, text: str, voice: Voice) -> tuple[np.ndarray, list]:
        """Native-rate int16 samples and the raw events (audio_position in ms)."""
        self.set_voice(voice)
        self.dirty = True
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        self._chunks, self._events = [], []
        err = self.lib.espeak_Synth(buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            self._voice = None
            raise EspeakError(f"espeak_Synth failed with error {err} for {text[:60]!r}")
        self.lib.espeak_Synchronize()
        pcm = np.frombuffer(b"".join(self._chunks), dtype=np.int16)
        events, self._chunks, self._events = self._events, [], []
        return pcm, events


def _seed_random(lib) -> None:
    """espeak draws noise (breath, fricatives) from libc ``rand()`` (and, in recent versions, its own
    generator): seed both so a fresh state gives the same samples in any process."""
    try:
        ctypes.CDLL(None).srand(ctypes.c_uint(12345))
    except (OSError, AttributeError):  # pragma: no cover - non-glibc platforms
        pass
    if hasattr(lib, "espeak_ng_SetRandSeed"):
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed(12345)


_ENGINE: _Engine | None = None
_ENGINE_PID: int | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    global _ENGINE, _ENGINE_PID
    with _ENGINE_LOCK:
        if _ENGINE is None or _ENGINE_PID != os.getpid():
            # a forked child inherits the parent's initialised library; a fresh lock is all it needs
            if _ENGINE is not None:
                _ENGINE.lock = threading.Lock()
            else:
                _ENGINE = _Engine()
            _ENGINE_PID = os.getpid()
        return _ENGINE


def _resampler(native: int, target: int):
    from audiolm.resample import resample  # numpy in, numpy out: no torch in the synthesis workers

    return lambda x: resample(x, native, target)


@dataclass
class Espeak:
    """Handle on the process's espeak-ng synthesizer.

    ``deterministic`` (default): every :meth:`synthesize` starts from a fresh synthesizer state
    (see :meth:`reset`), so the same text and voice give the same samples whatever was spoken
    before; costs about 30-40 ms a call. With ``deterministic=False`` calls are faster but carry
    state over (a few samples of difference); call :meth:`reset` yourself at the start of each unit
    that must be reproducible (the synth corpus resets once per document).
    ``lead_s`` / ``tail_s``: silence added before and after each utterance (timings include the
    lead). Safe to call many times and from several threads.
    """

    deterministic: bool = True
    lead_s: float = 0.05
    tail_s: float = 0.1

    def __post_init__(self) -> None:
        self._resample = _resampler(_engine().native_rate, OUTPUT_SAMPLE_RATE)

    @property
    def native_sample_rate(self) -> int:
        return _engine().native_rate

    @property
    def sample_rate(self) -> int:
        return OUTPUT_SAMPLE_RATE

    def reset(self) -> None:
        """Fresh synthesizer state for the next call (no-op if nothing was spoken since)."""
        eng = _engine()
        with eng.lock:
            eng.reset()

    def phonemes(self, text: str, voice: Voice | None = None) -> list[str]:
        """espeak's phoneme mnemonics for ``text`` (no audio)."""
        eng = _engine()
        with eng.lock:
            return eng.phonemes(text, voice or Voice())

    def synthesize(self, text: str, voice: Voice | None = None) -> SynthResult:
        voice = voice or Voice()
        text = " ".join(text.split())  # newlines/tabs would become sentence breaks or be spoken
        eng = _engine()
        with eng.lock:
            if self.deterministic:
                eng.reset()
            pcm, events = eng.synth(text, voice) if text else (np.zeros(0, np.int16), [])
            speech_end = len(pcm) / eng.native_rate
            words, phones = _alignments(text, events, speech_end, lambda w: eng.n_phonemes(w, voice))
        x = pcm.astype(np.float32) / 32768.0
        y = self._resample(x) if len(x) else x
        lead = int(round(self.lead_s * OUTPUT_SAMPLE_RATE))
        tail = int(round(self.tail_s * OUTPUT_SAMPLE_RATE))
        audio = np.concatenate([np.zeros(lead, np.float32), y, np.zeros(tail, np.float32)])
        np.clip(audio, -1.0, 1.0, out=audio)
        off = lead / OUTPUT_SAMPLE_RATE
        words = [(w, round(s + off, 4), round(d, 4)) for w, s, d in words]
        phones = [(p, round(s + off, 4), round(d, 4)) for p, s, d in phones]
        return SynthResult(audio, words, phones)


def _is_pause(sym: str) -> bool:
    return sym == "" or sym.startswith("_")


_TOKEN = re.compile(r"\S+")
_PUNCT = "\"'`.,;:!?()[]{}<>«»“”‘’-—–…*/\\|"


def _tokens(text: str) -> list[tuple[int, int, str]]:
    """Whitespace tokens as (start, end, word without surrounding punctuation); pure punctuation dropped."""
    out = []
    for m in _TOKEN.finditer(text):
        w = m.group().strip(_PUNCT)
        if w:
            out.append((m.start(), m.end(), w))
    return out


def _split_counts(n: int, weights: list[int]) -> list[int]:
    """Split n items into len(weights) consecutive runs proportional to weights (each >= 0)."""
    total = sum(weights)
    if total == n:
        return list(weights)
    if total <= 0:
        weights, total = [1] * len(weights), len(weights)
    bounds = [round(n * sum(weights[: i + 1]) / total) for i in range(len(weights))]
    return [b - a for a, b in zip([0] + bounds[:-1], bounds)]


def _alignments(text: str, events: list, speech_end: float, count_phonemes) -> tuple[list, list]:
    """Turn raw events into word and phone (symbol, start, duration) lists, in seconds.

    A phone lasts until the next phoneme event (pause included). espeak reports one word event
    per *spoken group*: clitic groups ("in the", "do not") come as one event, so the text's
    whitespace tokens covered by one event share its phones, split by each token's phoneme count
    (``count_phonemes(word)``). Word symbols are the text's tokens without surrounding punctuation.
    """
    raw_phones: list[tuple[str, float]] = []
    raw_words: list[tuple[int, float, int]] = []  # (text index, event time, index into raw_phones)
    for t, pos_ms, tpos, length, ident in events:
        if t == _EV_PHONEME:
            sym = bytes(ident).split(b"\0", 1)[0].decode("utf-8", "replace")
            raw_phones.append((sym, pos_ms / 1000.0))
        elif t == _EV_WORD:
            raw_words.append((max(tpos - 1, 0), pos_ms / 1000.0, len(raw_phones)))
        elif t in (_EV_END, _EV_MSG_TERMINATED):
            raw_phones.append(("_", pos_ms / 1000.0))  # sentence end closes the last phone
    phones_iv: list[tuple[str, float, float]] = []
    for i, (sym, start) in enumerate(raw_phones):
        end = raw_phones[i + 1][1] if i + 1 < len(raw_phones) else speech_end
        start = min(start, speech_end)
        phones_iv.append((sym, start, min(max(end, start), speech_end)))
    phones = [(s, a, b - a) for s, a, b in phones_iv if not _is_pause(s)]

    toks = _tokens(text)
    if not toks or not raw_words:
        return [], phones
    starts = [a for a, _, _ in toks]
    # token index of each word event (the token holding its text position, else the next one)
    groups: list[tuple[int, float, int]] = []  # (first token, event time, phone index)
    for tpos, t0, pidx in raw_words:
        k = bisect.bisect_right(starts, tpos) - 1
        if k < 0 or tpos >= toks[k][1]:
            k += 1
        k = min(max(k, 0), len(toks) - 1)
        if groups and k <= groups[-1][0]:
            continue  # a second event inside the same token (numbers, abbreviations): same group
        groups.append((k, t0, pidx))
    groups[0] = (0, groups[0][1], groups[0][2])  # text before the first event belongs to it
    words = []
    for g, (k, t0, pidx) in enumerate(groups):
        k_end = groups[g + 1][0] if g + 1 < len(groups) else len(toks)
        p_end = groups[g + 1][2] if g + 1 < len(groups) else len(phones_iv)
        seg = [(a, b) for s, a, b in phones_iv[pidx:p_end] if not _is_pause(s)]
        names = [toks[i][2] for i in range(k, k_end)]
        if not seg:
            for w in names:
                words.append((w, min(t0, speech_end), 0.0))
            continue
        counts = _split_counts(len(seg), [count_phonemes(w) for w in names]) if len(names) > 1 else [len(seg)]
        j = 0
        for w, c in zip(names, counts):
            if c <= 0:  # no phone of its own: a zero-length word at the boundary
                at = seg[min(j, len(seg) - 1)][0] if j < len(seg) else seg[-1][1]
                words.append((w, at, 0.0))
                continue
            a, b = seg[j][0], seg[j + c - 1][1]
            words.append((w, a, b - a))
            j += c
    return words, phones
