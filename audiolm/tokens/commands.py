"""``audiolm tokens ...``: train a BPE, wrap a text tokenizer, look into token shards."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterator

from audiolm.textfiles import open_compressed
from audiolm.skips import SkipReport


# -- train-bpe ---------------------------------------------------------------------------------
def _audio_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shards", default=None, metavar="DIR",
                   help="token shards of `audiolm tokenize`: take the codebooks and their size from DIR's codec description")
    p.add_argument("--n-codebooks", type=int, default=None, help="audio codebooks (default: from --shards, else 8)")
    p.add_argument("--codebook-size", type=int, default=None, help="codes per codebook (default: from --shards, else 2048)")


def _audio_shape(args) -> tuple[int, int]:
    """(n_codebooks, codebook_size): the flags, else the shards' codec description, else Mimi's 8 x 2048."""
    n_q, size = args.n_codebooks, args.codebook_size
    if args.shards:
        from audiolm.token_shards import read_codec_info

        info = read_codec_info(args.shards)
        if info is None:
            raise FileNotFoundError(f"{args.shards}: no codec description ({args.shards}.meta/codec.json): not the output "
                                    "of `audiolm tokenize`")
        for flag, given, have in (("--n-codebooks", n_q, info.n_codebooks), ("--codebook-size", size, info.codebook_size)):
            if given is not None and given != have:
                raise ValueError(f"{flag} {given} disagrees with {args.shards}'s codec ({have})")
        return info.n_codebooks, info.codebook_size
    return (8 if n_q is None else n_q), (2048 if size is None else size)


def configure_tokens_train_bpe(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="cuts_*.jsonl.gz (transcripts), text jsonl[.gz|.zst] ({'id','text'}) or .txt files; "
                        "a directory stands for its cuts_train.jsonl.gz and text_train.jsonl.gz")
    p.add_argument("out", metavar="OUT", help="unified tokenizer.json to write")
    p.add_argument("--vocab-size", type=int, default=8192, help="text BPE vocabulary size incl. BOS/EOS (default 8192)")
    p.add_argument("--min-frequency", type=int, default=2)
    _audio_args(p)
    p.add_argument("--max-texts", type=int, default=0, help="stop after this many texts (0 = all)")


def _expand(inputs) -> list[Path]:
    files = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            found = [p / n for n in ("cuts_train.jsonl.gz", "text_train.jsonl.gz") if (p / n).is_file()]
            if not found:
                raise FileNotFoundError(f"{p}: no cuts_train.jsonl.gz or text_train.jsonl.gz inside")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"training text {p} not found (expected cuts_*.jsonl.gz, text jsonl or .txt)")
    return files


def iter_training_texts(files, skips: SkipReport) -> Iterator[str]:
    """Transcripts of cut manifests and texts of text corpora, bad lines counted in ``skips``."""
    for p in files:
        with open_compressed(p) as f:
            for n, raw in enumerate(f):
                where = f"{p.name}:{n + 1}"
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    skips.skip("non-UTF-8 text", where)
                    continue
                if p.name.endswith(".txt"):
                    texts = [line.strip()]
                else:
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError:
                        skips.skip("invalid JSON line", where)
                        continue
                    if isinstance(obj, dict) and "supervisions" in obj:
                        texts = [s.get("text") or "" for s in obj["supervisions"]]
                    elif isinstance(obj, dict) and isinstance(obj.get("text"), str):
                        texts = [obj["text"]]
                    else:
                        skips.skip("no text field", where)
                        continue
                for t in texts:
                    if t and t.strip():
                        yield t
                    else:
                        skips.skip("empty transcript", where)


def run_tokens_train_bpe(args) -> int:
    from audiolm.tokens.tokenizer import train_bpe

    files = _expand(args.inputs)
    skips = SkipReport("train-bpe")
    count = [0]

    def texts():
        for t in iter_training_texts(files, skips):
            if args.max_texts and count[0] >= args.max_texts:
                return
            count[0] += 1
            yield t

    n_q, size = _audio_shape(args)
    tok = train_bpe(texts(), args.vocab_size, args.min_frequency, n_q, size)
    if count[0] == 0:
        raise SystemExit(f"no training text found in {[str(f) for f in files]}")
    tok.save(args.out)
    print(f"trained on {count[0]} texts from {len(files)} files -> {args.out}")
    print(tok)
    print(skips.summary())
    return 0


# -- build -------------------------------------------------------------------------------------
def configure_tokens_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("text_tokenizer", metavar="HF_TOKENIZER_JSON", help="a Hugging Face tokenizer.json (e.g. Llama-3's)")
    p.add_argument("out", metavar="OUT", help="unified tokenizer.json to write")
    _audio_args(p)
    p.add_argument("--bos", default=None, help="BOS token name (default: detected)")
    p.add_argument("--eos", default=None, help="EOS token name (default: detected)")


def run_tokens_build(args) -> int:
    from audiolm.tokens.tokenizer import UnifiedTokenizer

    n_q, size = _audio_shape(args)
    tok = UnifiedTokenizer.from_text_tokenizer(args.text_tokenizer, n_q, size, args.bos, args.eos)
    tok.save(args.out)
    v = tok.vocab
    print(f"{args.out}: {tok}")
    print(f"  text ids 0..{v.text_vocab_size - 1}, tags {v.text_start}..{v.audio_end}, audio(0,0)={v.audio_id(0, 0)}")
    return 0


# -- show --------------------------------------------------------------------------------------
def configure_tokens_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("shard_dir", metavar="SHARD_DIR", help="a token shard directory (lhotse Shar, from `audiolm tokenize`)")
    p.add_argument("-n", "--documents", type=int, default=3, help="how many documents (default 3)")
    p.add_argument("--utterances", type=int, default=4, help="utterances shown per document (0 = all)")
    p.add_argument("--pua", action="store_true", help="print audio as its PUA string instead of a code summary")
    p.add_argument("--tokenizer", default=None, help="unified tokenizer.json: also count tokens per format")
    p.add_argument("--layout", default="frame_major")


def _audio_summary(codes, frame_rate: float) -> str:
    n_q, T = codes.shape
    head = " ".join(str(int(c)) for c in codes[0, :8])
    return f"[{T} frames, {T / frame_rate:.2f}s, {n_q} codebooks; q0: {head}{' ...' if T > 8 else ''}]"


def run_tokens_show(args) -> int:
    from audiolm.tokens.sources import find_shards, load_shard, read_codec_info
    from audiolm.tokens.vocab import SPECIAL_TOKENS, codes_to_pua

    units = find_shards([args.shard_dir])
    info = read_codec_info([args.shard_dir])
    fr = info.frame_rate if info else 12.5
    cs = info.codebook_size if info else 2048
    tok = layout = None
    if args.tokenizer:
        from audiolm.tokens.layout import make_layout
        from audiolm.tokens.tokenizer import UnifiedTokenizer

        tok = UnifiedTokenizer.from_file(args.tokenizer)
        layout = make_layout(args.layout, None, tok.vocab)
    print(f"{args.shard_dir}: {len(units)} shards; codec {info or '(no codec.json)'}")
    shown = 0
    for u in units:
        for doc_id, utts, notes in load_shard(u):
            if shown >= args.documents:
                return 0
            shown += 1
            secs = sum(c.shape[1] for c, _ in utts if c is not None) / fr
            print(f"\n== document {doc_id}: {len(utts)} utterances, {secs:.1f}s of audio")
            for kind, reason, item in notes:
                print(f"   ({kind}: {reason}: {item})")
            ts, te, as_, ae = SPECIAL_TOKENS
            for codes, text in utts[: args.utterances or None]:
                audio = "(no codes)" if codes is None else (codes_to_pua(codes, cs) if args.pua else _audio_summary(codes, fr))
                print(f"{ts}{text}{te}{as_}{audio}{ae}")
            if args.utterances and len(utts) > args.utterances:
                print(f"... {len(utts) - args.utterances} more utterances")
            if tok is not None:
                from audiolm.tokens.documents import build_documents

                for fmt in ("text_first", "audio_only", "text_only"):
                    docs = build_documents(utts, fmt, layout, tok)
                    print(f"   {fmt}: {sum(len(d) for d in docs)} tokens in {len(docs)} document(s)")
    return 0
