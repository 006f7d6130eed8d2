"""Small, honest stand-ins for tests and notebooks: a Llama-3-shaped text tokenizer, a tiny BPE,
random documents and lhotse Shar token shards like ``audiolm tokenize`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_SPECIALS = [
    "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
    "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|eom_id|>", "<|eot_id|>", "<|python_tag|>",
] + [f"<|reserved_special_token_{i}|>" for i in range(3, 248)]

WORDS = (
    "the a cat dog sat ran on under mat home far away from and with river stone green quiet "
    "morning evening people spoke about music light water small large city old new"
).split()


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(3, 10)))) for _ in range(n)]


def llama3_like_tokenizer(texts: Sequence[str] | None = None, model_vocab: int = 128000):
    """A text tokenizer shaped like Llama-3's ``tokenizer.json``: a byte-level BPE model with
    ``model_vocab`` ids (a small trained BPE padded with unreachable filler tokens), the Llama-3
    pre-tokenizer regex, then Llama-3's 256 special tokens (``<|begin_of_text|>`` = 128000,
    ``<|end_of_text|>`` = 128001) and a BOS-adding post-processor. Full size 128256.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts or sentences(300)), trainer)
    js = json.loads(tok.to_str())
    vocab = js["model"]["vocab"]
    n = len(vocab)
    for i in range(n, model_vocab):
        vocab[f"<filler_{i}>"] = i
    tok = Tokenizer.from_str(json.dumps(js))
    tok.add_special_tokens(LLAMA3_SPECIALS)
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
        special_tokens=[("<|begin_of_text|>", model_vocab)],
    )
    return tok


def tiny_tokenizer(n_codebooks: int = 4, codebook_size: int = 64, vocab_size: int = 400, seed: int = 0):
    """A unified tokenizer over a tiny byte-level BPE trained on :func:`sentences`."""
    from audiolm.tokens.tokenizer import train_bpe

    return train_bpe(sentences(400, seed), vocab_size, 2, n_codebooks, codebook_size)


def random_documents(n_docs: int, n_codebooks: int = 4, codebook_size: int = 64, seed: int = 0,
                     utterances: tuple[int, int] = (1, 6), frames: tuple[int, int] = (3, 40)) -> list[tuple]:
    """``[(doc_id, [(codes (n_q, T), text), ...]), ...]`` with random codes and sentences."""
    rng = np.random.default_rng(seed)
    docs = []
    for d in range(n_docs):
        utts = []
        for u in range(int(rng.integers(*utterances))):
            T = int(rng.integers(*frames))
            utts.append((rng.integers(0, codebook_size, (n_codebooks, T)), f"doc{d} utt{u} " + sentences(1, seed * 100003 + d * 101 + u)[0]))
        docs.append((f"doc{d:05d}", utts))
    return docs


def write_token_shards(out_dir, documents: Sequence[tuple], codebook_size: int = 64, frame_rate: float = 12.5,
                       shard_size: int = 20, drop_codes: Sequence[str] = (), codec_json: bool = True) -> Path:
    """Write documents as a lhotse Shar token directory (``cuts`` + ``codes`` + ``codec.json``).

    Each utterance is a cut (no recording) whose supervision carries the text and
    ``custom={"document", "position"}``; ``codes`` is attached as a ``(T, n_q)`` int16 TemporalArray
    with frame shift ``1/frame_rate``. Cut ids in ``drop_codes`` get no codes.
    """
    from lhotse import CutSet, MonoCut, SupervisionSegment

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cuts = []
    n_q = 0
    for doc_id, utts in documents:
        for pos, (codes, text) in enumerate(utts):
            cid = f"{doc_id}-{pos:04d}"
            dur = codes.shape[1] / frame_rate
            n_q = codes.shape[0]
            sup = SupervisionSegment(id=cid, recording_id=cid, start=0.0, duration=dur, text=text,
                                     speaker="spk", language="en", custom={"document": doc_id, "position": pos})
            cut = MonoCut(id=cid, start=0.0, duration=dur, channel=0, supervisions=[sup])
            if cid not in drop_codes:
                cut = cut.attach_tensor("codes", np.asarray(codes, dtype=np.int16).T.copy(), frame_shift=1.0 / frame_rate, temporal_dim=0)
            cuts.append(cut)
    CutSet.from_cuts(cuts).to_shar(str(out), fields={"codes": "numpy"}, shard_size=shard_size)
    if codec_json:
        (out / "codec.json").write_text(json.dumps({"spec": "test", "sample_rate": 24000, "frame_rate": frame_rate,
                                                    "n_codebooks": n_q, "codebook_size": codebook_size}))
    return out


def take_batches(dm, n: int) -> list[dict]:
    """The first ``n`` training batches of a DataModule, as Lightning consumes them (tests)."""
    out = []
    for i, b in enumerate(dm.train_dataloader()):
        if i >= n:
            break
        out.append(dm.on_before_batch_transfer(b, 0))  # what Lightning does with each consumed batch
    return out
