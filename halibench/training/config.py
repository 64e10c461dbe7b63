"""Training hyper-parameters (no torch here: the command line reads these fields to make
``halibench train``'s options)."""

from __future__ import annotations

from dataclasses import dataclass

from halibench.jsonable import JsonConfig, option


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    """Every training hyper-parameter; saved in each checkpoint's config.json."""

    dataset: str = option("mnist", "Dataset name.")
    train_range: tuple[int, int] = (0, 50000)
    health_range: tuple[int, int] = (50000, 52000)
    steps: int = option(10000, "Training steps (one batch each).", minimum=1)
    batch_size: int = option(100, "Images per step.", minimum=2)
    lr: float = option(1e-4, "Adam learning rate (generators, and D unless --lr-d).")
    lr_d: float | None = option(None, "Discriminator learning rate.")
    lr_decay: int = option(
        0, "Decay both learning rates linearly over the last N of --steps, to 1/N of each "
        "rate at the last step (0: constant; a resume that changes --steps moves the "
        "window; a resume may start a decay at its checkpoint).", minimum=0)
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = option(0, "Seed of initialisation, data order and sampling.")
    checkpoint_every: int = option(1000, "Steps between checkpoints.", minimum=1)
    health_every: int = option(500, "Steps between health probes (0: never).", minimum=0)
    log_every: int = 10
    validation: str | None = option(
        None, "Validation protocol (shipped name or .toml path) scored at checkpoints, e.g. "
        "mnist-recipe-validation or celeba-recipe-validation; its rows must be held-out "
        "training rows.")
    validate_every: int = option(
        0, "Steps between validation scores (0: never); a multiple of --checkpoint-every.",
        minimum=0)
    patience: int = option(
        0, "Stop after this many validation scores without improvement (0: train to "
        "--steps); the best step is kept and marked 'best'.", minimum=0)
    keep_checkpoints: int = option(2, "Checkpoints kept on disk (the newest ones).", minimum=1)
    instance_noise: float = option(0.0, "Std of Gaussian noise on D's image inputs.", minimum=0)
    instance_noise_steps: int = option(
        0, "Anneal the instance noise to 0 over this many steps (0: constant).", minimum=0)
    cycle_weight: float = option(
        0.0, "Stabiliser: ALICE-style reconstruction cycle term through each level.",
        minimum=0)
    cycle_reduction: str = option("sum", "Cycle term per image: sum or mean of squared errors.",
                                  choices=("sum", "mean"))
    label_smoothing: float = option(
        0.0, "Stabiliser: one-sided, D's target for encoder tuples is 1 - this.", minimum=0,
        maximum=0.5)
    r1_weight: float = option(
        0.0, "Stabiliser: zero-centred gradient penalty on encoder tuples (R1).", minimum=0)
    generator_loss: str = option(
        "non-saturating", "What both chains minimise: the non-saturating GAN loss, or feature "
        "matching (squared distance of the batch-mean last hidden D features of encoder and "
        "decoder tuples; improved-GAN's semi-supervised choice).",
        choices=("non-saturating", "feature-matching"))
    labels_per_class: int = option(
        0, "Semi-supervised: labelled images per class, the label protocol's seeded class-"
        "balanced draw; D becomes a (K+1)-class classifier (0: no labels).", minimum=0)
    label_protocol: str | None = option(
        None, "Protocol whose pool, seed and draws give the labels (default: DATASET-semisup-"
        "own, whose draws mnist-semisup shares).")
    label_draw: int = option(0, "Which of the label protocol's draws (0-based).", minimum=0)
    supervised_weight: float = option(
        1.0, "Weight of the labelled cross-entropy in D's loss.", minimum=0)
    entropy_weight: float = option(
        0.0, "Semi-supervised: weight of the entropy of D's class distribution over 1..K on "
        "the unlabelled encoder tuples, added to D's loss so that D commits to a class for "
        "every real image (conditional entropy minimisation, as in Dai et al. 2017; 0: none).",
        minimum=0)
    labelled_batch: int = option(
        100, "Labelled images per step, drawn with replacement from the labelled draw.",
        minimum=1)
    unlabelled: str = option(
        "adversarial", "What the unlabelled images do: the adversarial game, or none (the "
        "supervised-only baseline: the same classifier and encoder trained on the labels "
        "alone).",
        choices=("adversarial", "none"))
    updates: str = option(
        "alternating", "How the two sides update: alternating (D steps, then both chains play "
        "the updated D in a second D pass) or simultaneous (one D pass gives both gradients, "
        "as the public ALI port; ~1.2x faster steps, but worse features in one MNIST parity "
        "run; see the faster-steps section of docs/training-and-recipes.md).",
        choices=("alternating", "simultaneous"))
    autocast: str = option(
        "none", "Mixed precision: forward passes in bfloat16, float32 weights (measured: "
        "1.3-1.55x faster steps on a CPU with avx512_bf16, 0.3-0.45x on one without; within "
        "noise of float32 in one MNIST parity run; see the bf16 parity section of "
        "docs/training-and-recipes.md).",
        choices=("none", "bf16"))
    weight_average: float = option(
        0.0, "Polyak averaging: keep an exponential moving average of every weight with this "
        "decay per step, below 1 (e.g. 0.999; 0: none), warmed up as min(decay, (1+n)/(10+n)) "
        "at update n. Checkpoints, validation, evaluation and export use the averaged "
        "weights; training, its health probes and a resume continue the raw ones (stored "
        "beside the optimiser state).", minimum=0)
    device: str = "cpu"

    def __post_init__(self) -> None:
        self.check_options()
        if self.validate_every and self.validate_every % self.checkpoint_every:
            raise ValueError(f"--validate-every {self.validate_every} must be a multiple of "
                             f"--checkpoint-every {self.checkpoint_every}, so that every "
                             "scored step has a checkpoint")
        if bool(self.validate_every) != bool(self.validation):
            raise ValueError("--validate-every and --validation go together: give both (or "
                             "neither)")
        if self.updates == "simultaneous" and self.generator_loss != "non-saturating":
            raise ValueError("--updates simultaneous takes both losses from D's logits: use "
                             "the non-saturating --generator-loss (or --updates alternating)")
        label_options = {"label_protocol": None, "label_draw": 0, "supervised_weight": 1.0,
                         "entropy_weight": 0.0, "labelled_batch": 100, "unlabelled": "adversarial"}
        changed = [k for k, v in label_options.items() if getattr(self, k) != v]
        if changed and not self.labels_per_class:
            raise ValueError(f"--{changed[0].replace('_', '-')} is a semi-supervised option: "
                             "give --labels-per-class too")
        if self.unlabelled == "none" and (
                self.generator_loss != "non-saturating" or self.cycle_weight or self.r1_weight
                or self.supervised_weight == 0 or self.updates != "alternating"
                or self.entropy_weight):
            raise ValueError("--unlabelled none trains the classifier alone (cross-entropy, "
                             "weight > 0): drop --generator-loss, --cycle-weight, "
                             "--r1-weight, --entropy-weight and --updates")
        if self.lr_decay == 1:
            raise ValueError("--lr-decay 1: give 0 (constant rates) or a number of steps >= 2")
        if self.lr_decay > self.steps:
            raise ValueError(f"--lr-decay {self.lr_decay} is longer than --steps "
                             f"{self.steps}: give --steps >= {self.lr_decay} or a shorter "
                             "--lr-decay")
        if not 0 <= self.weight_average < 1:
            raise ValueError(f"--weight-average {self.weight_average}: give 0 (no average) or "
                             "a decay below 1, e.g. 0.999")
        if self.patience and not self.validate_every:
            raise ValueError("--patience needs --validate-every and --validation")

    @property
    def semi_supervised(self) -> bool:
        return self.labels_per_class > 0

    @property
    def discriminator_lr(self) -> float:
        """D's learning rate: --lr-d, else --lr."""
        return self.lr if self.lr_d is None else self.lr_d

    def lr_factor(self, step: int) -> float:
        """The learning rates' multiplier at 0-based ``step``: 1, then linearly down to
        1 / lr_decay at the last step over the last ``lr_decay`` steps."""
        start = self.steps - self.lr_decay
        return 1.0 if not self.lr_decay or step < start else (self.steps - step) / self.lr_decay

    def noise_std(self, step: int) -> float:
        """Instance noise: ``instance_noise`` annealed linearly to 0 over ``instance_noise_steps``
        (constant when that is 0)."""
        if self.instance_noise <= 0:
            return 0.0
        if self.instance_noise_steps <= 0:
            return self.instance_noise
        return self.instance_noise * max(0.0, 1.0 - step / self.instance_noise_steps)
