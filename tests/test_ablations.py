"""The ablation study: the study file, result rows, verdicts by intervals, tables/plots, and the
runner end to end on tiny shards (real `audiolm train lm` subprocesses, budgets in tokens and seconds)."""

import gzip
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from audiolm.ablations.results import read_results, run_row, write_results
from audiolm.ablations.spec import Finding, SpecError, load_study
from audiolm.ablations.summary import needs_more_seeds, stat, summarize, verdict
from audiolm.cli import main

STUDY = Path(__file__).resolve().parents[1] / "recipes" / "ablations" / "study.yaml"


def test_shipped_study_loads_and_every_variant_config_is_valid():
    from audiolm.lm.train_config import load_train_config

    study = load_study(STUDY)
    assert len(study.seeds) >= 2 and study.budget_tokens > 0
    order = [v.name for v in study.order()]
    for v in study.variants.values():  # dependencies come first
        for dep in (v.seconds_of, v.init_from):
            if dep:
                assert order.index(dep) < order.index(v.name)
        cfg = load_train_config(study.config_path(v), study.overrides)
        assert cfg.data.seq_len > 0
    axes = study.axes
    assert {"text_ratio", "tokens", "layout", "granularity", "source", "warm_start"} <= set(axes)
    ratios = {n: load_train_config(study.config_path(study.variants[n])).data.text_ratio for n in axes["text_ratio"].variants}
    assert {n: 100 * r for n, r in ratios.items()} == pytest.approx(axes["text_ratio"].x)
    semantic = load_train_config(study.config_path(study.variants["tokens_semantic"]))
    assert list(semantic.data.codebooks) == [0] and semantic.data.text_ratio == 0


def write_study(d: Path, text: str) -> Path:
    (d / "v.yaml").write_text("trainer: {max_tokens: 1}\n")
    p = d / "study.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("body, match", [
    ("budget_tokens: 10\nvariants: {a: {config: v.yaml}}\nsurprise: 1\n", "surprise: unknown key"),
    ("budget_tokens: 10\nvariants: {a: {config: missing.yaml}}\n", r"variants\.a\.config"),
    ("budget_tokens: 10\nvariants: {a: {config: v.yaml, seconds_of: b}}\n", r"variants\.a\.seconds_of: 'b'"),
    ("budget_tokens: 10\nvariants: {a: {config: v.yaml, init_from: b}, b: {config: v.yaml, init_from: a}}\n", "cycle"),
    ("budget_tokens: 0\nvariants: {a: {config: v.yaml}}\n", "budget_tokens"),
    ("budget_tokens: 10\nvariants: {a: {config: v.yaml}, b: {config: v.yaml}}\n"
     "axes: {x: {variants: [a], findings: [{claim: c, metric: m, better: a, than: b}]}}\n", r"axes\.x\.findings\[0\]"),
    ("budget_tokens: 10\nvariants: {a: {config: v.yaml}}\naxes: {x: {variants: [a], findings: [{claim: c, metric: m}]}}\n",
     "either better"),
])
def test_bad_study_files_name_file_and_key(tmp_path, body, match):
    p = write_study(tmp_path, body)
    with pytest.raises(SpecError, match=match) as e:
        load_study(p)
    assert str(p) in str(e.value)


def rows_of(values: dict[str, list[float]], metric: str = "m", item_se: float | None = None) -> list[dict]:
    rows = []
    for variant, vals in values.items():
        for seed, v in enumerate(vals):
            r = {"variant": variant, "seed": seed, metric: float(v)}
            if item_se is not None:
                r[f"{metric}_se"] = item_se
            rows.append(r)
    return rows


def test_stat_combines_seed_spread_and_item_error():
    rows = rows_of({"a": [0.6, 0.7]}, item_se=0.03)
    s = stat(rows, "a", "m")
    assert s.mean == pytest.approx(0.65) and s.k == 2
    assert s.se == pytest.approx(math.sqrt(0.005 / 2 + 0.03**2 / 2))


def test_verdicts_follow_the_interval():
    f = Finding(claim="a beats b", metric="acc", better="a", than="b")
    assert verdict(rows_of({"a": [0.80, 0.82], "b": [0.60, 0.61]}, "acc", 0.01), f)["verdict"] == "reproduced"
    assert verdict(rows_of({"a": [0.60, 0.61], "b": [0.80, 0.82]}, "acc", 0.01), f)["verdict"] == "opposite"
    noisy = verdict(rows_of({"a": [0.62, 0.70], "b": [0.60, 0.66]}, "acc", 0.05), f)
    assert noisy["verdict"] == "inconclusive at this scale"
    lo, hi = noisy["interval"]
    assert lo < 0 < hi and noisy["difference"] == pytest.approx(0.03)
    # lower is better for NLLs, bits and WER: a smaller value of 'better' reproduces
    g = Finding(claim="a has lower WER", metric="asr_wer", better="a", than="b")
    assert verdict(rows_of({"a": [0.5, 0.51], "b": [0.9, 0.91]}, "asr_wer"), g)["verdict"] == "reproduced"
    h = Finding(claim="unchanged", metric="val_bits_per_audio_second", same="a", as_="b", tolerance=0.02)
    same = rows_of({"a": [700.0, 701.0], "b": [700.5, 701.5]}, "val_bits_per_audio_second")
    assert verdict(same, h)["verdict"] == "reproduced"
    assert verdict(rows_of({"a": [760.0, 761.0], "b": [700.0, 701.0]}, "val_bits_per_audio_second"), h)["verdict"] == "opposite"
    assert verdict(rows_of({"a": [0.7]}, "acc"), f)["verdict"] == "not measured"
    one = rows_of({"a": [0.5], "b": [0.9]}, "asr_wer")  # one seed, no item-level error: no interval yet
    assert verdict(one, g)["verdict"] == "needs a second seed"
    # against a constant (a gain above 0) and against the variant's own trivial baseline
    gain = Finding(claim="a gains", metric="text_gain", better="a", than_value=0.0)
    assert verdict(rows_of({"a": [0.30, 0.34]}, "text_gain", 0.04), gain)["verdict"] == "reproduced"
    assert verdict(rows_of({"a": [-0.02, 0.01]}, "text_gain", 0.02), gain)["verdict"] == "inconclusive at this scale"
    base = Finding(claim="below baseline", metric="asr_wer", better="a", than_metric="asr_wer_baseline")
    rows = [{"variant": "a", "seed": s, "asr_wer": w, "asr_wer_baseline": 0.9} for s, w in enumerate([0.6, 0.62])]
    v = verdict(rows, base)
    assert v["verdict"] == "reproduced" and v["against"] == "its asr_wer_baseline" and v["b"] == pytest.approx(0.9)
    # identical seeds give no spread: a tiny difference is then 'significant' but below the effect that matters
    tiny = Finding(claim="tiny", metric="asr_wer", better="a", than="b", min_effect=0.05)
    flat = rows_of({"a": [0.999, 0.999], "b": [1.0, 1.0]}, "asr_wer")
    assert verdict(flat, tiny)["verdict"] == "inconclusive at this scale"
    assert verdict(flat, replace(tiny, min_effect=0.0))["verdict"] == "reproduced"


def test_third_seed_only_where_the_difference_is_within_two_standard_errors(tmp_path):
    p = write_study(tmp_path, "budget_tokens: 10\nvariants: {a: {config: v.yaml}, b: {config: v.yaml}, c: {config: v.yaml}}\n"
                    "axes: {x: {variants: [a, b, c], findings: [{claim: ab, metric: acc, better: a, than: b},"
                    " {claim: ac, metric: acc, better: a, than: c}]}}\n")
    study = load_study(p)
    rows = rows_of({"a": [0.80, 0.81], "b": [0.60, 0.61], "c": [0.78, 0.83]}, "acc", 0.01)
    assert needs_more_seeds(rows, study) == {"a", "c"}
    rows += rows_of({"a": [0, 0, 0.8], "c": [0, 0, 0.8]}, "acc", 0.01)[2::3]  # a third seed of a and c
    assert needs_more_seeds(rows, study) == set()  # three seeds: no fourth, whatever the verdict


def fake_run(d: Path, acc: float, gain: float) -> Path:
    d.mkdir(parents=True)
    (d / "final.json").write_text(json.dumps({
        "val_loss": 4.0, "val_loss_per_modality": {"text": 3.0, "semantic": 4.1, "acoustic": 4.5},
        "val_bits_per_audio_second": 700.0, "tokens": 4096, "steps": 1, "train_audio_seconds": 40.0,
        "params": {"total": 10}, "wall_time_s": 3.0}))
    tasks = {t: {"accuracy": acc, "stderr": 0.04, "n": 100} for t in ("twuggy", "swuggy")}
    tasks.update({p: {"accuracy": acc + i / 100, "stderr": 0.05, "n": 100}
                  for i, p in enumerate(("salmon_speaker", "salmon_gender", "salmon_background", "salmon_room"))})
    tasks["cross_modal"] = {"text_gain_nats": gain, "text_gain_stderr": 0.01, "n": 50, "text_nll_alone": 3.5,
                            "audio_nll_alone": 4.9, "audio_gain_nats": 0.0}
    tasks["asr"] = {"wer": 0.9, "n": 50, "wer_baseline_constant": 0.91}
    (d / "eval.json").write_text(json.dumps({"tasks": tasks, "wall_time_s": 5.0}))
    return d


def test_rows_csv_round_trip_and_summary(tmp_path):
    row = run_row(fake_run(tmp_path / "runs" / "a" / "seed0", 0.7, 0.3), "a", 0)
    assert row["salmon_acoustic"] == pytest.approx(0.715) and row["salmon_acoustic_n"] == 400
    assert row["salmon_acoustic_se"] == pytest.approx(0.05 / 2)  # four parts, independent items
    assert (row["text_gain"], row["text_nll"], row["asr_wer"], row["train_audio_seconds"]) == (0.3, 3.5, 0.9, 40.0)
    rows = [row, run_row(fake_run(tmp_path / "runs" / "a" / "seed1", 0.72, 0.32), "a", 1),
            run_row(fake_run(tmp_path / "runs" / "b" / "seed0", 0.5, 0.0), "b", 0),
            run_row(fake_run(tmp_path / "runs" / "b" / "seed1", 0.52, 0.01), "b", 1)]
    write_results(rows, tmp_path / "results.csv")
    back = read_results(tmp_path / "results.csv")
    assert [(r["variant"], r["seed"]) for r in back] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert back[0]["twuggy"] == pytest.approx(0.7) and isinstance(back[0]["seed"], int)
    study = load_study(write_study(tmp_path, "budget_tokens: 10\nvariants: {a: {config: v.yaml}, b: {config: v.yaml}}\n"
                                   "axes: {x: {title: The axis, variants: [a, b], findings: "
                                   "[{claim: a links, metric: text_gain, better: a, than: b}]}}\n"))
    verdicts = summarize(back, study, tmp_path)
    assert verdicts["x"][0]["verdict"] == "reproduced"
    md = (tmp_path / "summary.md").read_text()
    assert "## The axis" in md and "**reproduced**" in md and "![The axis](plots/x.png)" in md
    assert (tmp_path / "plots" / "x.png").stat().st_size > 1000
    assert json.loads((tmp_path / "verdicts.json").read_text()) == json.loads(json.dumps(verdicts))
    (tmp_path / "summary.md").unlink()
    assert main(["ablations", "summarize", "--study", str(study.path), "--exp", str(tmp_path), "--no-plots"]) == 0
    assert (tmp_path / "summary.md").read_text() == md.replace("![The axis](plots/x.png)\n\n", "")


# ---- the runner, end to end on tiny data -------------------------------------------------------
TINY_CONFIG = """
model: {d_model: 32, n_layers: 1, n_heads: 2, n_kv_heads: 1, ffn_dim: 64, max_seq_len: 128, attention: sdpa}
optim: {lr: 3.0e-3}
trainer: {accelerator: cpu, devices: 1, precision: 32-true, max_tokens: 1}
data: {codebooks: [0, 1, 2, 3], seq_len: 64, batch_size: 2, num_workers: 0, formats: [text_first, audio_first], text_ratio: 0.2}
"""


@pytest.fixture(scope="module")
def tiny_quickstart(tmp_path_factory):
    from audiolm.tokens.testing import random_documents, sentences, tiny_tokenizer, write_token_shards

    q = tmp_path_factory.mktemp("quickstart")
    tiny_tokenizer(n_codebooks=4, codebook_size=64).save(q / "tokenizer.json")
    write_token_shards(q / "tokens" / "train", random_documents(30, seed=1))
    write_token_shards(q / "tokens" / "dev", random_documents(4, seed=2))
    (q / "data" / "text").mkdir(parents=True)
    for split, n in (("train", 60), ("dev", 5)):
        with gzip.open(q / "data" / "text" / f"text_{split}.jsonl.gz", "wt") as f:
            for i in range(n):
                f.write(json.dumps({"id": f"{split}{i}", "text": " ".join(sentences(4, seed=i))}) + "\n")
    return q


def test_runner_trains_in_dependency_order_matches_seconds_and_resumes(tmp_path, tiny_quickstart):
    from audiolm.ablations.runner import run_all, runs_of
    from audiolm.ablations.commands import collect

    (tmp_path / "tiny.yaml").write_text(TINY_CONFIG)
    (tmp_path / "semantic.yaml").write_text("_base_: [tiny.yaml]\ndata: {codebooks: [0], formats: [audio_only], text_ratio: 0.0}\n")
    (tmp_path / "audio.yaml").write_text("_base_: [tiny.yaml]\ndata: {formats: [audio_only], text_ratio: 0.0}\n")
    study = load_study(write_study(tmp_path, f"""
budget_tokens: 1024
seeds: [0]
quickstart: {tiny_quickstart}
overrides: [trainer.progress_bar=false, trainer.val_every_n_steps=0, trainer.ckpt_every_n_steps=0]
variants:
  audio: {{config: audio.yaml, evaluate: false}}
  semantic_seconds: {{config: semantic.yaml, seconds_of: audio, evaluate: false}}
  warm: {{config: tiny.yaml, init_from: audio, budget_fraction: 0.5, evaluate: false}}
"""))
    exp = tmp_path / "exp"
    lines: list[str] = []
    records = run_all(study, exp, runs_of(study, [0]), jobs=2, log=lines.append)
    assert sorted(r["run"] for r in records) == ["audio/seed0", "semantic_seconds/seed0", "warm/seed0"]
    rows = {r["variant"]: r for r in collect(study, exp)}
    assert rows["audio"]["tokens"] == 1024 and rows["warm"]["tokens"] == 512
    # seconds-matched: one codebook instead of four -> a quarter of the tokens for the same seconds of audio
    assert rows["semantic_seconds"]["tokens"] == pytest.approx(256, abs=128)
    assert rows["semantic_seconds"]["train_audio_seconds"] == pytest.approx(rows["audio"]["train_audio_seconds"], rel=0.5)
    log = (exp / "runs" / "warm" / "seed0" / "train.log").read_text()
    assert "init_from=" in log and str(exp / "runs" / "audio" / "seed0" / "checkpoints" / "last.ckpt") in log
    assert lines.index("[ablations] warm/seed0: start") > next(i for i, x in enumerate(lines) if x.startswith("[ablations] audio/seed0: done"))
    again: list[str] = []
    assert run_all(study, exp, runs_of(study, [0]), jobs=2, log=again.append) == []  # nothing redone
    assert all("done before, kept" in x for x in again) and len(again) == 3
    rows2 = collect(study, exp)
    assert len(rows2) == 3  # results.csv rewritten whole: no duplicates
    from audiolm.ablations.runner import StudyRunError

    other = replace(study, budget_tokens=4096)  # a rerun at another budget does not mix the two
    with pytest.raises(StudyRunError, match=r"audio/seed0: trained on 1024 tokens, the study now asks 4096"):
        run_all(other, exp, runs_of(other, [0]), jobs=1, log=lambda _: None)


def test_a_failed_run_fails_the_study_and_its_dependants(tmp_path, tiny_quickstart):
    from audiolm.ablations.runner import StudyRunError, run_all, runs_of

    (tmp_path / "tiny.yaml").write_text(TINY_CONFIG)
    (tmp_path / "broken.yaml").write_text("_base_: [tiny.yaml]\noptim: {lr: -1.0}\n")
    study = load_study(write_study(tmp_path, f"""
budget_tokens: 256
seeds: [0]
quickstart: {tiny_quickstart}
variants:
  broken: {{config: broken.yaml, evaluate: false}}
  after: {{config: tiny.yaml, init_from: broken, evaluate: false}}
"""))
    with pytest.raises(StudyRunError, match=r"broken/seed0: training exited 2.*after/seed0: needs broken/seed0"):
        run_all(study, tmp_path / "exp", runs_of(study, [0]), jobs=1, log=lambda _: None)


def test_cli_checks_inputs(tmp_path, capsys):
    p = write_study(tmp_path, f"budget_tokens: 10\nquickstart: {tmp_path / 'none'}\nvariants: {{a: {{config: v.yaml}}}}\n")
    assert main(["ablations", "run", "--study", str(p), "--exp", str(tmp_path / "exp")]) == 2
    assert "tokenizer.json" in capsys.readouterr().err
    assert main(["ablations", "run", "--study", str(p), "--only", "zzz"]) == 2
    assert "zzz" in capsys.readouterr().err
    assert main(["ablations", "summarize", "--study", str(p), "--exp", str(tmp_path / "nothing")]) == 2
    assert "results.csv" in capsys.readouterr().err
