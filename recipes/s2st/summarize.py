"""Base vs fine-tuned translation scores of recipes/s2st as a markdown table (from two eval reports)."""

import json
import sys


def row(name: str, m: dict) -> str:
    if "error" in m:
        return f"| {name} | error: {m['error'][:80]} |"
    lo, hi = m.get("bleu_interval_95", [float("nan")] * 2)
    cells = [f"{m['bleu']:.1f} [{lo:.1f}, {hi:.1f}]", f"{m['chrf']:.1f}", f"{m['transcript_wer']:.3f}",
             f"{m['ended']:.2f}", f"{m.get('bleu_baseline_constant', float('nan')):.1f}",
             f"{m.get('bleu_oracle_memory', float('nan')):.1f}", f"{m.get('bleu_cascade', float('nan')):.1f}",
             f"{m.get('bleu_given_transcript', float('nan')):.1f}"]
    if "asr_bleu" in m:
        alo, ahi = m["asr_bleu_interval_95"]
        cells += [f"{m['asr_bleu']:.1f} [{alo:.1f}, {ahi:.1f}]", f"{m['asr_bleu_reference']:.1f}",
                  f"{m['similarity_to_source']:.3f}", f"{m['speech_ended']:.2f}"]
    else:
        cells += ["-"] * 4
    return f"| {name} | {m['n']} | " + " | ".join(cells) + " |"


def main(paths: list[str]) -> None:
    print("| model / task | n | BLEU [95% bootstrap] | chrF | transcript WER | text ended | BLEU constant | "
          "BLEU memory oracle | BLEU cascade (judge ASR + memory) | BLEU given the true transcript | ASR-BLEU [95%] | ASR-BLEU of true speech | similarity to source | speech ended |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p in paths:
        rep = json.load(open(p))
        for task in ("s2tt", "s2st"):
            if task in rep["tasks"]:
                print(row(f"{p.rsplit('/', 1)[-1][:-5]} {task}", rep["tasks"][task]))


if __name__ == "__main__":
    main(sys.argv[1:])
