"""CLI verbs of the LM: ``audiolm train lm`` and ``audiolm generate continue|tts|asr``.

Prompts are built by :mod:`audiolm.lm.prompts` (the same as ``audiolm eval``'s): continuation
(``BOS <|audio_start|> A_prompt`` -> more audio, or ``BOS <|text_start|> text`` -> more text), TTS
with an optional voice prompt, N-shot ASR.

Audio goes through the codec the training shards were tokenized with (its spec is stored in the
checkpoint; ``--codec`` overrides it) and is written as .wav or .flac.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from audiolm.lm import prompts


def _quiet_lightning() -> None:
    import logging
    import warnings

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")


# ---- audiolm train lm ------------------------------------------------------------------------
def configure_train_lm(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="an LM config: a name in conf/lm/ (e.g. quickstart, soda_600m) or a YAML path")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. trainer.max_tokens=2e9 data.batch_size=4 name=my_run")


def run_train_lm(args) -> int:
    from audiolm.config import ConfigError
    from audiolm.lm.module import CheckpointMismatchError, NonFiniteLossError
    from audiolm.lm.train import run_dir_of, train_lm
    from audiolm.lm.train_config import load_train_config

    _quiet_lightning()
    try:
        cfg = load_train_config(args.config, args.overrides, require_data=True)
        summary = train_lm(cfg)
    except (ConfigError, CheckpointMismatchError, FileNotFoundError) as e:
        print(f"audiolm train lm: error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLossError as e:
        print(f"audiolm train lm: {e}", file=sys.stderr)
        return 1
    run = run_dir_of(cfg)
    if summary is None:
        print(f"stopped before the token budget; rerun the same command to resume ({run / 'checkpoints' / 'last.ckpt'})",
              file=sys.stderr)
        return 3  # not finished: a recipe must not mark the stage done
    vl = summary["val_loss"]
    bps = summary["val_bits_per_audio_second"]
    print(f"done: {summary['steps']} steps, {summary['tokens']:,} tokens, val_loss "
          f"{'n/a' if vl is None else f'{vl:.4f}'}, bits/audio-second {'n/a' if bps is None else f'{bps:.1f}'} -> {run / 'final.json'}")
    return 0


# ---- shared generation plumbing --------------------------------------------------------------
def _add_common(p: argparse.ArgumentParser, temperature: float, top_p: float) -> None:
    p.add_argument("checkpoint", help="an LM checkpoint (exp_dir/<name>/checkpoints/last.ckpt) or hf:DIR "
                   "(a Hugging Face Qwen3 folder: `audiolm export hf` output or SODA's releases)")
    p.add_argument("--codec", default=None, help="codec spec overriding the one stored in the checkpoint")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--temperature", type=float, default=temperature, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--top-p", type=float, default=top_p)
    p.add_argument("--seed", type=int, default=0)
    from audiolm.lm.hf_folder import add_hf_arguments

    add_hf_arguments(p)


class _Session:
    """A loaded LM (+ codec on demand) and the helpers every verb uses."""

    def __init__(self, args):
        import torch

        from audiolm.lm.checkpoint import load_lm
        from audiolm.lm.module import CheckpointMismatchError

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.args = args
        from audiolm.lm.hf_folder import hf_options

        try:
            self.lm = load_lm(args.checkpoint, device=device, **hf_options(args))
        except (FileNotFoundError, CheckpointMismatchError) as e:
            raise SystemExit(f"audiolm generate: error: {e}") from None
        if self.lm.tokenizer is None:
            raise SystemExit(f"{args.checkpoint}: the checkpoint has no tokenizer; it cannot be prompted")
        self.tok = self.lm.tokenizer
        self.vocab = self.tok.vocab
        self.layout = self.lm.layout
        self.device = device
        self._codec = None

    @property
    def codec(self):
        if self._codec is None:
            spec = self.args.codec or self.lm.codec_spec
            if not spec:
                raise SystemExit("no codec: the training shards had no codec.json; pass --codec SPEC")
            from audiolm.codec import load_codec

            self._codec = load_codec(spec, device=self.device)
            from audiolm.token_shards import CodecInfo

            try:
                CodecInfo.of(self._codec).check_fits(self.vocab, self.layout.codebooks, f"codec {spec}")
            except ValueError as e:
                raise SystemExit(f"audiolm generate: error: {e}") from None
        return self._codec

    # audio <-> tokens
    def read_audio(self, path: str, seconds: float = 0.0) -> np.ndarray:
        import soundfile as sf

        from audiolm.resample import resample

        if not Path(path).is_file():
            raise SystemExit(f"audiolm generate: error: audio file {path} not found")
        wav, sr = sf.read(path, dtype="float32", always_2d=True)
        wav = wav.mean(1)
        if sr != self.codec.sample_rate:
            wav = resample(wav, sr, self.codec.sample_rate)
        return self._crop(np.ascontiguousarray(wav, dtype=np.float32), seconds)

    def read_cut(self, manifest: str, cut_id: str | None = None, seconds: float = 0.0) -> tuple[np.ndarray, str]:
        from lhotse import CutSet

        from audiolm.codec.audio import load_cut

        cuts = CutSet.from_file(manifest)
        cut = cuts[cut_id] if cut_id else next(iter(cuts))
        text = " ".join(s.text for s in cut.supervisions if s.text)
        return self._crop(load_cut(cut, self.codec.sample_rate), seconds), text

    def _crop(self, wav: np.ndarray, seconds: float) -> np.ndarray:
        return wav[: int(seconds * self.codec.sample_rate)] if seconds > 0 else wav

    def encode(self, wav: np.ndarray) -> np.ndarray:
        """mono float32 [S] -> codes [n_q, T]."""
        import torch

        codes = self.codec.encode(torch.from_numpy(wav)[None, None].to(self.device))
        return codes[0].cpu().numpy()

    def decode(self, audio_ids: list[int]) -> np.ndarray:
        """Audio token ids of one span -> mono float32 waveform."""
        import torch

        cbs = list(self.layout.codebooks)
        if cbs != list(range(len(cbs))):
            raise SystemExit(f"cannot decode audio: the layout keeps codebooks {cbs}, the codec needs a prefix 0..k-1")
        codes = self.layout.decode(np.asarray(audio_ids, dtype=np.int64), strict=False)
        if codes.shape[1] == 0:
            return np.zeros(0, dtype=np.float32)
        wav = self.codec.decode(torch.from_numpy(codes)[None].to(self.device))
        return wav[0, 0].float().cpu().numpy()

    def write(self, path: str, wav: np.ndarray) -> None:
        import soundfile as sf

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wav, self.codec.sample_rate)
        print(f"wrote {path} ({len(wav) / self.codec.sample_rate:.2f} s)")

    def audio_budget(self, seconds: float) -> int:
        frame_rate = self.lm.codec_info.frame_rate if self.lm.codec_info else float(self.codec.frame_rate)
        return prompts.audio_budget(self.layout, frame_rate, seconds)

    def generate(self, prompt: list[int], max_new_tokens: int, stop: list[int], temperature: float | None = None) -> list[int]:
        from audiolm.lm.generate import ModalityConstraint, generate

        a = self.args
        return generate(
            self.lm.model, [prompt], max_new_tokens=max_new_tokens,
            temperature=a.temperature if temperature is None else temperature, top_k=a.top_k, top_p=a.top_p,
            stop_ids=stop, constraint=ModalityConstraint(self.vocab, self.layout), seed=a.seed,
        )[0]


_until = prompts.until


# ---- audiolm generate continue ---------------------------------------------------------------
def configure_generate_continue(p: argparse.ArgumentParser) -> None:
    _add_common(p, temperature=1.0, top_p=0.95)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--wav", help="audio prompt (any rate; resampled to the codec's)")
    src.add_argument("--cuts", help="a lhotse cuts manifest; the prompt is --cut-id (default: its first cut)")
    src.add_argument("--text", help="a text prompt, continued as text")
    p.add_argument("--cut-id", default=None)
    p.add_argument("--prompt-seconds", type=float, default=3.0, help="use the first N seconds of the audio (0 = all)")
    p.add_argument("--seconds", type=float, default=10.0, help="at most this much new audio")
    p.add_argument("--max-new-tokens", type=int, default=200, help="text continuation length")
    p.add_argument("--out", default="continuation.wav", help="output audio (.wav or .flac): prompt + continuation")
    p.add_argument("--new-only", action="store_true", help="write only the generated audio")


def run_generate_continue(args) -> int:
    s = _Session(args)
    v = s.vocab
    if args.text is not None:
        prompt = [s.tok.bos_id, v.text_start, *s.tok.encode_text(args.text)]
        new = s.generate(prompt, args.max_new_tokens, [v.text_end, s.tok.eos_id])
        print(args.text + s.tok.decode_text(_until(new, v.text_end)))
        return 0
    wav = s.read_audio(args.wav, args.prompt_seconds) if args.wav else s.read_cut(args.cuts, args.cut_id, args.prompt_seconds)[0]
    prompt = prompts.continuation_prompt(s.tok, s.layout, s.encode(wav))
    new = _until(s.generate(prompt, s.audio_budget(args.seconds), [v.audio_end]), v.audio_end)
    head = prompt[prompt.index(v.audio_start) + 1 :]
    out = s.decode(new if args.new_only else head + new)
    s.write(args.out, out)
    return 0


# ---- audiolm generate tts --------------------------------------------------------------------
def configure_generate_tts(p: argparse.ArgumentParser) -> None:
    _add_common(p, temperature=1.0, top_p=0.95)
    p.add_argument("--text", required=True, help="what to say")
    p.add_argument("--voice-wav", default=None, help="a voice prompt (another utterance of the target speaker)")
    p.add_argument("--voice-text", default="", help="the voice prompt's transcript (recommended with --voice-wav)")
    p.add_argument("--seconds", type=float, default=20.0, help="at most this much audio")
    p.add_argument("--out", default="tts.wav", help="output audio (.wav or .flac)")


def run_generate_tts(args) -> int:
    s = _Session(args)
    v = s.vocab
    voice = s.encode(s.read_audio(args.voice_wav)) if args.voice_wav else None
    prompt = prompts.tts_prompt(s.tok, s.layout, args.text, voice, args.voice_text if args.voice_wav else None)
    new = _until(s.generate(prompt, s.audio_budget(args.seconds), [v.audio_end]), v.audio_end)
    s.write(args.out, s.decode(new))
    return 0


# ---- audiolm generate asr --------------------------------------------------------------------
def configure_generate_asr(p: argparse.ArgumentParser) -> None:
    _add_common(p, temperature=0.0, top_p=1.0)
    p.add_argument("wav", help="the audio to transcribe")
    p.add_argument("--shots", type=int, default=0, help="N examples (audio + transcript) before the query")
    p.add_argument("--shots-from", default=None, help="a lhotse cuts manifest with transcribed utterances for the shots")
    p.add_argument("--max-new-tokens", type=int, default=200)


def run_generate_asr(args) -> int:
    s = _Session(args)
    v = s.vocab
    shots = []
    if args.shots:
        if not args.shots_from:
            raise SystemExit("--shots needs --shots-from CUTS (transcribed utterances)")
        from lhotse import CutSet

        from audiolm.codec.audio import load_cut

        taken = 0
        for cut in CutSet.from_file(args.shots_from):
            text = " ".join(x.text for x in cut.supervisions if x.text).strip()
            if not text:
                continue
            shots.append((s.encode(load_cut(cut, s.codec.sample_rate)), text))
            taken += 1
            if taken == args.shots:
                break
        if taken < args.shots:
            print(f"note: only {taken} transcribed cuts in {args.shots_from}", file=sys.stderr)
    prompt = prompts.asr_prompt(s.tok, s.layout, s.encode(s.read_audio(args.wav)), shots)
    new = s.generate(prompt, args.max_new_tokens, [v.text_end])
    print(s.tok.decode_text(_until(new, v.text_end)).strip())
    return 0
