"""What the evaluation needs from a checkpoint, and codec encodings of benchmark audio (cached).

:class:`EvalContext` bundles the model (any ``nn.Module`` whose ``forward(input_ids)`` returns
logits ``[B, L, V]``), the unified tokenizer, the token layout and the codec spec. The codec is
loaded on first use with ``audiolm.codec.load_codec(codec_spec)``.

Encodings of benchmark audio are cached per (codec, item): in memory on the context (so a
training callback encodes each item once) and on disk under ``cache_dir/<codec key>/<task>/``.
The codec key hashes the spec, the codec's shape and the spec file's size and mtime, so a
retrained codec at the same path does not reuse stale codes.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("audiolm")


ENCODE_BATCH = 16  # clips per codec call, as `audiolm tokenize` batches them
ENCODE_BATCH_SECONDS = 600.0  # and at most this much padded audio per call


class MissingCodecError(RuntimeError):
    pass


@dataclass
class EvalContext:
    model: torch.nn.Module
    tokenizer: object
    layout: object
    codec_spec: str | None = None
    device: str = "cpu"
    codec: object | None = None
    cache_dir: Path | None = None
    max_len: int | None = None  # the model's context length (sequences are cut from the left past it)
    trained_len: int | None = None  # the rows it was trained on (data.seq_len): scored contexts are cut to it
    _codes: dict = field(default_factory=dict, repr=False)  # codes by (codec, task, item); also judge memos
    #: results that hold for one model state only (run_tasks clears it): e.g. the transcript and
    #: translation stages that s2tt and s2st share
    run_memo: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_loaded(cls, loaded, device: str = "cpu", cache_dir: Path | None = None,
                    codec_spec: str | None = None) -> "EvalContext":
        """The context of a :class:`~audiolm.lm.loaded.LoadedLM` (a checkpoint, a HF folder, or the
        module being trained); ``codec_spec`` overrides the one it names."""
        if loaded.tokenizer is None or loaded.layout is None:
            raise ValueError("the model was trained without a tokenizer; it cannot be prompted or scored")
        cfg = loaded.config
        return cls(model=loaded.model, tokenizer=loaded.tokenizer, layout=loaded.layout,
                   codec_spec=codec_spec or loaded.codec_spec, device=device,
                   cache_dir=Path(cache_dir) if cache_dir else None,
                   max_len=getattr(getattr(cfg, "model", None), "max_seq_len", None),
                   trained_len=getattr(getattr(cfg, "data", None), "seq_len", None))

    @property
    def vocab(self):
        return self.tokenizer.vocab

    @property
    def bos_id(self) -> int | None:
        return getattr(self.tokenizer, "bos_id", None)

    @property
    def pad_id(self) -> int:
        pad = getattr(self.tokenizer, "pad_id", None)
        return int(pad) if pad is not None else 0

    def get_codec(self, task: str = ""):
        if self.codec is None:
            if not self.codec_spec:
                raise MissingCodecError(
                    f"{task or 'eval'}: the checkpoint names no codec (codec_spec is empty) and audio must be "
                    "encoded/decoded: pass --codec SPEC (a codec checkpoint path or mimi:PATH)"
                )
            from audiolm.codec import load_codec

            self.codec = load_codec(self.codec_spec, device=self.device).eval()
        return self.codec

    # ---------------------------------------------------------------- audio -> codes

    def codec_key(self) -> str:
        codec = self.codec
        spec = str(getattr(codec, "spec", None) or self.codec_spec or type(codec).__name__)
        parts = [spec] + [str(getattr(codec, a, "")) for a in ("sample_rate", "frame_rate", "n_codebooks", "codebook_size")]
        path = spec.split(":", 1)[-1]
        if os.path.exists(path):
            st = os.stat(path)
            parts += [str(st.st_size), str(int(st.st_mtime))]
        return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]

    def encode_cuts(self, task: str, cuts, cut_ids) -> dict[str, np.ndarray]:
        """Codec codes ``int[n_q, T]`` for each cut id (one pass of the codec per uncached cut)."""
        codec = self.get_codec(task)
        key = self.codec_key()
        out: dict[str, np.ndarray] = {}
        disk = Path(self.cache_dir) / key / task if self.cache_dir else None
        todo = []
        for cid in dict.fromkeys(cut_ids):
            cut = cuts[cid]
            ident = _cut_identity(cut)
            mem_key = (key, task, ident)
            if mem_key in self._codes:
                out[cid] = self._codes[mem_key]
                continue
            f = disk / (hashlib.sha1(ident.encode()).hexdigest() + ".npy") if disk else None
            if f is not None and f.is_file():
                try:
                    out[cid] = self._codes[mem_key] = np.load(f)
                    continue
                except (OSError, ValueError):
                    pass
            todo.append((cid, cut, mem_key, f))
        if todo:
            for k, codes in self._encode_batched(codec, [t[1] for t in todo]):
                cid, _, mem_key, f = todo[k]
                out[cid] = self._codes[mem_key] = codes
                if f is not None:
                    try:
                        f.parent.mkdir(parents=True, exist_ok=True)
                        tmp = f.with_name(f"{f.stem}.{os.getpid()}.tmp.npy")
                        np.save(tmp, codes)
                        os.replace(tmp, f)  # whole or absent: --jobs workers and other runs share the cache
                    except OSError as e:  # a read-only data folder: keep going without the disk cache
                        log.warning("cannot write the codes cache %s (%s)", f.parent, e)
                        disk = None
        return out

    def _encode_batched(self, codec, cuts):
        """Yield ``(k, int16 [n_q, T] codes)`` for each of ``cuts``, encoded the way ``audiolm
        tokenize`` encodes the training audio: clips of similar length in one zero-padded batch
        (:func:`audiolm.codec.api.encode_padded`; several times faster than one by one for short
        clips). Audio is read batch by batch."""
        from audiolm.codec.api import encode_padded, length_batches
        from audiolm.codec.audio import load_cut

        sizes = [int(c.duration * codec.sample_rate) for c in cuts]
        for batch in length_batches(sizes, ENCODE_BATCH, ENCODE_BATCH_SECONDS * codec.sample_rate):
            audio = [load_cut(cuts[k], int(codec.sample_rate)) for k in batch]  # checked source and header, mono
            for k, codes in zip(batch, encode_padded(codec, audio)):
                yield k, codes.astype(np.int16)

    def decode_codes(self, codes: np.ndarray, task: str = "") -> tuple[np.ndarray, int]:
        """Codes ``int[n_q, T]`` (codebooks 0..n_q-1) -> waveform float32 at the codec rate."""
        codec = self.get_codec(task)
        from audiolm.codec.api import module_device

        dev = module_device(codec, self.device)
        with torch.no_grad():
            wav = codec.decode(torch.as_tensor(np.asarray(codes, dtype=np.int64))[None].to(dev))
        return wav[0, 0].float().cpu().numpy(), int(codec.sample_rate)


def _cut_identity(cut) -> str:
    rec = getattr(cut, "recording", None)
    src = ""
    if rec is not None:
        src = "|".join(
            (s.source if isinstance(s.source, str) else hashlib.sha1(bytes(s.source)).hexdigest()) for s in rec.sources
        )
    return f"{cut.id}|{src}|{getattr(cut, 'start', 0):.4f}|{cut.duration:.4f}"
