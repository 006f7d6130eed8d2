"""Sweep runner (skip/resume with a fake train command), collector columns, and the CLI end to end."""

import csv
import json
import sys
import textwrap

import pytest
import yaml

from audiolm.cli import main
from audiolm.scaling.plan import PlanConfig, write_sweep
from audiolm.scaling.runner import collect, print_commands, run_sweep

# a stand-in for `audiolm train lm CONFIG`: reads the run config (PyYAML only, so it starts fast),
# writes final.json with the loss of a known law L = E + A/N^α + B/D^β (N = the planned total
# parameters, passed through the config's header comment); fails once for runs named in
# $FAIL_ONCE (an "interruption")
FAKE_TRAIN = textwrap.dedent("""
    import json, os, re, sys
    from pathlib import Path
    import yaml
    text = Path(sys.argv[1]).read_text()
    cfg = yaml.safe_load(text)
    n = int(re.search(r"([0-9,]+) params", text).group(1).replace(",", ""))
    run_dir = Path(cfg["exp_dir"]) / cfg["name"]
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / "calls.txt", "a") as f:
        f.write(cfg["name"] + "\\n")
    marker = run_dir / "started"
    if cfg["name"] in os.environ.get("FAIL_ONCE", "").split(",") and not marker.exists():
        marker.write_text("x")
        sys.exit(3)
    tokens = cfg["trainer"]["max_tokens"]
    loss = 1.69 + 406.4 / n ** 0.34 + 410.7 / tokens ** 0.28
    json.dump({"val_loss": loss, "tokens": tokens, "steps": 10,
               "params": {"total": n}, "wall_time_s": 1.5}, open(run_dir / "final.json", "w"))
""")


@pytest.fixture
def sweep(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(f"exp_dir: {tmp_path / 'exp'}\nmodel:\n  vocab_size: 256\n  max_seq_len: 64\n")
    plan = PlanConfig(base_config=str(base), budgets=[1e12, 3e12, 1e13], seq_len=64, vocab_size=0,
                      name_prefix="t")
    plan.width.values = [24, 32, 48, 64, 96, 128]
    plan.heads.head_dim = 16
    plan.depth.a, plan.depth.b, plan.depth.c = 16.0, 1.0, 0.0  # layers = round(d / (16 + log2 d))
    plan.batch.tokens = 2048
    plan.skip.min_steps, plan.skip.min_tokens_per_param, plan.skip.max_tokens_per_param = 20, 3.0, 300.0
    out = tmp_path / "sweep" / "sweep.yaml"
    doc = write_sweep(plan, out)
    (tmp_path / "fake_train.py").write_text(FAKE_TRAIN)
    return out, doc, f"{sys.executable} {tmp_path / 'fake_train.py'} {{config}}"


def _calls(tmp_path):
    f = tmp_path / "exp" / "calls.txt"
    return f.read_text().split() if f.exists() else []


def test_run_skips_finished_and_resumes_interrupted(sweep, tmp_path, monkeypatch):
    out, doc, cmd = sweep
    names = [r["name"] for r in doc["runs"]]
    assert len(names) == 9
    victim = names[2]
    monkeypatch.setenv("FAIL_ONCE", victim)
    logs = []
    status = run_sweep(out, train_command=cmd, log=logs.append)
    assert status["done"] == names[:2] and status["failed"] == [victim]  # stops at the failure
    assert len(print_commands(out, train_command=cmd)) == len(names) - 2
    status = run_sweep(out, train_command=cmd, log=logs.append)
    assert status["skipped"] == names[:2] and status["done"] == names[2:] and not status["failed"]
    assert _calls(tmp_path) == names[:3] + names[2:]  # finished runs were never relaunched
    status = run_sweep(out, train_command=cmd, log=logs.append)
    assert status["skipped"] == names and _calls(tmp_path).count(names[0]) == 1
    assert print_commands(out, train_command=cmd) == []
    assert len(print_commands(out, train_command=cmd, include_finished=True)) == len(names)


def test_keep_going_and_print_commands(sweep, tmp_path, monkeypatch):
    out, doc, cmd = sweep
    names = [r["name"] for r in doc["runs"]]
    monkeypatch.setenv("FAIL_ONCE", f"{names[0]},{names[1]}")
    status = run_sweep(out, train_command=cmd, keep_going=True, log=lambda s: None)
    assert status["failed"] == names[:2] and status["done"] == names[2:]
    lines = print_commands(out, train_command="sbatch -J {name} --wrap '{python} -m audiolm train lm {config}'")
    assert len(lines) == 2 and lines[0].startswith(f"sbatch -J {names[0]} --wrap")
    assert f"runs/{names[0]}.yaml" in lines[0]


def test_collect_columns(sweep, tmp_path):
    out, doc, cmd = sweep
    run_sweep(out, train_command=cmd, log=lambda s: None)
    rows = collect(out, tmp_path / "runs.csv", log=lambda s: None)
    with open(tmp_path / "runs.csv") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        first = next(reader)
    assert header[:4] == ["budget", "params", "tokens", "loss"]
    for col in ("name", "convention", "non_embedding_params", "wall_time_s"):
        assert col in header
    assert len(rows) == len(doc["runs"])
    r0 = doc["runs"][0]
    assert first["name"] == r0["name"] and float(first["budget"]) == r0["budget"]
    assert int(first["params"]) == r0["params"]["total"] and int(first["tokens"]) == r0["tokens"]
    assert int(first["non_embedding_params"]) == r0["params"]["non_embedding"]
    assert first["convention"] == "exact" and float(first["wall_time_s"]) == 1.5
    assert first["loss_key"] == "val_loss"
    rows = collect(out, tmp_path / "runs_wall.csv", log=lambda s: None, loss_key="wall_time_s")
    assert all(r["loss"] == 1.5 for r in rows)
    rows = collect(out, tmp_path / "runs_missing.csv", log=lambda s: None, loss_key="val_loss_per_modality.semantic")
    assert all(r["loss"] != r["loss"] for r in rows)  # NaN: the fake final.json has no such entry


def test_cli_plan_run_collect_fit_predict(sweep, tmp_path, capsys):
    out, doc, cmd = sweep
    assert main(["scaling", "run", str(out), "--train-command", cmd]) == 0
    runs_csv, fit_json, png = tmp_path / "runs.csv", tmp_path / "fit.json", tmp_path / "fit.png"
    assert main(["scaling", "collect", str(out), "--out", str(runs_csv)]) == 0
    assert main(["scaling", "fit", str(runs_csv), "--out", str(fit_json), "--plot", str(png), "--sweep", str(out),
                 "--predict", "1e14,1e15", "--n-boot", "50", "--n-boot3", "5", "--starts", "4"]) == 0
    fit = json.loads(fit_json.read_text())
    for key in ("params_exponent", "tokens_exponent", "params_exponent_ci", "tokens_exponent_ci", "approach3",
                "predictions", "param_convention"):
        assert key in fit
    assert {"E", "A", "B", "alpha", "beta"} <= set(fit["approach3"])
    assert [p["budget"] for p in fit["predictions"]] == [1e14, 1e15]
    assert png.stat().st_size > 10_000
    cfg_path = tmp_path / "pred.yaml"
    capsys.readouterr()
    assert main(["scaling", "predict", str(fit_json), "--budget", "1e15", "--out", str(cfg_path)]) == 0
    text = capsys.readouterr().out
    assert "N* =" in text and "predicted loss" in text and str(cfg_path) in text
    cfg = yaml.safe_load(cfg_path.read_text())
    assert cfg["name"] == "t_pred_C1e15" and cfg["trainer"]["max_tokens"] > 0 and cfg["_base_"]
    from audiolm.lm.train_config import load_train_config

    loaded = load_train_config(cfg_path)
    assert loaded.model.d_model == cfg["model"]["d_model"]
    assert main(["scaling", "predict", str(fit_json), "--budget", "1e15", "--json", "--approach", "3"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert pred["config"]["sized_by"] == "approach3" and pred["approach3"]["loss"] > 1.69


def test_cli_plan_from_yaml(tmp_path, capsys):
    plan_yaml = tmp_path / "plan.yaml"
    (tmp_path / "base.yaml").write_text("model:\n  vocab_size: 144644\n")
    plan_yaml.write_text("base_config: base.yaml\nbudgets: [3e18, 1e19]\nwidth: {min: 256, step: 256}\n")
    assert main(["scaling", "plan", str(plan_yaml), "--out", str(tmp_path / "s" / "sweep.yaml"),
                 "--set", "skip.min_steps=10"]) == 0
    doc = yaml.safe_load((tmp_path / "s" / "sweep.yaml").read_text())
    assert doc["plan"]["budgets"] == [3e18, 1e19] and doc["plan"]["width"]["step"] == 256
    assert all(r["model"]["d_model"] % 256 == 0 for r in doc["runs"])
    assert "budget 3e+18" in capsys.readouterr().out
