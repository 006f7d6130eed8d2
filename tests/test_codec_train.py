"""CodecModule training: discriminator step, exact resume, configs, phone teacher, load_codec."""

import pytest
import torch

from audiolm.codec.testing import make_fake_cuts, tiny_codec_overrides


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    cuts = make_fake_cuts(d / "audio", n=10, seconds=1.2)
    cuts.to_file(d / "cuts.jsonl.gz")
    return d


def _cfg(corpus, exp, name, **extra):
    from audiolm.codec.train import load_train_config

    ov = {"exp_dir": str(exp), "name": name, "train_cuts": str(corpus / "cuts.jsonl.gz"),
          "val_cuts": str(corpus / "cuts.jsonl.gz"), "loss.adv_start_step": 1, "trainer.val_every_n_steps": 2}
    ov.update(extra)
    return load_train_config(None, tiny_codec_overrides(**ov))


def test_training_discriminator_step_resume_and_load(corpus, tmp_path):
    from audiolm.codec import load_codec
    from audiolm.codec.train import train_codec

    exp = tmp_path / "exp"
    full = train_codec(_cfg(corpus, exp, "full", **{"trainer.max_steps": 4}), progress=False)
    assert full["steps"] == 4
    run = exp / "full"
    for f in ("checkpoints/last.ckpt", "hparams.yaml", "teacher/phone_teacher.pt", "train_summary.json"):
        assert (run / f).is_file(), f
    assert list((run / "tb").glob("events.*"))
    # the same run in two halves (the second call resumes from last.ckpt) ends bit-identical
    train_codec(_cfg(corpus, exp, "halves", **{"trainer.max_steps": 2}), progress=False)
    second = train_codec(_cfg(corpus, exp, "halves", **{"trainer.max_steps": 4}), progress=False)
    assert second["resumed_from"] == 2 and second["steps"] == 4
    a = torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    b = torch.load(exp / "halves/checkpoints/last.ckpt", map_location="cpu", weights_only=True)
    assert a["codec_train_step"] == b["codec_train_step"] == 4
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    # the discriminator trained (adversarial from step 1): its weights moved from their init
    init = _cfg(corpus, exp, "x")
    from audiolm.codec.module import CodecModule
    from audiolm.config import to_dict

    torch.manual_seed(0)
    fresh = CodecModule(to_dict(init)).state_dict()
    disc = [k for k in a["state_dict"] if k.startswith("discriminator.")]
    assert disc and any(not torch.equal(a["state_dict"][k], fresh[k]) for k in disc if k in fresh)
    # rerunning a finished run does nothing
    assert train_codec(_cfg(corpus, exp, "full", **{"trainer.max_steps": 4}), progress=False)["trained"] is False
    # the checkpoint is a codec spec
    codec = load_codec(str(run / "checkpoints/last.ckpt"))
    assert (codec.sample_rate, codec.frame_rate, codec.n_codebooks, codec.codebook_size) == (24000, 12.5, 8, 32)
    wav = 0.1 * torch.randn(1, 1, 24000)
    assert codec.decode(codec.encode(wav)).shape == (1, 1, 13 * 1920)


def test_discriminator_step_changes_only_the_discriminator(corpus):
    from audiolm.codec.module import CodecModule
    from audiolm.codec.losses import hinge_d_loss
    from audiolm.config import to_dict

    m = CodecModule(to_dict(_cfg(corpus, corpus, "d")))
    wav = 0.1 * torch.randn(2, 1, 12000)
    out = m.model(wav)
    opt = torch.optim.SGD(m.discriminator.parameters(), lr=0.1)
    real, _ = m.discriminator(wav)
    fake, _ = m.discriminator(out.audio.detach())
    before_d = [p.clone() for p in m.discriminator.parameters()]
    before_g = [p.clone() for p in m.model.parameters()]
    loss = hinge_d_loss(real, fake)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before_d, m.discriminator.parameters()))
    assert all(p.grad is None for p in m.model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before_g, m.model.parameters()))
    gen = m.generator_losses(wav, out, adversarial=True)
    assert {"mel", "commit", "adv", "feat"} <= set(gen)


def test_configs_load_and_bad_keys_are_named():
    from audiolm.codec.model import SpectralRVQCodec, SplitRVQCodec, build_codec
    from audiolm.codec.train import load_train_config
    from audiolm.config import ConfigError

    quick = load_train_config("quick")
    assert quick.name == "quick"
    q = build_codec(quick.model)
    assert isinstance(q, SpectralRVQCodec)
    assert q.hop == 1920 and q.frame_rate == 12.5 and q.n_codebooks == 8 and q.codebook_size == 256
    big = load_train_config("mimi_size")
    assert big.model.quantizer.codebook_size == 2048 and big.model.seanet.ratios == [8, 6, 5, 4]
    b = build_codec(big.model)
    assert type(b) is SplitRVQCodec and b.hop == 1920 and b.n_codebooks == 8
    with pytest.raises(ConfigError, match="n_filtrs"):
        load_train_config("quick", ["model.seanet.n_filtrs=3"])


def test_phone_teacher_learns_the_alignments(corpus, tmp_path):
    from lhotse import CutSet

    from audiolm.codec.teachers import PhoneTeacher, train_phone_teacher

    cuts = CutSet.from_file(corpus / "cuts.jsonl.gz")
    t = train_phone_teacher(cuts, 24000, tmp_path / "t.pt", hidden=32, steps=60, batch_size=8, segment_frames=80)
    info = torch.load(tmp_path / "t.pt", weights_only=True)["info"]
    assert info["val_frame_accuracy"] > 0.5, info  # 9 classes, silence ~ a third of the frames
    again = PhoneTeacher.load(tmp_path / "t.pt")
    wav = 0.1 * torch.randn(2, 1, 24000)
    assert torch.allclose(t.features(wav), again.features(wav))
    assert t.features(wav).shape == (2, 101, 32)
    with pytest.raises(ValueError, match="alignment"):
        from lhotse import MonoCut

        train_phone_teacher([MonoCut(id="x", start=0, duration=1, channel=0)], 24000, tmp_path / "u.pt")


def test_spectral_codec_trains_validates_and_loads(corpus, tmp_path):
    from audiolm.codec import load_codec
    from audiolm.codec.train import train_codec

    cfg = _cfg(corpus, tmp_path, "spec", **{"model.kind": "spectral", "model.seanet.ratios": "[2,2]",
                                            "model.spectral.channels": 16, "model.spectral.n_blocks": 1,
                                            "model.spectral.griffin_lim_iters": 2, "loss.stft_weight": 1.0,
                                            "model.quantizer.quantize_prob": 0.5, "trainer.max_steps": 2})
    assert train_codec(cfg, progress=False)["steps"] == 2
    codec = load_codec(str(tmp_path / "spec/checkpoints/last.ckpt"))
    wav = 0.1 * torch.randn(1, 1, 20000)
    codes = codec.encode(wav)
    assert codes.shape == (1, 8, 11) and codec.decode(codes).shape == (1, 1, 11 * 1920)
