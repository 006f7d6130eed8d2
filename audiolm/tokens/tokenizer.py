"""The unified text + audio tokenizer, stored as one Hugging Face ``tokenizer.json``.

Ids: the text tokenizer's full vocabulary ``[0, V)`` (its own special tokens included, e.g. 128256
for Llama-3), then ``<|text_start|> <|text_end|> <|audio_start|> <|audio_end|>`` at ``V..V+3``,
then the audio tokens ``V+4 + q*codebook_size + code``. Audio tokens are registered as added
tokens whose content is their PUA character (``chr(0xE000 + q*2048 + code)``, see
:mod:`audiolm.tokens.vocab`), so the one file encodes an interleaved PUA-string document to
exactly the unified ids and decodes it back (``encode`` / ``decode``), with ``tokenizers`` or
``transformers.PreTrainedTokenizerFast(tokenizer_file=...)``.

The PUA block of 8x2048 codes runs past U+F8FF into code points that real text can contain
(CJK compatibility ideographs, fullwidth forms, ...). Therefore ``encode_text`` never goes through
the audio added tokens: it uses the plain text tokenizer (the same file without the audio block),
so text is tokenized exactly as by the original text tokenizer.

BOS/EOS come from the text tokenizer (``<|begin_of_text|>``/``<|end_of_text|>`` for Llama-3 and for
the project's own BPE; other common names and a BOS-adding post-processor are recognised; a
tokenizer without BOS uses EOS for both). ``pad_id`` is ``eos_id``: padded positions are never
labels (-100) and never attended to (document id -1), so the pad id's value does not matter and
no extra id is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tokenizers import AddedToken, Tokenizer

from audiolm.tokens.vocab import PUA_BASE, SPECIAL_TOKENS, Vocabulary, pua_stride

BOS_NAMES = ("<|begin_of_text|>", "<s>", "<bos>", "[BOS]", "<|startoftext|>", "<|bos|>")
EOS_NAMES = ("<|end_of_text|>", "</s>", "<eos>", "[EOS]", "<|endoftext|>", "<|eos|>")


class TokenizerError(ValueError):
    """A tokenizer file that cannot become (or is not) a unified tokenizer; the message says why."""


def _load_tokenizer(src) -> Tokenizer:
    if isinstance(src, Tokenizer):
        return src
    p = Path(src)
    if not p.is_file():
        raise FileNotFoundError(f"tokenizer file {p} not found (expected a Hugging Face tokenizer.json)")
    try:
        return Tokenizer.from_file(str(p))
    except Exception as e:
        raise TokenizerError(f"{p}: not a readable Hugging Face tokenizer.json ({e})") from None


def _template_bos(tok_json: dict) -> str | None:
    """The special token a TemplateProcessing post-processor puts first (Llama-3's BOS)."""
    pp = tok_json.get("post_processor")
    stack = [pp]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        if node.get("type") == "Sequence":
            stack.extend(node.get("processors", []))
        elif node.get("type") == "TemplateProcessing":
            single = node.get("single") or []
            if single and "SpecialToken" in single[0]:
                return single[0]["SpecialToken"]["id"]
    return None


def _find_bos_eos(tok: Tokenizer, tok_json: dict, bos_token: str | None, eos_token: str | None, limit: int):
    def find(names):
        for n in names:
            i = tok.token_to_id(n)
            if i is not None and i < limit:
                return n
        return None

    eos = eos_token or find(EOS_NAMES)
    if eos is None or tok.token_to_id(eos) is None:
        raise TokenizerError(
            f"no end-of-text token found (looked for {', '.join(EOS_NAMES)}); pass eos_token= explicitly"
        )
    bos = bos_token or _template_bos(tok_json) or find(BOS_NAMES) or eos
    if tok.token_to_id(bos) is None:
        raise TokenizerError(f"bos token {bos!r} is not in the tokenizer")
    return bos, eos


class UnifiedTokenizer:
    """Text tokenizer + four span tags + audio ids, as one HF tokenizer (see module docstring)."""

    def __init__(self, hf: Tokenizer, text: Tokenizer, vocab: Vocabulary, bos_token: str, eos_token: str) -> None:
        self.hf = hf  # unified: encodes/decodes PUA documents
        self.text = text  # text only: encode_text/decode_text
        self.vocab = vocab
        self.bos_token, self.eos_token = bos_token, eos_token
        self.bos_id: int = hf.token_to_id(bos_token)
        self.eos_id: int = hf.token_to_id(eos_token)
        self.pad_id: int = self.eos_id

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_text_tokenizer(
        cls,
        src,
        n_codebooks: int = 8,
        codebook_size: int = 2048,
        bos_token: str | None = None,
        eos_token: str | None = None,
    ) -> "UnifiedTokenizer":
        """Wrap a plain text tokenizer (path to a tokenizer.json or a ``tokenizers.Tokenizer``)."""
        text = _load_tokenizer(src)
        text_str = text.to_str()
        if isinstance(src, Tokenizer):  # keep our own copy of a caller's object
            text = Tokenizer.from_str(text_str)
        tok_json = json.loads(text_str)
        vocab_map = text.get_vocab(with_added_tokens=True)
        V = text.get_vocab_size(with_added_tokens=True)
        if max(vocab_map.values()) + 1 != V or len(vocab_map) != V:
            raise TokenizerError(f"text tokenizer ids are not dense 0..{V - 1}; cannot place the specials after them")
        clash = [t for t in SPECIAL_TOKENS if t in vocab_map]
        if clash:
            raise TokenizerError(f"text tokenizer already contains {clash}: is it already a unified tokenizer?")
        bos, eos = _find_bos_eos(text, tok_json, bos_token, eos_token, V)
        vocab = Vocabulary(V, n_codebooks, codebook_size)
        hf = Tokenizer.from_str(text_str)
        hf.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
        stride = pua_stride(codebook_size)
        chars = [chr(PUA_BASE + q * stride + c) for q in range(n_codebooks) for c in range(codebook_size)]
        hf.add_tokens([AddedToken(ch, special=False, normalized=False) for ch in chars])
        out = cls(hf, text, vocab, bos, eos)
        out._check_layout()
        return out

    @classmethod
    def from_file(
        cls,
        path,
        n_codebooks: int = 8,
        codebook_size: int = 2048,
        bos_token: str | None = None,
        eos_token: str | None = None,
    ) -> "UnifiedTokenizer":
        """Load a unified tokenizer.json; a plain text tokenizer.json is wrapped (with the given sizes).

        For a unified file the codebook count and size are read from its audio tokens (their PUA
        characters say which codebook they belong to); ``n_codebooks``/``codebook_size`` are only
        used to wrap a plain text tokenizer, or for codebooks bigger than 2048 entries.
        """
        hf = _load_tokenizer(path)
        V = hf.token_to_id(SPECIAL_TOKENS[0])
        if V is None:
            return cls.from_text_tokenizer(hf, n_codebooks, codebook_size, bos_token, eos_token)
        tok_json = json.loads(hf.to_str())
        added = tok_json.get("added_tokens", [])
        audio = sorted((a["id"], a["content"]) for a in added if a["id"] >= V + 4)
        if not audio:
            raise TokenizerError(f"{path}: has the span tags but no audio tokens")
        offs = np.array([ord(c[1]) - PUA_BASE if len(c[1]) == 1 else -1 for c in audio], dtype=np.int64)
        ids = np.array([a[0] for a in audio], dtype=np.int64)
        if codebook_size <= 2048:  # fixed stride: the characters name their codebook
            stride = 2048
            q, c = offs // stride, offs % stride
            n_q, cs = int(q.max()) + 1, int(c.max()) + 1
        else:
            stride = cs = codebook_size
            n_q = len(audio) // cs
        vocab = Vocabulary(V, n_q, cs)
        expect_ids = np.arange(V + 4, V + 4 + n_q * cs)
        expect_offs = (expect_ids - V - 4) // cs * stride + (expect_ids - V - 4) % cs
        if len(ids) != len(expect_ids) or (ids != expect_ids).any() or (offs != expect_offs).any():
            raise TokenizerError(f"{path}: audio tokens are not the PUA block of {n_q} codebooks x {cs}")
        text_json = dict(tok_json)
        text_json["added_tokens"] = [a for a in added if a["id"] < V]
        text = Tokenizer.from_str(json.dumps(text_json))
        bos, eos = _find_bos_eos(text, text_json, bos_token, eos_token, V)
        out = cls(hf, text, vocab, bos, eos)
        out._check_layout()
        return out

    def _check_layout(self) -> None:
        v = self.vocab
        for i, t in enumerate(SPECIAL_TOKENS):
            if self.hf.token_to_id(t) != v.text_vocab_size + i:
                raise TokenizerError(f"{t} got id {self.hf.token_to_id(t)}, expected {v.text_vocab_size + i}")
        if self.hf.get_vocab_size(with_added_tokens=True) != v.size:
            raise TokenizerError(
                f"unified size {self.hf.get_vocab_size(with_added_tokens=True)} != {v.size}: some audio PUA "
                "characters were already tokens of the text tokenizer"
            )
        for q, c in ((0, 0), (v.n_codebooks - 1, v.codebook_size - 1)):
            ch = chr(int(v.audio_id_to_pua(v.audio_id(q, c))))
            if self.hf.token_to_id(ch) != v.audio_id(q, c):
                raise TokenizerError(f"audio token ({q}, {c}) did not get id {v.audio_id(q, c)}")

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.hf.save(str(path))
        return path

    # -- ids ------------------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return self.vocab.size

    @property
    def text_vocab_size(self) -> int:
        return self.vocab.text_vocab_size

    def encode_text(self, text: str) -> list[int]:
        """Text ids only (no BOS/EOS, no tags); exactly what the text tokenizer gives."""
        return self.text.encode(text, add_special_tokens=False).ids

    def encode_text_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.text.encode_batch(list(texts), add_special_tokens=False)]

    def decode_text(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        """Decode the text ids among ``ids`` (tags and audio ids are ignored)."""
        arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        keep = arr[(arr >= 0) & (arr < self.vocab.text_vocab_size)]
        return self.text.decode(keep.tolist(), skip_special_tokens=skip_special_tokens)

    def encode(self, document: str) -> list[int]:
        """A whole interleaved document in string form (text, tags, PUA audio) -> unified ids."""
        return self.hf.encode(document, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        """Unified ids -> string form (tags spelled out, audio as PUA characters)."""
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=False)

    def __repr__(self) -> str:
        v = self.vocab
        return (
            f"UnifiedTokenizer(text_vocab_size={v.text_vocab_size}, n_codebooks={v.n_codebooks}, "
            f"codebook_size={v.codebook_size}, size={v.size}, bos={self.bos_token}, eos={self.eos_token})"
        )


def train_bpe(
    texts: Iterable[str],
    vocab_size: int = 8192,
    min_frequency: int = 2,
    n_codebooks: int = 8,
    codebook_size: int = 2048,
) -> UnifiedTokenizer:
    """Train a byte-level BPE (specials ``<|begin_of_text|>``=0, ``<|end_of_text|>``=1) and unify it."""
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return UnifiedTokenizer.from_text_tokenizer(tok, n_codebooks, codebook_size)
