"""The main job end to end at a tiny size: every stage runs, every artifact exists, the report's
numbers are finite and in range. (Minutes on 2 CPU cores; the default size is measured by
benchmarks/bench_quickstart.sh, not here.)"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LIKELIHOOD = ("swuggy", "sblimp", "salmon", "twuggy", "tblimp", "sstorycloze", "topic_sstorycloze", "text_storycloze",
              "hellaswag")


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.mark.timeout(900)
def test_quickstart_tiny_end_to_end(tmp_path):
    exp = tmp_path / "qs"
    env = dict(os.environ, AUDIOLM_NO_SETUP="1", OMP_NUM_THREADS="2",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = ["bash", str(REPO / "recipes/quickstart/run.sh"), "--size", "tiny", "--exp", str(exp)]
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    for rel in ("data/corpus/cuts_train.jsonl.gz", "data/text/text_train.jsonl.gz", "data/benchmarks",
                "codec/checkpoints/last.ckpt", "tokens/train.meta/codec.json", "tokens/dev.meta/codec.json",
                "tokenizer.json", "lm/checkpoints/last.ckpt", "lm/final.json", "eval/report.json", "eval/validity.json",
                "report.md", "report.json", "plots/lm_loss.png"):
        assert (exp / rel).exists(), rel
    assert list((exp / "codec" / "tb").rglob("events.*")) and list((exp / "lm" / "tb").rglob("events.*"))

    report = json.loads((exp / "report.json").read_text())
    assert report["corpus"]["splits"]["train"]["utterances"] > 0
    codec = report["codec"]
    assert codec["bitrate_bps"] > 0 and _finite(codec["reconstruction"]["mel_distance"])
    assert 0.0 <= codec["reconstruction"]["stoi"] <= 1.0
    for acc in codec["semantic_probe"]["accuracy"].values():
        assert 0.0 <= acc <= 1.0
    words = codec["word_identification"]
    assert words["n_words"] > 0 and 0.0 < words["word_accuracy_original"] <= 1.0
    assert 0.0 <= words["word_accuracy_reconstruction"] <= 1.0
    assert words["wer_original"] >= 0.0 and words["wer_reconstruction"] >= 0.0
    final = report["lm"]["final"]
    assert _finite(final["val_loss"]) and final["val_loss"] > 0
    assert _finite(final["val_bits_per_audio_second"]) and final["val_bits_per_audio_second"] > 0
    assert report["lm"]["train_loss_last"] < report["lm"]["train_loss_first"]

    tasks = report["benchmarks"]
    for name in LIKELIHOOD:
        m = tasks[name]
        assert "error" not in m, (name, m)
        assert 0.0 <= m["accuracy"] <= 1.0 and 0.0 < m["chance"] < 1.0 and m["n"] > 0
        assert 0.0 <= m["stderr"] <= 0.5 and 0.0 <= m["baseline_fewer_tokens"] <= 1.0
    for name in ("asr", "tts"):
        assert "error" not in tasks[name], (name, tasks[name])
        assert _finite(tasks[name]["wer"]) and tasks[name]["wer"] >= 0
    xm = report["lm"]["cross_modal"]
    assert _finite(xm["text_gain_nats"]) and _finite(xm["audio_gain_nats"]) and xm["n"] > 0
    vec = report["lm"]["nll_vector"]
    assert {"bits_per_text_token", "nll_semantic", "nll_acoustic_7", "bits_per_audio_second"} <= set(vec)
    assert _finite(tasks["asr"]["wer_baseline_constant"]) and _finite(tasks["tts"]["wer_codec_floor"])
    validity = report["validity"]["tasks"]
    assert {"twuggy", "tblimp", "swuggy"} <= set(validity)
    assert "bpe_4gram" in validity["tblimp"]["oracles"] and "codebook0_4gram" in validity["swuggy"]["oracles"]
    md = (exp / "report.md").read_text()
    assert "## Benchmarks" in md and "swuggy" in md

    # a rerun skips every finished stage
    again = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.count("done already, skipping") == 9
