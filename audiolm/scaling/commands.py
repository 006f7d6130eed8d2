"""``audiolm scaling plan|run|collect|fit|predict``: IsoFLOP studies from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 3e18,1e19: {e}") from None


def _names(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


# ------------------------------------------------------------------------------------------ plan

def configure_scaling_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", nargs="?", help="plan YAML (PlanConfig fields: budgets, base_config, width, depth, heads, ffn, lr, batch, skip, ...)")
    p.add_argument("--budgets", type=_floats, help="FLOP budgets, e.g. 3e18,6e18,1e19")
    p.add_argument("--base", help="base LM training config every run starts from (_base_)")
    p.add_argument("--out", required=True, help="sweep file to write (run configs go to <its dir>/runs/)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="plan overrides, e.g. width.step=256 skip.min_steps=100")


def run_scaling_plan(args) -> int:
    from audiolm.config import load_config
    from audiolm.scaling.plan import PlanConfig, write_sweep

    overrides = list(args.set)
    plan = load_config(PlanConfig, args.plan, overrides)
    if args.plan and plan.base_config and not Path(plan.base_config).is_absolute():
        near = Path(args.plan).parent / plan.base_config
        if near.is_file() and not Path(plan.base_config).is_file():
            plan.base_config = str(near)
    if args.budgets:
        plan.budgets = args.budgets
    if args.base:
        plan.base_config = args.base
    if plan.base_config and not Path(plan.base_config).is_file():
        print(f"error: base config {plan.base_config} not found", file=sys.stderr)
        return 2
    doc = write_sweep(plan, args.out)
    runs, skipped = doc["runs"], doc["skipped"]
    print(f"{'name':<28} {'d':>5} {'L':>3} {'h/kv':>6} {'ffn':>6} {'params':>13} {'non-emb':>12} {'tokens':>14} {'D/N':>7} {'lr':>8} {'bs':>5} {'steps':>7}")
    for r in runs:
        m = r["model"]
        print(f"{r['name']:<28} {m['d_model']:>5} {m['n_layers']:>3} {m['n_heads']:>3}/{m['n_kv_heads']:<2} {m['ffn_dim']:>6} "
              f"{r['params']['total']:>13,} {r['params']['non_embedding']:>12,} {r['tokens']:>14,} {r['tokens_per_param']:>7.1f} "
              f"{r['lr']:>8.2e} {r['batch_size']:>5} {r['steps']:>7}")
    per_budget = {}
    for r in runs:
        per_budget[r["budget"]] = per_budget.get(r["budget"], 0) + 1
    for c in sorted(float(b) for b in doc["plan"]["budgets"]):
        k = per_budget.get(c, 0)
        flag = "  <- fewer than 3 runs: no parabola possible" if k < 3 else ""
        print(f"budget {c:.3g}: {k} runs{flag}")
    print(f"{len(runs)} runs, {len(skipped)} grid cells skipped (see 'skipped' in {args.out}); "
          f"total {sum(r['flops'] for r in runs):.3g} FLOPs ({doc['plan']['convention']})")
    return 0


# ------------------------------------------------------------------------------------------- run

def configure_scaling_run(p: argparse.ArgumentParser) -> None:
    from audiolm.scaling.runner import DEFAULT_TRAIN_COMMAND

    p.add_argument("sweep", help="sweep file from `audiolm scaling plan`")
    p.add_argument("--train-command", default=DEFAULT_TRAIN_COMMAND,
                   help="launch template with {config} {name} {exp_dir} {run_dir} {python} (default: %(default)s)")
    p.add_argument("--print-commands", action="store_true", help="print one launch command per unfinished run and exit")
    p.add_argument("--all", action="store_true", help="with --print-commands: include finished runs")
    p.add_argument("--only", type=_names, default=[], help="comma-separated run names")
    p.add_argument("--budgets", type=_floats, default=[], help="only runs of these budgets")
    p.add_argument("--keep-going", action="store_true", help="continue with the next run when one fails")
    p.add_argument("--dry-run", action="store_true", help="say what would run, run nothing")


def run_scaling_run(args) -> int:
    from audiolm.scaling.runner import print_commands, run_sweep

    if args.print_commands:
        for line in print_commands(args.sweep, train_command=args.train_command, only=args.only,
                                   budgets=args.budgets, include_finished=args.all):
            print(line)
        return 0
    status = run_sweep(args.sweep, train_command=args.train_command, only=args.only, budgets=args.budgets,
                       keep_going=args.keep_going, dry_run=args.dry_run)
    print(f"done {len(status['done'])}, already finished {len(status['skipped'])}, failed {len(status['failed'])}"
          + (f": {', '.join(status['failed'])}" if status["failed"] else ""))
    return 1 if status["failed"] else 0


# --------------------------------------------------------------------------------------- collect

def configure_scaling_collect(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", help="sweep file from `audiolm scaling plan`")
    p.add_argument("--out", required=True, help="runs.csv to write")
    p.add_argument("--loss-key", default="val_loss",
                   help="final.json entry used as the loss: val_loss (default), or a dotted path such as "
                        "val_loss_per_modality.semantic or val_bits_per_audio_second")


def run_scaling_collect(args) -> int:
    from audiolm.scaling.runner import collect

    rows = collect(args.sweep, args.out, loss_key=args.loss_key)
    return 0 if rows else 1


# ------------------------------------------------------------------------------------------- fit

def configure_scaling_fit(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", help="runs.csv (columns budget,params,tokens,loss[,non_embedding_params,output_head_params,flops_per_token,...])")
    p.add_argument("--out", required=True, help="fit.json to write")
    p.add_argument("--plot", help="figure to write (IsoFLOP curves, N*(C), D*(C))")
    p.add_argument("--param-convention", default="total", choices=["total", "non_embedding", "non_embedding_plus_head"])
    p.add_argument("--predict", type=_floats, default=[], help="budgets to predict N*, D*, loss for, e.g. 1e21,1e22")
    p.add_argument("--sweep", help="the sweep file: stores its plan in fit.json so `predict` can write a config")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for Approach 2")
    p.add_argument("--n-boot3", type=int, default=200, help="bootstrap resamples for Approach 3")
    p.add_argument("--window", type=int, default=0,
                   help="Approach 2: fit each parabola to the K runs around its budget's lowest loss (0 = all runs)")
    p.add_argument("--starts", type=int, default=16, help="Approach 3: L-BFGS starts (the best points of the initialisation grid)")
    p.add_argument("--ci", type=float, default=0.95, help="confidence level of the intervals")
    p.add_argument("--seed", type=int, default=0)


def _print_fit(fit: dict) -> None:
    def iv(x):
        return "[nan, nan]" if not x or x[0] is None else f"[{x[0]:.3f}, {x[1]:.3f}]"

    def num(x):
        return "nan" if x is None else f"{x:.3f}"

    a2, a3 = fit.get("approach2") or {}, fit.get("approach3") or {}
    print(f"param convention: {fit['param_convention']}; FLOP convention: {fit['flop_convention']}; "
          f"{fit['n_valid_runs']}/{fit['n_runs']} valid runs, {len(fit['budgets'])} budgets")
    for e in a2.get("per_budget", []):
        if e.get("N_opt"):
            print(f"  C={e['budget']:.3g}: {e['n_runs']} runs, N*={e['N_opt']:.4g}, D*={e['D_opt']:.4g}, "
                  f"L*={e['loss_opt']:.4f}{'' if e['used'] else ' (not used)'}")
    print(f"Approach 2: N* ∝ C^{num(a2.get('params_exponent'))} {iv(a2.get('params_exponent_ci'))}, "
          f"D* ∝ C^{num(a2.get('tokens_exponent'))} {iv(a2.get('tokens_exponent_ci'))}")
    if a3:
        print(f"Approach 3: L = {a3['E']:.4f} + {a3['A']:.4g}/N^{a3['alpha']:.4f} + {a3['B']:.4g}/D^{a3['beta']:.4f}; "
              f"a = {a3['params_exponent']:.3f} {iv(a3.get('params_exponent_ci'))}, "
              f"b = {a3['tokens_exponent']:.3f} {iv(a3.get('tokens_exponent_ci'))}")
    for p in fit.get("predictions", []):
        parts = []
        for k in ("approach2", "approach3"):
            if p.get(k):
                q = p[k]
                loss = f", loss {q['loss']:.4f}" if q.get("loss") is not None else ""
                parts.append(f"{k}: N*={q['N']:.4g}, D*={q['D']:.4g}{loss}")
        print(f"  predict C={p['budget']:.3g}: " + "; ".join(parts))


def run_scaling_fit(args) -> int:
    import yaml

    from audiolm.scaling.fit import ScalingFitWarning, fit_runs, read_runs_csv

    cols = read_runs_csv(args.runs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScalingFitWarning)
        fit = fit_runs(cols, param_convention=args.param_convention, predict=args.predict, n_boot=args.n_boot,
                       n_boot3=args.n_boot3, ci=args.ci, seed=args.seed, top_k=args.starts, window=args.window)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    fit["runs_csv"] = str(args.runs)
    if args.sweep:
        fit["plan"] = yaml.safe_load(Path(args.sweep).read_text()).get("plan")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(fit, indent=2))
    _print_fit(fit)
    print(f"wrote {args.out}")
    if args.plot:
        from audiolm.scaling.plots import plot_fit

        print(f"wrote {plot_fit(cols, fit, args.plot)}")
    return 0


# --------------------------------------------------------------------------------------- predict

def configure_scaling_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("fit", help="fit.json from `audiolm scaling fit`")
    p.add_argument("--budget", type=float, required=True, help="FLOP budget C")
    p.add_argument("--approach", type=int, default=2, choices=[2, 3], help="whose N* sizes the config (default 2)")
    p.add_argument("--out", help="write a ready LM config (YAML) for this budget here")
    p.add_argument("--sweep", help="sweep file whose plan (grid rules, base config) builds the config (default: the one stored in fit.json)")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")


def run_scaling_predict(args) -> int:
    import yaml

    from audiolm.scaling.fit import law_loss, predict_budget
    from audiolm.scaling.plan import config_for_params, plan_from_dict, write_run_config

    fit = json.loads(Path(args.fit).read_text())
    pred = predict_budget(fit, args.budget)
    key = f"approach{args.approach}"
    if not pred.get(key):
        other = "approach3" if key == "approach2" else "approach2"
        if not pred.get(other):
            print("error: the fit has neither an Approach 2 power law nor an Approach 3 law", file=sys.stderr)
            return 1
        print(f"warning: {key} unavailable in {args.fit}; using {other}", file=sys.stderr)
        key = other
    n_star = pred[key]["N"]
    plan_dict = yaml.safe_load(Path(args.sweep).read_text()).get("plan") if args.sweep else fit.get("plan")
    if plan_dict:
        plan = plan_from_dict(plan_dict)
        run = config_for_params(plan, args.budget, n_star, fit["param_convention"])
        a3 = fit.get("approach3") or {}
        n_cfg = run["params"][fit["param_convention"]]
        pred["config"] = {
            "name": run["name"], "model": run["model"], "params": run["params"], "tokens": run["tokens"],
            "lr": run["lr"], "batch_size": run["batch_size"], "seq_len": run["seq_len"], "sized_by": key,
            "predicted_loss": float(law_loss(a3, n_cfg, run["tokens"])) if a3 else None,
        }
        if args.out:
            write_run_config(plan, run, args.out)
            pred["config"]["path"] = str(args.out)
    elif args.out:
        print("error: --out needs the sweep's plan (pass --sweep, or fit with --sweep)", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(pred, indent=2))
        return 0
    print(f"budget C = {args.budget:.3g} FLOPs ({fit.get('flop_convention')}), params as {fit['param_convention']}")
    for k in ("approach2", "approach3"):
        if pred.get(k):
            q = pred[k]
            loss = f", predicted loss {q['loss']:.4f}" if q.get("loss") is not None else ""
            print(f"  {k}: N* = {q['N']:.4g}, D* = {q['D']:.4g} tokens{loss}")
    if "config" in pred:
        c = pred["config"]
        m = c["model"]
        loss = f", predicted loss {c['predicted_loss']:.4f}" if c["predicted_loss"] is not None else ""
        print(f"  config ({c['sized_by']}): d={m['d_model']} L={m['n_layers']} heads={m['n_heads']}/{m['n_kv_heads']} "
              f"ffn={m['ffn_dim']}: {c['params'][fit['param_convention']]:,} params, {c['tokens']:,} tokens{loss}")
        if "path" in c:
            print(f"wrote {c['path']}  (train: audiolm train lm {c['path']})")
    return 0
