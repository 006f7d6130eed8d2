"""Prompting tasks (ASR, TTS, continuation) with a scripted generator, the eval command, reports,
bad input, and the training callback."""

import json

import numpy as np
import pytest

from audiolm.eval.build.benchmarks import build_benchmarks
from audiolm.eval.context import EvalContext
from audiolm.eval.items import load_cuts
from audiolm.eval.tasks import EvalOptions, UnknownTaskError, expand_tasks, run_asr, run_tasks, run_tts
from audiolm.eval.testing import ByteTokenizer, FramingCodec, random_model, scripted_generate
from audiolm.tokens.layout import make_layout


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    build_benchmarks(out, seed=1, size=6, tasks=["speech", "swuggy", "tblimp"])
    return out


def _ctx(layout="frame_major", codec=True):
    tok = ByteTokenizer()
    return EvalContext(random_model(tok.vocab.size, seed=2), tok, make_layout(layout, [0, 1], tok.vocab),
                       codec=FramingCodec() if codec else None)


class FakeJudge:
    name = "fake"

    def __init__(self, text):
        self.text = text

    def transcribe(self, wavs, sample_rate):
        return [self.text(w) for w in wavs]


class FakeSim:
    name = "fake-sim"

    def embed(self, wav, sr):
        return np.array([1.0, float(len(wav) > 0)])


def test_expand_tasks_and_unknown_names():
    assert expand_tasks("swuggy,salmon")[:3] == ["swuggy", "salmon_speaker", "salmon_gender"]
    assert len(expand_tasks("salmon")) == 8
    assert expand_tasks("all")[-4:] == ["asr", "tts", "continuation", "cross_modal"]
    assert expand_tasks("tstorycloze") == ["text_storycloze"]  # the former name still works
    with pytest.raises(UnknownTaskError, match="'swugy'.*known tasks"):
        expand_tasks("swugy,sblimp")


def test_asr_by_n_shot_prompting(data):
    ctx = _ctx()
    test = load_cuts(data / "speech" / "cuts_test.jsonl.gz")
    codes = ctx.encode_cuts("asr", test, [c.id for c in test])
    answer = {tuple(ctx.layout.encode(codes[c.id])): c.supervisions[0].text for c in test}

    def recognise(prompt):  # a perfect recogniser: transcript of the query (the last audio span)
        start = len(prompt) - 1 - prompt[::-1].index(ctx.vocab.audio_start)
        body = tuple(prompt[start + 1 : prompt.index(ctx.vocab.audio_end, start)])
        return ctx.tokenizer.encode_text(answer[body]) + [ctx.vocab.text_end]

    gen = scripted_generate(recognise)
    res, _ = run_asr(ctx, "asr", data / "speech", EvalOptions(asr_shots=2, max_items=4), generate_fn=gen)
    assert res["n"] == 4 and res["shots"] == 2
    assert res["wer"] == 0.0 and res["cer"] == 0.0
    # the constant-answer baseline: dev's most common first word, about one error per word
    assert res["baseline_hypothesis"] and 0.8 <= res["wer_baseline_constant"] <= 1.0
    call = gen.calls[0]
    assert call["stop_ids"] == [ctx.vocab.text_end]
    p = call["prompts"][0]
    assert p[0] == ctx.tokenizer.bos_id and p[-1] == ctx.vocab.text_start
    assert p.count(ctx.vocab.audio_start) == 3 and p.count(ctx.vocab.text_start) == 3  # 2 shots + the query


def test_asr_errors_are_counted(data):
    ctx = _ctx()
    gen = scripted_generate(lambda p: ctx.tokenizer.encode_text("completely wrong words here") + [ctx.vocab.text_end])
    res, _ = run_asr(ctx, "asr", data / "speech", EvalOptions(max_items=3), generate_fn=gen)
    assert res["wer"] > 0.5


@pytest.mark.parametrize("layout", ["frame_major", "delay"])
def test_tts_whole_frames_decoded_and_judged(data, layout):
    ctx = _ctx(layout)
    tpf = ctx.layout.tokens_per_frame
    frames = 20
    codes = np.stack([np.arange(frames) % 16, (np.arange(frames) * 3) % 16])
    body = list(ctx.layout.encode(codes))
    gen = scripted_generate(lambda p: body + [ctx.vocab.audio_end])
    judge = FakeJudge(lambda w: "hello" if len(w) else "")
    res, samples = run_tts(ctx, "tts", data / "speech", EvalOptions(max_items=3), generate_fn=gen, judge=judge, sim=FakeSim())
    assert res["n"] == 3 and res["ended"] == 1.0
    assert res["similarity"] == pytest.approx(1.0)
    expect_frames = frames  # both layouts decode back to the generated frames
    assert res["seconds"] == pytest.approx(expect_frames / 12.5, rel=1e-6)
    assert res["wer"] == pytest.approx(1.0, abs=0.35) and "wer_reference" in res and "similarity_reference" in res
    assert res["wer_codec_floor"] == pytest.approx(1.0, abs=0.35)  # the judge says "hello" to any audio
    assert len(samples) == 2 and len(samples[0][1]) == int(expect_frames * 1920)
    call = gen.calls[0]
    assert call["stop_ids"] == [ctx.vocab.audio_end]
    p = call["prompts"][0]
    assert p[-1] == ctx.vocab.audio_start and p.count(ctx.vocab.text_start) == 2 and p.count(ctx.vocab.audio_start) == 2
    # a generation cut mid-frame keeps whole frames only
    gen2 = scripted_generate(lambda p: body[: 5 * tpf + 1])
    res2, samples2 = run_tts(ctx, "tts", data / "speech", EvalOptions(max_items=1), generate_fn=gen2, judge=judge, sim=FakeSim())
    assert res2["ended"] == 0.0


def test_continuation(data):
    ctx = _ctx()
    gen = scripted_generate(lambda p: [ctx.vocab.audio_id(q, 3) for _ in range(10) for q in (0, 1)] + [ctx.vocab.audio_end])
    from audiolm.eval.tasks import run_continuation

    res, samples = run_continuation(ctx, "continuation", data / "speech", EvalOptions(max_items=2), generate_fn=gen, sim=FakeSim())
    assert res["n"] == 2 and res["seconds"] == pytest.approx(10 / 12.5)
    p = gen.calls[0]["prompts"][0]
    assert p[:2] == [ctx.tokenizer.bos_id, ctx.vocab.audio_start] and ctx.vocab.audio_end not in p
    assert (len(p) - 2) % ctx.layout.tokens_per_frame == 0
    assert [s[0] for s in samples] == ["continuation/0_prompt", "continuation/0", "continuation/1_prompt", "continuation/1"]


def test_one_failing_task_keeps_the_others(data, tmp_path):
    ctx = _ctx(codec=False)  # no codec: audio tasks must fail, text tasks must not
    ctx.codec_spec = None
    res = run_tasks(ctx, ["tblimp", "swuggy", "tts", "hellaswag"], data, EvalOptions(max_items=4))
    assert res["tblimp"].metrics["n"] == 4
    assert "swuggy" in res["swuggy"].metrics["error"] and "codec" in res["swuggy"].metrics["error"]
    assert res["tts"].metrics["error"].startswith("tts:") and "--codec" in res["tts"].metrics["error"]
    err = res["hellaswag"].metrics["error"]
    assert err.startswith("hellaswag:") and str(data / "hellaswag") in err  # names what is missing


def _fake_loaded(monkeypatch, codec_spec="fake:framing"):
    import audiolm.eval.context as context_mod
    import audiolm.lm.checkpoint as ckpt_mod

    tok = ByteTokenizer()

    class Loaded:
        model = random_model(tok.vocab.size, seed=4)
        tokenizer = tok
        layout = make_layout("frame_major", [0, 1], tok.vocab)
        config = None
        step = 7

    Loaded.codec_spec = codec_spec
    monkeypatch.setattr(ckpt_mod, "load_lm", lambda path, device="cpu": Loaded)
    monkeypatch.setattr(context_mod.EvalContext, "get_codec", lambda self, task="": _codec(self))

    def _codec(self):
        if self.codec is None:
            if not self.codec_spec:
                raise context_mod.MissingCodecError(f"{'eval'}: the checkpoint names no codec; pass --codec SPEC")
            self.codec = FramingCodec()
        return self.codec


def test_eval_command_writes_report_and_table(data, tmp_path, monkeypatch, capsys):
    from audiolm.cli import main

    _fake_loaded(monkeypatch)
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(b"x")
    out = tmp_path / "report.json"
    rc = main(["eval", str(ckpt), "--tasks", "swuggy,tblimp,sblimp", "--data", str(data), "--out", str(out),
               "--max-items", "3", "--set", "aggregation=sum", "--device", "cpu"])
    printed = capsys.readouterr().out
    rep = json.loads(out.read_text())
    assert rep["checkpoint"] == str(ckpt) and rep["options"]["aggregation"] == "sum"
    assert rep["tasks"]["swuggy"]["n"] == 3 and rep["tasks"]["tblimp"]["n"] == 3
    assert 0 <= rep["tasks"]["swuggy"]["accuracy"] <= 1 and rep["tasks"]["swuggy"]["chance"] == 0.5
    assert "sblimp" in rep["tasks"]["sblimp"]["error"]  # not built here: recorded, the others kept
    assert rc == 1
    assert "chance" in printed and "swuggy" in printed and "ERROR" in printed


def test_eval_command_bad_input(tmp_path, monkeypatch, capsys):
    from audiolm.cli import main

    ckpt = tmp_path / "x.ckpt"
    ckpt.write_bytes(b"x")
    assert main(["eval", str(ckpt), "--tasks", "swuggy,nope"]) == 2
    assert "'nope'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.ckpt"), "--tasks", "swuggy"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["eval", str(ckpt), "aggregation=max", "--tasks", "swuggy"]) == 2
    assert "aggregation" in capsys.readouterr().err
    assert main(["eval", str(ckpt), "--tasks", "swuggy", "--data", "swugy=/x"]) == 2
    assert "swugy" in capsys.readouterr().err


def test_eval_callback_logs_to_tensorboard(data, tmp_path, monkeypatch):
    import torch
    from lightning.pytorch.loggers import TensorBoardLogger

    from audiolm.eval.callback import EvalCallback

    ctx = _ctx()

    class Module(torch.nn.Module):
        device = torch.device("cpu")

        def __init__(self):
            super().__init__()
            self.model = ctx.model

        def loaded(self):
            from audiolm.lm.loaded import LoadedLM

            return LoadedLM(self.model, ctx.tokenizer, ctx.layout, "fake:framing", config=None)

    class Trainer:
        is_global_zero = True

        def __init__(self, step):
            self.global_step = step
            self.loggers = [TensorBoardLogger(str(tmp_path), name="tb")]

    cb = EvalCallback("tblimp,swuggy", str(data), every_n_steps=5, max_items=3)
    cb._ctx = None
    module = Module()
    import audiolm.eval.context as context_mod

    def get_codec(self, task=""):
        if self.codec is None:
            assert self.codec_spec == "fake:framing"
            self.codec = FramingCodec()
        return self.codec

    monkeypatch.setattr(context_mod.EvalContext, "get_codec", get_codec)
    cb.on_train_batch_end(Trainer(3), module, None, None, 0)
    assert cb.last_results == {}  # not a multiple of 5
    tr = Trainer(5)
    cb.on_train_batch_end(tr, module, None, None, 0)
    assert cb.last_results["tblimp"]["n"] == 3 and cb.last_results["swuggy"]["n"] == 3
    assert module.training  # back to training mode
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(tr.loggers[0].log_dir)
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "eval/tblimp/accuracy" in tags and "eval/swuggy/accuracy" in tags
    assert acc.Scalars("eval/swuggy/accuracy")[0].step == 5


def test_eval_asks_with_the_shared_prompt_builders(data, monkeypatch):
    """What the CLI builds (tests/test_lm_prompts.py) is what the eval builds: the same functions."""
    from audiolm.lm import prompts

    built = []
    for name in ("asr_prompt", "tts_prompt", "continuation_prompt"):
        real = getattr(prompts, name)
        monkeypatch.setattr(prompts, name, lambda *a, _real=real, **k: built.append(_real(*a, **k)) or built[-1])
    ctx = _ctx()
    gen = scripted_generate(lambda p: [ctx.vocab.text_end, ctx.vocab.audio_end])
    run_asr(ctx, "asr", data / "speech", EvalOptions(asr_shots=1, max_items=2), generate_fn=gen)
    run_tts(ctx, "tts", data / "speech", EvalOptions(max_items=2), generate_fn=gen, judge=FakeJudge(lambda w: ""),
            sim=FakeSim())
    asked = [p for call in gen.calls for p in call["prompts"]]
    assert len(built) == len(asked) == 4 and asked == built


def test_split_tasks_balances_expected_cost_and_keeps_order():
    from audiolm.eval.commands import split_tasks

    names = ["swuggy", "sblimp", "tblimp", "asr", "tts", "salmon_speaker", "salmon_room"]
    groups = split_tasks(names, 2)
    assert sorted(sum(groups, [])) == sorted(names) and len(groups) == 2
    assert ["tts"] in groups  # the costliest task alone against the rest
    for g in groups:
        assert g == [n for n in names if n in g]
    assert split_tasks(names, 1) == [names]
    assert split_tasks(["tblimp"], 4) == [["tblimp"]]
    # the quickstart's tasks: TTS's worker takes some SALMon parts too, the loads end within a part
    from audiolm.eval.commands import SPOKEN_SET_COST, TASK_COST
    from audiolm.eval.tasks import SALMON_PARTS

    quick = ["swuggy", "sblimp", *SALMON_PARTS, "twuggy", "tblimp", "sstorycloze", "topic_sstorycloze",
             "text_storycloze", "hellaswag", "cross_modal", "asr", "tts"]
    a, b = split_tasks(quick, 2)
    tts_group = a if "tts" in a else b
    assert any(n.startswith("salmon_") for n in tts_group)
    loads = [sum(TASK_COST.get(n, SPOKEN_SET_COST) for n in g) for g in (a, b)]
    assert abs(loads[0] - loads[1]) <= SPOKEN_SET_COST


class _FakeJob:
    """Stands in for commands._EvalJob in spawned workers: a task named 'die' kills its worker."""

    def run(self, names, threads=0):
        import os

        if "die" in names:
            os._exit(3)
        return {"tasks": {n: {"accuracy": 0.5, "n": 2, "threads": threads} for n in names}, "step": 7, "codec": "c"}


def test_parallel_eval_merges_workers_and_a_dead_worker_fails_its_tasks():
    from audiolm.eval.commands import _run_parallel

    out = _run_parallel(_FakeJob(), [["swuggy", "tblimp"], ["asr"]], threads=1)
    assert set(out["tasks"]) == {"swuggy", "tblimp", "asr"} and out["step"] == 7
    assert all(m["threads"] == 1 for m in out["tasks"].values())
    out = _run_parallel(_FakeJob(), [["swuggy"], ["die", "asr"]], threads=1)
    assert out["tasks"]["swuggy"]["accuracy"] == 0.5
    for n in ("die", "asr"):
        assert "accuracy" not in out["tasks"][n] and "worker process failed" in out["tasks"][n]["error"]


def test_eval_command_refuses_zero_jobs(tmp_path, capsys):
    from audiolm.cli import main

    ckpt = tmp_path / "x.ckpt"
    ckpt.write_bytes(b"x")
    assert main(["eval", str(ckpt), "--tasks", "swuggy", "--jobs", "0"]) == 2
    assert "--jobs" in capsys.readouterr().err
