"""Intelligibility of the embedded corpus voices: pocketsphinx (the en-us model its wheel bundles)
on synthesized speech, WER per voice, next to a chance control.

    python benchmarks/asr_synth.py [--speakers 8] [--per-speaker 4] [--seed 0]

Two sentence sets per voice: ``everyday`` (short common sentences, fixed below) and ``corpus``
(sentences of the embedded generator, ``audiolm.data.sentences``: grammatical but often odd, with
rarer words, so pocketsphinx's general-English language model helps much less). The chance control
scores each transcript against another sentence (a shifted pairing): the WER when no word comes
through. Judge and metric are the evaluation's (``audiolm.asr.PocketSphinxJudge``,
``audiolm.asr.wer_cer``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audiolm.data.espeak import Espeak  # noqa: E402
from audiolm.data.sentences import generate_sentences  # noqa: E402
from audiolm.data.synth import make_speakers, speaker_id  # noqa: E402
from audiolm.asr import PocketSphinxJudge  # noqa: E402
from audiolm.asr import wer_cer  # noqa: E402

EVERYDAY = [
    "She went to the store because she wanted some bread.",
    "The old man walked slowly to the river.",
    "My brother likes to read books in the evening.",
    "We found a small dog near the house.",
    "The children played in the garden all afternoon.",
    "He asked the teacher a difficult question.",
    "They bought a new car last week.",
    "The weather was cold and the sky was gray.",
    "Please close the door when you leave the room.",
    "I would like a cup of coffee with milk.",
    "The train to the city leaves at noon.",
    "Our neighbors have two cats and a big dog.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speakers", type=int, default=8)
    ap.add_argument("--per-speaker", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    voices = make_speakers(args.speakers, args.seed)
    k = args.per_speaker
    corpus = generate_sentences(args.speakers * k, seed=1000 + args.seed)
    everyday = [EVERYDAY[i % len(EVERYDAY)] for i in range(args.speakers * k)]
    tts, judge = Espeak(), PocketSphinxJudge()
    results = {}
    for name, sents in (("everyday", everyday), ("corpus", corpus)):
        audio = [tts.synthesize(s, voices[i // k]).audio for i, s in enumerate(sents)]
        hyps = judge.transcribe(audio, 24000)
        per = {speaker_id(i): wer_cer(sents[i * k:(i + 1) * k], hyps[i * k:(i + 1) * k])["wer"] for i in range(len(voices))}
        results[name] = {"all": wer_cer(sents, hyps), "control": wer_cer(sents, hyps[1:] + hyps[:1]), "per_speaker": per,
                         "examples": list(zip(sents, hyps))[:: max(1, len(sents) // 4)]}
    print(f"{args.speakers} voices x {k} sentences per set\n")
    print("| speaker | voice | gender | pitch | rate | WER everyday | WER corpus |")
    print("|---|---|---|---|---|---|---|")
    for i, v in enumerate(voices):
        sid = speaker_id(i)
        print(f"| {sid} | {v.name}+{v.variant} | {v.gender} | {v.pitch} | {v.rate} | "
              f"{results['everyday']['per_speaker'][sid]:.2f} | {results['corpus']['per_speaker'][sid]:.2f} |")
    for name, r in results.items():
        print(f"\n{name}: WER {r['all']['wer']:.3f}, CER {r['all']['cer']:.3f}; "
              f"chance control (mismatched pairs): WER {r['control']['wer']:.3f}, CER {r['control']['cer']:.3f}")
        for ref, hyp in r["examples"]:
            print(f"  ref: {ref}\n  hyp: {hyp}")
    print(json.dumps({k: {"wer": r["all"]["wer"], "cer": r["all"]["cer"], "control_wer": r["control"]["wer"],
                          "per_speaker": r["per_speaker"]} for k, r in results.items()}))


if __name__ == "__main__":
    main()
