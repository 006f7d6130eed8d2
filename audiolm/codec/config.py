"""Config schemas of the codec (model + training). Field names are what conf/codec/*.yaml set."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SEANetConfig:
    n_filters: int = 64
    patch_size: int = 1  # >1: first encoder conv / last decoder conv stride by this (cheap CPU layout)
    max_filters: int = 0  # cap on conv channels (0 = none)
    ratios: list[int] = field(default_factory=lambda: [8, 6, 5, 4])  # decoder order; encoder uses them reversed
    n_residual_layers: int = 1
    kernel_size: int = 7
    last_kernel_size: int = 3
    residual_kernel_size: int = 3
    dilation_base: int = 2
    compress: int = 2
    activation: str = "elu"
    dimension: int = 512  # latent width


@dataclass
class TransformerConfig:
    n_layers: int = 8  # 0 = no transformer bottleneck
    n_heads: int = 8
    ffn_dim: int = 2048
    context: int = 250  # frames each position attends to (at the SEANet frame rate)
    layer_scale: float = 0.01


@dataclass
class QuantizerConfig:
    n_semantic: int = 1
    n_acoustic: int = 7
    codebook_size: int = 2048
    codebook_dim: int = 256
    split_mode: str = "parallel"  # parallel (Mimi) | residual
    ema_decay: float = 0.99
    dead_threshold: float = 0.1  # restart a code whose EMA usage < this x a uniform share of the batch
    quantizer_dropout: float = 0.5  # probability a sample keeps a random number of acoustic levels
    lookup: str = "euclidean"  # euclidean | cosine (nearest code by direction)
    quantize_prob: float = 1.0  # training: share of samples quantized, the rest pass through (Mimi: 0.5)


@dataclass
class SpectralConfig:
    """``kind: spectral``: causal log-mel conv encoder, decoder to STFT log-magnitudes + Griffin-Lim."""

    n_fft: int = 1024
    hop: int = 240  # STFT hop; the codec hop (1920) must be a multiple
    n_mels: int = 80
    channels: int = 256
    n_blocks: int = 2  # residual conv blocks at each rate
    griffin_lim_iters: int = 32


@dataclass
class CodecModelConfig:
    kind: str = "seanet"  # seanet (waveform SEANet, Mimi) | spectral (CPU-quick: learns in minutes)
    sample_rate: int = 24000
    channels: int = 1
    seanet: SEANetConfig = field(default_factory=SEANetConfig)
    spectral: SpectralConfig = field(default_factory=SpectralConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    downsample: int = 2  # extra stride after the transformer (Mimi: 25 Hz -> 12.5 Hz)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)


@dataclass
class TeacherConfig:
    kind: str = "phones"  # phones (offline phone recognizer, trained in the run dir) | hf (WavLM/HuBERT dir) | none
    path: str = ""  # hf: local model dir; phones: an existing teacher.pt to reuse ("" = train one)
    layer: int = -1  # hf: hidden_states index (-1 = last)
    # phone recognizer pre-stage
    hidden: int = 128
    steps: int = 300
    batch_size: int = 16
    segment_frames: int = 150  # 10 ms frames per training segment
    lr: float = 3e-3
    max_cuts: int = 0  # 0 = all training cuts
    feature: str = "hidden"  # hidden | posteriors


@dataclass
class LossConfig:
    mel_weight: float = 1.0
    mel_n_ffts: list[int] = field(default_factory=lambda: [256, 512, 1024, 2048])
    mel_n_mels: list[int] = field(default_factory=lambda: [32, 64, 80, 80])
    stft_weight: float = 0.0  # multi-resolution STFT (spectral convergence + log magnitude)
    stft_n_ffts: list[int] = field(default_factory=lambda: [512, 1024, 2048])
    waveform_l1_weight: float = 0.0
    adv_weight: float = 1.0
    feat_weight: float = 2.0
    adv_start_step: int = 0  # discriminator and adversarial losses start here
    commit_weight: float = 1.0
    distill_weight: float = 1.0


@dataclass
class DiscriminatorConfig:
    n_ffts: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])
    filters: int = 32
    max_filters: int = 256
    n_layers: int = 3


@dataclass
class OptimConfig:
    lr: float = 3e-4
    lr_disc: float = 3e-4
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    weight_decay: float = 0.0
    warmup_steps: int = 0
    schedule: str = "constant"  # constant | cosine (to min_lr_ratio at max_steps)
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0


@dataclass
class CodecDataConfig:
    segment_seconds: float = 2.0
    batch_size: int = 16
    num_workers: int = 2
    cache_audio: bool = False  # keep the decoded training audio in memory (small corpora)
    val_max_cuts: int = 64
    val_seconds: float = 4.0  # each validation cut is cut/padded to this
    n_audio_examples: int = 3  # reconstructions written to tensorboard per validation


@dataclass
class CodecTrainerConfig:
    max_steps: int = 100000
    max_time_minutes: float = 0.0  # wall-clock cap over the whole run, resumes included (0 = none)
    val_every_n_steps: int = 1000
    ckpt_every_n_steps: int = 5000  # keep checkpoints/step-N.ckpt (last.ckpt is kept at every validation)
    log_every_n_steps: int = 25
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_threads: int = 0  # torch CPU threads (0 = torch's default)
    seed: int = 0


@dataclass
class CodecTrainConfig:
    name: str = ""
    exp_dir: str = "exp"
    train_cuts: str = ""
    val_cuts: str = ""
    model: CodecModelConfig = field(default_factory=CodecModelConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    disc: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: CodecDataConfig = field(default_factory=CodecDataConfig)
    trainer: CodecTrainerConfig = field(default_factory=CodecTrainerConfig)
