"""``LMDataModule``: packed, mixed, DDP-aware, exactly resumable LM batches on lhotse token shards.

Training data is an infinite stream (budgets are in tokens): every reader (DDP rank x dataloader
worker) walks its own disjoint share of the shards epoch after epoch, reshuffled by
``(seed, epoch)`` (see :mod:`audiolm.tokens.sources`), builds documents in ``config.formats``, mixes
in text documents at ``config.text_ratio`` of the tokens and packs ``batch_size x seq_len`` rows
(:mod:`audiolm.tokens.packing`). Batches are dicts of tensors: ``input_ids``, ``labels``,
``position_ids``, ``document_ids``, ``modality`` (of the label token), ``audio_seconds`` (float64
scalar: seconds of audio whose tokens are labels) and ``n_audio_frames``.

Exact resume: every training batch carries its reader's stream state; the module's
``on_before_batch_transfer`` hook (called by Lightning for each batch the loop actually consumes)
records it and removes it from the batch, and :meth:`state_dict` (stored by Lightning in every
checkpoint, gathered from all ranks) holds each reader's last consumed state. A run restarted
from the checkpoint re-creates every reader at its state and re-maps dataloader workers to
readers so that batch ``k+1`` comes from the same reader as before: the resumed run sees exactly
the batches the uninterrupted run would have seen. This needs the same seed, world size and
``num_workers``; with others the stream restarts at the next epoch (logged). A LightningModule
used with this data module must not override ``on_before_batch_transfer`` (Lightning would use
the data module's anyway, with a warning).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from audiolm.skips import SkipReport
from audiolm.tokens.layout import make_layout
from audiolm.tokens.packing import check_mixture, mix_documents, pack_arrays, pack_documents
from audiolm.tokens.sources import (
    FileTextSource,
    MemorySpeechSource,
    MemoryTextSource,
    ShardSpeechSource,
    SpeechReader,
    TextReader,
    read_codec_info,
)
from audiolm.tokens.stream import ItemBuilder, TrainStream, epoch_of, skips_from_dict
from audiolm.tokens.string_form import StringFormSource, chain
from audiolm.tokens.tokenizer import UnifiedTokenizer

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # workers are forked after the tokenizer is used
log = logging.getLogger("audiolm")
STATE_VERSION = 1


@dataclass
class DataConfig:
    """Data for LM training (``data:`` in an LM config; presets in ``conf/data/``)."""

    tokenizer: str = ""  # unified tokenizer.json
    train_shards: list[str] = field(default_factory=list)  # Shar dirs of `audiolm tokenize`
    val_shards: list[str] = field(default_factory=list)
    text_train: list[str] = field(default_factory=list)  # text_*.jsonl[.gz] ({"id", "text"})
    text_val: list[str] = field(default_factory=list)
    string_train: list[str] = field(default_factory=list)  # SODA string-form docs (.jsonl[.gz|.zst]/.parquet, "text")
    string_val: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=lambda: ["text_first", "audio_first"])
    layout: str = "frame_major"  # frame_major | delay
    codebooks: list[int] = field(default_factory=lambda: list(range(8)))
    text_ratio: float = 0.05  # share of text-only tokens
    seq_len: int = 4096
    batch_size: int = 8  # rows per device and step
    num_workers: int = 2
    seed: int = 0
    max_doc_tokens: int = 0  # cut documents at utterance boundaries beyond this (0 = seq_len)
    val_max_batches: int = 0  # 0 = the whole validation set
    #: translation formats (s2st/s2tt): the last prompt part, no loss on it (none|src_audio|src_text|tgt_text)
    prompt: str = "src_audio"

    def validate(self, *, require_data: bool = False) -> "DataConfig":
        """The data rules, in one place (``audiolm train lm`` and the data module call it); one-line
        errors naming the ``data.`` key. ``require_data``: the config itself must name training data."""
        from audiolm.config import ConfigError
        from audiolm.tokens.documents import FORMATS, TRANSLATION_FORMATS
        from audiolm.tokens.translation import PROMPTS

        def bad(key: str, msg: str) -> None:
            raise ConfigError(f"data.{key}: {msg}")

        if self.seq_len < 2:
            bad("seq_len", f"must be >= 2, got {self.seq_len}")
        if self.batch_size < 1:
            bad("batch_size", f"must be positive, got {self.batch_size}")
        if self.layout not in ("frame_major", "delay"):
            bad("layout", f"{self.layout!r} is not frame_major or delay")
        if not self.formats or any(f not in FORMATS for f in self.formats):
            bad("formats", f"{list(self.formats)}: each must be one of {', '.join(FORMATS)}")
        pairs = [f for f in self.formats if f in TRANSLATION_FORMATS]
        if pairs and len(pairs) != len(self.formats):
            bad("formats", f"{list(self.formats)}: translation formats read pair documents and cannot be mixed "
                           "with the pretraining formats")
        if self.prompt not in PROMPTS:
            bad("prompt", f"{self.prompt!r} is not one of {', '.join(PROMPTS)}")
        if not 0.0 <= self.text_ratio <= 1.0:
            bad("text_ratio", f"must be in [0, 1], got {self.text_ratio}")
        if require_data:
            try:
                check_mixture(bool(self.train_shards or self.string_train), bool(self.text_train), self.text_ratio,
                              speech_key="data.train_shards", text_key="data.text_train")
            except ValueError as e:
                raise ConfigError(f"data.train_shards: {e}") from None
        return self


def _to_torch(batch: dict, tokens_per_frame: int, frame_rate: float) -> dict:
    out = {k: torch.from_numpy(batch[k]) for k in ("input_ids", "labels", "position_ids", "document_ids", "modality")}
    frames = batch["n_audio_labels"] / tokens_per_frame
    out["n_audio_frames"] = torch.tensor(frames, dtype=torch.float64)
    out["audio_seconds"] = torch.tensor(frames / frame_rate, dtype=torch.float64)
    return out


@dataclass
class StreamProgress:
    """What the training loop consumed: each role's last stream state and the batch count."""

    consumed: dict = field(default_factory=dict)  # role -> stream state after its last consumed batch
    n_batches: int = 0
    start_epoch: int = 0


class PackedTrainDataset(IterableDataset):
    """The training stream of one rank; each dataloader worker plays one reader (role).

    Every new iterator (a new dataloader epoch, or a fresh dataloader) starts right after the last
    *consumed* batch recorded in ``progress``, so re-iterating never repeats data.
    """

    def __init__(self, speech, text, builder: ItemBuilder, cfg: DataConfig, rank: int, world: int,
                 progress: StreamProgress, n_roles: int, frame_rate: float) -> None:
        self.speech, self.text, self.builder, self.cfg = speech, text, builder, cfg
        self.rank, self.world, self.progress, self.n_roles = rank, world, progress, n_roles
        self.frame_rate = frame_rate

    def __iter__(self):
        info = get_worker_info()
        wid, W = (info.id, info.num_workers) if info is not None else (0, 1)
        if W != self.n_roles:
            raise ValueError(f"dataloader has {W} workers but the stream was planned for {self.n_roles}")
        p = self.progress
        role = (wid + p.n_batches) % W  # the next batch comes from the role an uninterrupted run would use
        stream = TrainStream(
            self.speech, self.text, self.builder, self.cfg.text_ratio, self.cfg.seq_len, self.cfg.batch_size,
            seed=self.cfg.seed, reader=self.rank * W + role, n_readers=self.world * W,
            state=p.consumed.get(role), start_epoch=p.start_epoch,
        )
        K = self.builder.layout.tokens_per_frame
        for batch, state in stream:
            out = _to_torch(batch, K, self.frame_rate)
            out["_state"] = {"role": role, "state": state}
            yield out


class LMDataModule(L.LightningDataModule):
    """See the module docstring. ``tokenizer`` defaults to ``UnifiedTokenizer.from_file(config.tokenizer)``."""

    def __init__(
        self,
        config: DataConfig,
        tokenizer: UnifiedTokenizer | None = None,
        *,
        speech_train=None,
        text_train=None,
        speech_val=None,
        text_val=None,
        frame_rate: float | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        if tokenizer is None:
            if not config.tokenizer:
                raise ValueError("DataConfig.tokenizer is empty: give the path of the unified tokenizer.json")
            tokenizer = UnifiedTokenizer.from_file(config.tokenizer)
        self.tokenizer = tokenizer
        self.vocab = tokenizer.vocab
        config.validate()
        self.layout = make_layout(config.layout, list(config.codebooks), self.vocab)
        self.builder = ItemBuilder(tokenizer, self.layout, tuple(config.formats), config.max_doc_tokens or config.seq_len,
                                   prompt=config.prompt)
        self._given = dict(speech_train=speech_train, text_train=text_train, speech_val=speech_val, text_val=text_val)
        self._frame_rate = frame_rate
        self._rank, self._world = rank, world_size
        self._prepared = False
        self._progress = StreamProgress()
        self._loaded: dict | None = None
        self._val_cache: list | None = None
        self.val_skips = SkipReport("validation data")
        self.codec_info = None  # CodecInfo of the shards (None: no codec.json)

    # -- construction helpers -------------------------------------------------------------------
    @classmethod
    def from_documents(
        cls,
        tokenizer: UnifiedTokenizer,
        train: Sequence[tuple] = (),
        text: Sequence = (),
        val: Sequence[tuple] = (),
        val_text: Sequence = (),
        config: DataConfig | None = None,
        frame_rate: float = 12.5,
        docs_per_unit: int = 8,
        **kw,
    ) -> "LMDataModule":
        """In-memory data: documents ``[(doc_id, [(codes (n_q, T), text), ...]), ...]`` and texts."""
        mk = lambda docs: MemorySpeechSource(docs, docs_per_unit) if len(docs) else None  # noqa: E731
        mt = lambda texts: MemoryTextSource(texts, max(1, docs_per_unit * 4)) if len(texts) else None  # noqa: E731
        return cls(config or DataConfig(), tokenizer, speech_train=mk(train), text_train=mt(text),
                   speech_val=mk(val), text_val=mt(val_text), frame_rate=frame_rate, **kw)

    # -- topology -------------------------------------------------------------------------------
    def _dist(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if self._rank is not None or self._world is not None:
            return int(self._rank or 0), int(self._world or 1)
        if trainer is not None:
            return int(trainer.global_rank), int(trainer.world_size)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))

    @property
    def n_roles(self) -> int:
        return max(1, self.config.num_workers)

    @property
    def tokens_per_frame(self) -> int:
        return self.layout.tokens_per_frame

    @property
    def frame_rate(self) -> float:
        self._prepare()
        return float(self._frame_rate)

    # -- setup ----------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        self._prepare()

    def _prepare(self) -> None:
        if self._prepared:
            return
        cfg, g = self.config, self._given
        strings = lambda paths: StringFormSource(paths) if paths else None  # noqa: E731
        self.speech_train = g["speech_train"] or chain(ShardSpeechSource(cfg.train_shards) if cfg.train_shards else None,
                                                       strings(cfg.string_train))
        self.text_train = g["text_train"] or (FileTextSource(cfg.text_train) if cfg.text_train else None)
        self.speech_val = g["speech_val"] or chain(ShardSpeechSource(cfg.val_shards) if cfg.val_shards else None,
                                                   strings(cfg.string_val))
        self.text_val = g["text_val"] or (FileTextSource(cfg.text_val) if cfg.text_val else None)
        dirs = list(cfg.train_shards) + list(cfg.val_shards)
        if dirs:
            self.codec_info = read_codec_info(dirs)
            if self.codec_info is not None:
                self._check_codec(self.codec_info)
                if self._frame_rate is None:
                    self._frame_rate = self.codec_info.frame_rate
            elif self._frame_rate is None:
                self._frame_rate = _frame_rate_from_cuts(self.speech_train or self.speech_val)
                log.warning("no codec.json beside %s: frame rate %.3f taken from the codes' frame shift", dirs[0], self._frame_rate)
        if self._frame_rate is None:
            self._frame_rate = 12.5
        if self.text_train is None and 0.0 < cfg.text_ratio < 1.0 and self.speech_train is not None:
            log.warning("text_ratio=%s but no text_train corpus: training on speech documents only", cfg.text_ratio)
        self._prepared = True

    def _check_codec(self, info) -> None:
        info.check_fits(self.vocab, self.layout.codebooks, "codec.json of the token shards")

    # -- training -------------------------------------------------------------------------------
    def _apply_loaded_state(self) -> None:
        sd, self._loaded = self._loaded, None
        if sd is None:
            return
        rank, world = self._dist()
        same = (
            sd.get("version") == STATE_VERSION
            and sd.get("world_size") == world
            and sd.get("num_workers") == self.n_roles
            and sd.get("seed") == self.config.seed
            and str(rank) in sd.get("ranks", {})
        )
        p = self._progress
        if same:
            local = sd["ranks"][str(rank)]
            p.consumed = {int(k): v for k, v in local["roles"].items()}
            p.n_batches = int(local["n_batches"])
            p.start_epoch = int(sd.get("start_epoch", 0))
            return
        epochs = [epoch_of(st) for r in sd.get("ranks", {}).values() for st in r.get("roles", {}).values()]
        p.start_epoch = max(epochs or [0]) + 1
        p.consumed, p.n_batches = {}, 0
        log.warning(
            "data state from a run with world_size=%s num_workers=%s seed=%s (now %s/%s/%s): "
            "cannot continue the same stream; starting fresh streams at epoch %d",
            sd.get("world_size"), sd.get("num_workers"), sd.get("seed"), world, self.n_roles, self.config.seed,
            p.start_epoch,
        )

    def train_tokens_per_epoch(self) -> int:
        """Tokens in one pass over the training data as the stream builds them (speech documents, plus
        the text share ``text_ratio`` on top); what ``trainer.epochs`` multiplies. Reads the data once."""
        self._prepare()
        speech = 0
        if self.speech_train is not None:
            r = SpeechReader(self.speech_train, 0, 1, self.config.seed, shuffle=False)
            while (rec := r.take(None, finite=True)) is not None:
                speech += sum(len(d) for d in self.builder.speech(rec, None))
        if self.speech_train is None or self.config.text_ratio >= 1.0:
            if self.text_train is None:
                return 0
            r = TextReader(self.text_train, 0, 1, self.config.seed, shuffle=False)
            text = 0
            while (rec := r.take(None, finite=True)) is not None:
                text += sum(len(d) for d in self.builder.text(rec, None))
            return text
        return int(round(speech / (1.0 - self.config.text_ratio)))

    def train_dataloader(self) -> DataLoader:
        self._prepare()
        self._apply_loaded_state()
        rank, world = self._dist()
        ds = PackedTrainDataset(self.speech_train, self.text_train, self.builder, self.config, rank, world,
                                self._progress, self.n_roles, self.frame_rate)
        nw = self.config.num_workers
        return DataLoader(ds, batch_size=None, num_workers=nw, pin_memory=torch.cuda.is_available(),
                          prefetch_factor=4 if nw else None)

    def on_before_batch_transfer(self, batch, dataloader_idx: int = 0):
        """Record the stream state of each consumed training batch (and drop it from the batch)."""
        if isinstance(batch, dict) and "_state" in batch:
            st = batch.pop("_state")
            self._progress.consumed[int(st["role"])] = st["state"]
            self._progress.n_batches += 1
        return batch

    def state_dict(self) -> dict:
        self._apply_loaded_state()
        rank, world = self._dist()
        p = self._progress
        local = {"n_batches": p.n_batches, "roles": {str(k): v for k, v in p.consumed.items()}}
        ranks = {str(rank): local}
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list = [None] * world
            torch.distributed.all_gather_object(gathered, (rank, local))
            ranks = {str(r): loc for r, loc in gathered}
        return {
            "version": STATE_VERSION, "seed": self.config.seed, "world_size": world,
            "num_workers": self.n_roles, "start_epoch": p.start_epoch, "ranks": ranks,
        }

    def load_state_dict(self, state_dict: dict) -> None:
        self._loaded = state_dict

    # -- reports --------------------------------------------------------------------------------
    def skip_report(self) -> SkipReport:
        """Bad-input counts of the consumed training batches (this rank) plus validation."""
        rep = SkipReport("data")
        for st in self._progress.consumed.values():
            part = skips_from_dict("", st.get("skips"))
            rep.skipped.update(part.skipped)
            rep.repaired.update(part.repaired)
        rep.skipped.update(self.val_skips.skipped)
        rep.repaired.update(self.val_skips.repaired)
        return rep

    def achieved_text_share(self) -> float:
        """Text-only share of the tokens taken so far by this rank's readers."""
        states = self._progress.consumed.values()
        sp = sum(st["mix"][0] for st in states)
        tx = sum(st["mix"][1] for st in states)
        return tx / (sp + tx) if sp + tx else 0.0

    # -- validation -----------------------------------------------------------------------------
    def val_batches(self) -> list[dict]:
        """The validation set as packed batches (deterministic; this rank's share; cached)."""
        if self._val_cache is not None:
            return self._val_cache
        self._prepare()
        cfg = self.config
        rank, world = self._dist()
        counter = {"speech": 0, "text": 0}

        def mine(kind: str) -> bool:
            counter[kind] += 1
            return (counter[kind] - 1) % world == rank

        def speech_items():
            if self.speech_val is None:
                return
            r = SpeechReader(self.speech_val, 0, 1, cfg.seed, shuffle=False)
            while True:
                keep = mine("speech")
                rec = r.take(self.val_skips if keep else None, finite=True)
                if rec is None:
                    return
                if keep:
                    yield self.builder.speech(rec, self.val_skips)

        def text_docs():
            if self.text_val is None:
                return
            r = TextReader(self.text_val, 0, 1, cfg.seed, shuffle=False)
            while True:
                keep = mine("text")
                rec = r.take(self.val_skips if keep else None, finite=True)
                if rec is None:
                    return
                if keep:
                    yield from self.builder.text(rec, self.val_skips)

        ratio = cfg.text_ratio if self.speech_val is not None else 1.0
        if self.text_val is None:
            ratio = 0.0
        docs = mix_documents(speech_items(), text_docs(), ratio)
        K, fr = self.tokens_per_frame, self.frame_rate
        batches = []
        for b in pack_documents(docs, cfg.seq_len, cfg.batch_size, self.tokenizer.pad_id):
            batches.append(_to_torch(b, K, fr))
            if cfg.val_max_batches and len(batches) >= cfg.val_max_batches:
                break
        n = len(batches)
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            t = torch.tensor([n], dtype=torch.long)
            if torch.distributed.get_backend() == "nccl":
                t = t.cuda()
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
            n = int(t.item())
        while len(batches) < n:  # equal batch counts on every rank: pad with empty batches
            empty = pack_arrays(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, bool), np.zeros(0, bool),
                                None, cfg.seq_len, cfg.batch_size, self.tokenizer.pad_id)
            empty["n_audio_labels"] = 0
            batches.append(_to_torch(empty, K, fr))
        self._val_cache = batches
        if self.val_skips.skipped or self.val_skips.repaired:
            log.info(self.val_skips.summary())
        return batches

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_batches(), batch_size=None, num_workers=0)


def _frame_rate_from_cuts(source) -> float:
    """Frame rate from the ``codes`` frame shift in the first cut of a Shar source (no codec.json)."""
    from audiolm.shard_urls import iter_lines

    if source is None or not getattr(source, "units", None):
        return 12.5
    try:  # a local file or a pipe:/URL address, gzip or not
        for line in iter_lines(source.units[0].cuts):
            if line.strip():
                codes = (json.loads(line).get("custom") or {}).get("codes")
                if codes and codes.get("frame_shift"):
                    return 1.0 / float(codes["frame_shift"])
    except (OSError, EOFError, ValueError) as e:
        raise ValueError(f"{source.units[0].cuts}: unreadable ({e}) and no codec.json beside it to give the frame rate") from None
    return 12.5


__all__ = ["DataConfig", "LMDataModule", "PackedTrainDataset"]
