"""Adversarial training of ALI, BiGAN and HALI: resumable, seeded, DDP-ready.

Losses are the non-saturating GAN losses in softplus form. The discriminator calls encoder
tuples (x, z1..zL) ~ q "real" and decoder tuples ~ p "fake"; the generators (both chains)
minimise softplus(D(q)) + softplus(-D(p)). Named stabilisers, off by default and recorded in
the config: feature matching instead of the non-saturating loss, instance noise on D's image
inputs, spectral norm in D (a model option), and an
ALICE-style cycle term ``cycle_weight`` * mean over levels of ||x - x_l||^2 (x_l: x encoded
to level l and decoded back, sampled), summed over pixels and averaged over the batch.

Semi-supervised (``labels_per_class`` > 0, improved-GAN's (K+1)-class game): D's heads give K
class logits and the adversarial logit is their log-sum-exp against the fake class, so the
unlabelled losses above are "any of 1..K" for encoder tuples and "class K+1" for decoder
tuples; labelled encoder tuples (x, z ~ q(z|x)) add ``supervised_weight`` * cross-entropy of
their class to D's loss, in the same D pass, and ``entropy_weight`` * the entropy of D's
class distribution on the unlabelled encoder tuples (0 by default). With
``unlabelled = "none"`` only the labelled term trains, into D and the encoder (the
supervised-only baseline; the decoder is not trained).

With ``weight_average`` (Polyak averaging, ``averaging.WeightAverage``), checkpoints and
validation hold an exponential moving average of the weights; training and health probes
use the raw ones, saved beside the optimiser state for resuming.

Randomness: the global RNG is reseeded at every step from (seed, rank, step), and the data
order of each epoch is a permutation seeded by (seed, epoch). So a run resumed from a
checkpoint replays exactly what the uninterrupted run would have done (on CPU).
"""

from __future__ import annotations

import csv
import logging
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from halibench.environment import cpu_description
from halibench.errors import CheckpointError, HalibenchError
from halibench.features.extract import as_float_images
from halibench.io import atomic_path
from halibench.models import HierarchicalALI, ModelConfig, build_model
from halibench.models.checkpoints import (
    CONFIG_FILE,
    MODEL_FILE,
    load_training_state,
    load_weights,
    mark_best,
    mark_latest,
    model_config_of,
    resolve_folder,
    save_checkpoint,
    verified_config,
)
from halibench.progress import progress
from halibench.training import run_lock
from halibench.training.averaging import WeightAverage
from halibench.training.config import TrainConfig
from halibench.training.distributed import DistInfo, agreed, init_distributed
from halibench.training.health import health_probes
from halibench.training.labels import LabelledDraw
from halibench.training.resume import past_rates_differ
from halibench.training.validation import EarlyStopping

log = logging.getLogger("halibench")
VALIDATION_FILE = "validation.csv"
RNG_SCHEME = "torch.manual_seed(step_seed(seed, rank, step)) every step"
# how D's dropout masks are drawn; runs saved before this key drew them with bernoulli_
DROPOUT_MASKS = "keep_mask: 16-bit words of int64 draws"

StepCallback = Callable[[int, dict[str, float]], None]


@dataclass
class TrainingData:
    """uint8 images (N, C, H, W) to train on, and a labelled held-out slice for health probes."""

    images: torch.Tensor
    health_images: torch.Tensor
    health_labels: torch.Tensor | None = None
    description: dict[str, Any] | None = None
    labelled: LabelledDraw | None = None


class ShardedEpochSampler:
    """Batches of indices: a seeded permutation per epoch, sharded over ranks, last batch
    dropped. ``indices(step)`` depends only on the step, which makes resuming exact."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.per_epoch = (n // world) // batch_size
        if self.per_epoch == 0:
            raise HalibenchError(f"{n} training images are fewer than one batch of {batch_size} "
                                 f"per process ({world} processes); lower --batch-size")
        self._epoch, self._shard = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._shard = torch.randperm(self.n, generator=g)[self.rank::self.world]
            self._epoch = epoch
        return self._shard[i * self.batch_size:(i + 1) * self.batch_size]


def step_seed(seed: int, rank: int, step: int) -> int:
    return (seed * 1_000_003 + rank * 7_919 + step) % (2**63)


def discriminator_losses(logits: torch.Tensor, batch: int, smoothing: float = 0.0
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator loss) from logits of [encoder tuples; decoder tuples];
    each head's loss is averaged over the batch and the heads' losses are summed. With
    ``smoothing``, the discriminator's target for encoder tuples is 1 - smoothing."""
    real, fake = logits[:batch], logits[batch:]
    real_term = (1 - smoothing) * F.softplus(-real) + smoothing * F.softplus(real)
    loss_d = real_term.mean(0).sum() + F.softplus(fake).mean(0).sum()
    loss_g = F.softplus(real).mean(0).sum() + F.softplus(-fake).mean(0).sum()
    return loss_d, loss_g


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def cycle_loss(recons: list[torch.Tensor], x: torch.Tensor, reduction: str) -> torch.Tensor:
    """Mean over levels of the per-image squared error (summed or averaged over pixels)."""
    per_image = [((r - x) ** 2).flatten(1) for r in recons]
    reduce = (lambda e: e.sum(1)) if reduction == "sum" else (lambda e: e.mean(1))
    return sum(reduce(e).mean() for e in per_image) / max(1, len(recons))


def r1_penalty(disc: torch.nn.Module, x: torch.Tensor, latents: list[torch.Tensor]
               ) -> torch.Tensor:
    """||grad of D's logits at the encoder tuples||^2, averaged over the batch."""
    inputs = [x.detach().requires_grad_(True), *(z.detach().requires_grad_(True)
                                                 for z in latents)]
    logits = disc(inputs[0], inputs[1:])
    grads = torch.autograd.grad(logits.sum(), inputs, create_graph=True)
    return sum(g.flatten(1).pow(2).sum(1) for g in grads).mean()


def with_instance_noise(x: torch.Tensor, std: float) -> torch.Tensor:
    """D's view of images: ``x`` plus Gaussian noise of ``std`` (``x`` itself at 0)."""
    return x + std * torch.randn_like(x) if std > 0 else x


def adversarial_step(gen: torch.nn.Module, disc: torch.nn.Module, opt_g: torch.optim.Optimizer,
                     opt_d: torch.optim.Optimizer, x: torch.Tensor, noise_std: float = 0.0,
                     config: TrainConfig | None = None,
                     labelled: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> dict[str, float]:
    """One discriminator update and one update of both chains, with ``config``'s
    stabilisers (cycle term, label smoothing, R1, bf16 autocast): alternating (the chains
    play the updated D) or simultaneous (both from one D pass), as ``config.updates`` says.
    ``labelled`` images and classes add the supervised term of semi-supervised training to
    D's update."""
    cfg = config or TrainConfig()
    if cfg.unlabelled == "none":
        assert labelled is not None, "the supervised-only step needs labelled images"
        return supervised_step(gen, disc, opt_g, opt_d, labelled, cfg, noise_std)
    precision = (torch.autocast(x.device.type, dtype=torch.bfloat16)
                 if cfg.autocast == "bf16" else nullcontext())
    with precision:
        (xe, ze), (xd, zd), recons = gen(x, cycle=cfg.cycle_weight > 0)
    b = x.shape[0]
    x_all = torch.cat([xe, xd]).float()
    x_all = with_instance_noise(x_all, noise_std)
    z_all = [torch.cat([a, c]).float() for a, c in zip(ze, zd, strict=True)]

    simultaneous = cfg.updates == "simultaneous"
    opt_d.zero_grad(set_to_none=True)
    x_d, z_d = (x_all, z_all) if simultaneous else (x_all.detach(), [z.detach() for z in z_all])
    if labelled is not None:  # one D pass for both games
        xl, zl = labelled_tuples(gen, labelled[0], precision)
        xl = with_instance_noise(xl, noise_std)  # D sees every image through the noise
        x_d, z_d = torch.cat([x_d, xl]), [torch.cat([a, c]) for a, c in zip(z_d, zl,
                                                                             strict=True)]
    with precision:
        out = disc(x_d, z_d, raw=True).float()
    d = unwrap(disc)
    logits = d.adversarial(out[:2 * b])
    loss_d, loss_g = discriminator_losses(logits, b, cfg.label_smoothing)
    extra: dict[str, float] = {}
    if labelled is not None:
        class_logits = out[2 * b:, :d.classes]
        supervised = F.cross_entropy(class_logits, labelled[1])
        loss_d = loss_d + cfg.supervised_weight * supervised
        extra = supervised_metrics(supervised, class_logits, labelled[1])
        if cfg.entropy_weight > 0:  # D commits to a class on unlabelled real images
            entropy = class_entropy(out[:b, :d.classes])
            loss_d = loss_d + cfg.entropy_weight * entropy
            extra["class_entropy"] = entropy.item()
    if cfg.r1_weight > 0:
        loss_d = loss_d + cfg.r1_weight / 2 * r1_penalty(disc, x_all[:b], [z[:b] for z in z_all])
    if simultaneous:  # both gradients from this pass, before either side steps
        loss_d.backward(inputs=trainable(d), retain_graph=True)
        cycle = generator_update(opt_g, loss_g, recons, x, cfg, inputs=trainable(unwrap(gen)))
        opt_d.step()
    else:  # D steps, then the chains play the updated D in a second pass
        loss_d.backward()
        opt_d.step()
        d.requires_grad_(False)
        try:
            loss_g = generator_loss(d, x_all, z_all, b, cfg.generator_loss, precision)
            cycle = generator_update(opt_g, loss_g, recons, x, cfg)
        finally:
            d.requires_grad_(True)
    with torch.no_grad():
        acc_q = (logits[:b] > 0).float().mean()
        acc_p = (logits[b:] < 0).float().mean()
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "cycle": cycle.item(),
            "d_acc_encoder": float(acc_q), "d_acc_decoder": float(acc_p), **extra}


def trainable(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in module.parameters() if p.requires_grad]


def generator_update(opt_g: torch.optim.Optimizer, loss_g: torch.Tensor,
                     recons: list[torch.Tensor], x: torch.Tensor, cfg: TrainConfig,
                     inputs: list[torch.Tensor] | None = None) -> torch.Tensor:
    """Step both chains on ``loss_g`` plus the weighted cycle term (gradients only into
    ``inputs`` when given); returns the cycle term."""
    opt_g.zero_grad(set_to_none=True)
    cycle = (cycle_loss([r.float() for r in recons], x, cfg.cycle_reduction) if recons
             else torch.zeros((), device=x.device))
    (loss_g + cfg.cycle_weight * cycle).backward(inputs=inputs)
    opt_g.step()
    return cycle


def generator_loss(d: torch.nn.Module, x_all: torch.Tensor, z_all: list[torch.Tensor],
                   b: int, kind: str, precision) -> torch.Tensor:
    """Both chains' loss against the (frozen) discriminator ``d`` on [encoder tuples;
    decoder tuples]: non-saturating, or feature matching of D's last hidden features."""
    if kind == "feature-matching":
        with precision:
            feats = d.penultimate(x_all, z_all).float()
        return (feats[:b].mean(0) - feats[b:].mean(0)).pow(2).mean()
    with precision:
        logits = d(x_all, z_all)
    return discriminator_losses(logits.float(), b)[1]


def labelled_tuples(gen: torch.nn.Module, images: torch.Tensor, precision
                    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Encoder tuples (x, z1..zL ~ q) of labelled images, as constants for D's update."""
    with torch.no_grad(), precision:
        latents = unwrap(gen).encoder(images, sample=True)[0]
    return images, [z.float() for z in latents]


def class_entropy(class_logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the softmax over the K class logits."""
    log_p = class_logits.log_softmax(1)
    return -(log_p.exp() * log_p).sum(1).mean()


def supervised_metrics(loss: torch.Tensor, class_logits: torch.Tensor, labels: torch.Tensor
                       ) -> dict[str, float]:
    with torch.no_grad():
        acc = (class_logits.argmax(1) == labels).float().mean()
    return {"loss_supervised": loss.item(), "labelled_acc": float(acc)}


def supervised_step(gen: torch.nn.Module, disc: torch.nn.Module, opt_g: torch.optim.Optimizer,
                    opt_d: torch.optim.Optimizer, labelled: tuple[torch.Tensor, torch.Tensor],
                    cfg: TrainConfig, noise_std: float = 0.0) -> dict[str, float]:
    """The supervised-only baseline's step: the same classifier, D on (x, z ~ q(z|x)),
    trained by cross-entropy on labelled images alone, into the encoder as well (the
    decoder gets no gradient and stays as initialised)."""
    images, classes = labelled
    precision = (torch.autocast(images.device.type, dtype=torch.bfloat16)
                 if cfg.autocast == "bf16" else nullcontext())
    opt_d.zero_grad(set_to_none=True)
    opt_g.zero_grad(set_to_none=True)
    with precision:
        latents = unwrap(gen).encoder(images, sample=True)[0]
        out = disc(with_instance_noise(images, noise_std), [z.float() for z in latents],
                   raw=True).float()
    class_logits = out[:, :unwrap(disc).classes]
    loss = F.cross_entropy(class_logits, classes)
    (cfg.supervised_weight * loss).backward()
    opt_d.step()
    opt_g.step()
    # no adversarial game is played: its columns are NaN (not measured), never 0
    nan = float("nan")
    return {"loss_d": loss.item(), "loss_g": nan, "cycle": nan, "d_acc_encoder": nan,
            "d_acc_decoder": nan, **supervised_metrics(loss, class_logits, classes)}


def adam(module: torch.nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """Adam over ``module``'s parameters, fused into one kernel per step on CPU and CUDA (the
    same update; a resumed run keeps the setting stored in its optimiser state)."""
    params = list(module.parameters())
    fused = params[0].device.type in ("cpu", "cuda")
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True if fused else None)


class CsvLog:
    """Append-only CSV of dict rows; ``truncate_after`` drops rows past a resumed step."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._header: list[str] | None = None  # read from the file once, then kept

    def append(self, row: dict[str, Any]) -> None:
        """Append ``row`` under the file's header (written from the first row's keys); a row
        with other keys is refused, so no column is ever written under another's name."""
        header = self.header()
        if header is not None and sorted(header) != sorted(row):
            raise HalibenchError(f"{self.path}: its columns {header} differ from this run's "
                                 f"{list(row)}; move the file away or start a new --out")
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header or list(row))
            if header is None:
                writer.writeheader()
                self._header = list(row)
            writer.writerow(row)

    def header(self) -> list[str] | None:
        """The file's column names (None before its first row); read once per process."""
        if self._header is None and self.path.exists():
            with open(self.path, newline="") as f:
                self._header = next(csv.reader(f), None)
        return self._header

    def clear(self) -> None:
        """Delete the file (a new run starts its logs afresh)."""
        self.path.unlink(missing_ok=True)
        self._header = None

    def rows(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            names = reader.fieldnames or []
            rows = [r for r in reader if int(r["step"]) <= step]
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)


def check_out_folder(run_dir: Path, resume: bool) -> None:
    """``--out`` must be a run folder: not one checkpoint inside it, and, for a new run,
    empty or holding only what an interrupted start left (logs, unfinished temp files)."""
    run_dir = Path(run_dir)
    if (run_dir / MODEL_FILE).exists():
        raise HalibenchError(f"{run_dir}: a checkpoint folder inside a run; give --out the "
                             "run folder above it")
    if resume or not run_dir.is_dir():
        return
    restartable = {"losses.csv", "health.csv", VALIDATION_FILE}
    if any(p.name not in restartable and not p.name.startswith(".")
           for p in run_dir.iterdir()):
        raise HalibenchError(f"{run_dir}: --out holds a run or other files; continue its run "
                             "with --resume, or give a new folder")


def stored_run(run_dir: Path) -> dict[str, Any]:
    """The verified config of a run folder's newest training checkpoint."""
    folder = resolve_folder(Path(run_dir))
    if not (folder / CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir}: no checkpoint to resume from; start without "
                              "--resume")
    stored = verified_config(folder)
    if "training" not in stored or "step" not in stored:
        raise CheckpointError(f"{folder}: not a training checkpoint (no training config or "
                              "step); start a new run instead")
    return stored


def warn_slow_bf16(config: TrainConfig, device: torch.device) -> None:
    """One warning line when bf16 autocast is asked of a CPU without bf16 instructions,
    where it runs at 0.3-0.45x float32's speed (docs/performance.md)."""
    if config.autocast != "bf16" or device.type != "cpu":
        return
    cpu = cpu_description()
    if not (cpu["avx512_bf16"] or cpu["amx_bf16"]):
        log.warning("warning: --autocast bf16 on %s, a CPU without avx512_bf16 or AMX: steps "
                    "ran at 0.3-0.45x float32's speed on such a CPU; drop --autocast for float32",
                    cpu["cpu"])


def warn_moved_decay(run_dir: Path, stored: dict[str, Any], config: TrainConfig) -> None:
    """Warn when a resume's --steps moves a learning-rate decay over steps already taken."""
    if past_rates_differ(stored, config.steps, config.lr_decay):
        log.warning("%s: resumed at step %d; with --steps %d the --lr-decay window (the last "
                    "%d steps) has moved over steps already taken, which ran at other rates "
                    "(now %.3g of the configured ones)", run_dir, stored["step"], config.steps,
                    config.lr_decay, config.lr_factor(int(stored["step"])))


def check_labels(model_config: ModelConfig, config: TrainConfig, data: TrainingData) -> None:
    """A semi-supervised run has labelled images and a classifier with their classes."""
    if config.semi_supervised != (data.labelled is not None) or (
            config.semi_supervised != bool(model_config.classes)):
        raise HalibenchError("semi-supervised training needs --labels-per-class, its labelled "
                             "draw and a model with classes, all three (or none)")
    if data.labelled is not None and int(data.labelled.labels.max()) >= model_config.classes:
        raise HalibenchError(f"labels reach {int(data.labelled.labels.max())}, the model has "
                             f"{model_config.classes} classes")


class Trainer:
    """Trains one model into a run folder of checkpoints and CSV logs. A resumed run keeps
    its stored config but ``steps`` and the ``resume_changes`` (validation and stopping)."""

    def __init__(self, model_config: ModelConfig, config: TrainConfig, run_dir: str | Path,
                 data: TrainingData, *, resume: bool = False, command: str | None = None,
                 resume_changes: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.command = command or shlex.join(["python", *sys.argv])
        self.dist: DistInfo = init_distributed(config.device)
        self.start_step = 0
        self.seconds_before = 0.0
        self.started = time.perf_counter()
        resume_from = None
        self.resumes: list[str] = []
        if self.dist.is_main:
            check_out_folder(self.run_dir, resume)
            if self.run_dir.is_dir():  # before the stored run is read
                run_lock.acquire(self.run_dir)
        if resume:
            resume_from = resolve_folder(self.run_dir)
            stored = stored_run(self.run_dir)
            model_config = model_config_of(resume_from, stored)
            # provenance: the command that started the weights, then each resume
            self.command = stored.get("command") or self.command
            self.resumes = [*stored.get("resumes", []), command or self.command]
            try:
                config = TrainConfig.from_dict({**stored["training"], "steps": config.steps,
                                                **(resume_changes or {})})
            except ValueError as e:
                raise HalibenchError(f"{self.run_dir}: --resume: {e}") from None
            self.start_step = int(stored["step"])
            warn_moved_decay(self.run_dir, stored, config)
            if model_config.dropout and stored.get("rng", {}).get("dropout") != DROPOUT_MASKS:
                log.warning("%s: started with other dropout masks (bernoulli_); the resumed "
                            "steps draw them with %s, so they do not replay the uninterrupted "
                            "run exactly", self.run_dir, DROPOUT_MASKS)
            self.seconds_before = float(stored.get("train_seconds", 0.0))
        self.model_config, self.config, self.data = model_config, config, data
        expected = model_config.image_shape
        if tuple(data.images.shape[1:]) != expected:
            raise HalibenchError(f"images of shape {tuple(data.images.shape[1:])} do not fit "
                                 f"the {model_config.family} family ({expected}); choose the "
                                 "family that matches the dataset")
        check_labels(model_config, config, data)
        warn_slow_bf16(config, self.dist.device)
        if config.semi_supervised and self.dist.enabled:
            raise HalibenchError("semi-supervised training runs in one process for now (its "
                                 "labelled pass is not synchronised across ranks); drop torchrun")
        torch.manual_seed(config.seed)
        self.model: HierarchicalALI = build_model(model_config).to(self.dist.device)
        self.opt_g = adam(self.model.generators, config.lr, config.betas)
        self.opt_d = adam(self.model.discriminator, config.discriminator_lr, config.betas)
        self.average = (WeightAverage(self.model, config.weight_average)
                        if config.weight_average else None)
        if resume_from is not None:
            load_weights(self.saved_model, resume_from / MODEL_FILE)
            load_training_state(resume_from, self.optimizers, self.raw_weights)
        self.gen, self.disc = self.model.generators, self.model.discriminator
        if self.dist.enabled:
            ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
            self.gen = DistributedDataParallel(self.model.generators, device_ids=ids)
            self.disc = DistributedDataParallel(self.model.discriminator, device_ids=ids)
        per_rank = config.batch_size // self.dist.world_size
        self.sampler = ShardedEpochSampler(len(data.images), per_rank, config.seed,
                                           self.dist.rank, self.dist.world_size)
        self.losses = CsvLog(self.run_dir / "losses.csv")
        self.health = CsvLog(self.run_dir / "health.csv")
        self.validation = CsvLog(self.run_dir / VALIDATION_FILE)
        self.stopper = EarlyStopping(config, (data.description or {}).get("data_root"))
        if self.dist.is_main:
            run_lock.acquire(self.run_dir)  # held already, or a new folder: before any write
            for csv_log in (self.losses, self.health, self.validation):
                if self.start_step:
                    csv_log.truncate_after(self.start_step)
                else:  # a new run: an interrupted start's logs may have other columns
                    csv_log.clear()
            self.stopper.restore(self.validation.rows(), self.validation.path)

    @property
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generators": self.opt_g, "discriminator": self.opt_d}

    @property
    def saved_model(self) -> HierarchicalALI:
        """The weights checkpoints hold and validation scores: the average, when kept."""
        return self.model if self.average is None else cast(HierarchicalALI, self.average.model)

    @property
    def raw_weights(self) -> HierarchicalALI | None:
        """The trained weights when an average is kept (saved and restored beside the
        optimiser state), else None: then the checkpoint's weights are the trained ones."""
        return None if self.average is None else self.model

    def step(self, step: int) -> dict[str, float]:
        """Run training step ``step`` (0-based)."""
        torch.manual_seed(step_seed(self.config.seed, self.dist.rank, step))
        self.set_learning_rates(step)
        idx = self.sampler.indices(step)
        x = as_float_images(self.data.images[idx]).to(self.dist.device, non_blocking=True)
        labelled = None
        if self.data.labelled is not None:
            pick = torch.randint(len(self.data.labelled.labels), (self.config.labelled_batch,))
            labelled = (as_float_images(self.data.labelled.images[pick]).to(self.dist.device),
                        self.data.labelled.labels[pick].to(self.dist.device))
        metrics = adversarial_step(self.gen, self.disc, self.opt_g, self.opt_d, x,
                                   self.config.noise_std(step), self.config, labelled)
        if self.average is not None:
            self.average.update(self.model, step)
        return metrics

    def set_learning_rates(self, step: int) -> None:
        """Both optimisers' rates at ``step``: the configured ones times the decay factor."""
        cfg, factor = self.config, self.config.lr_factor(step)
        for opt, base in ((self.opt_g, cfg.lr), (self.opt_d, cfg.discriminator_lr)):
            for group in opt.param_groups:
                group["lr"] = base * factor

    def checkpoint(self, step: int) -> Path:
        folder = self.run_dir / f"step-{step:08d}"
        meta = {
            "training": self.config.to_dict(),
            "data": self.data.description or {},
            "seed": self.config.seed,
            "step": step,
            "world_size": self.dist.world_size,
            "command": self.command,
            "resumes": self.resumes,
            "train_seconds": round(self.seconds_before + time.perf_counter() - self.started, 1),
            "rng": {"scheme": RNG_SCHEME, "seed": self.config.seed,
                    "dropout": DROPOUT_MASKS},
        }
        if self.data.labelled is not None:
            meta["labels"] = self.data.labelled.spec
        save_checkpoint(folder, self.saved_model, meta, self.optimizers, self.raw_weights)
        mark_latest(self.run_dir, folder, self.config.keep_checkpoints)
        return folder

    def probe(self, step: int, recent: Sequence[dict[str, float]]) -> dict[str, float]:
        row: dict[str, float] = {"step": step}
        for key in ("loss_d", "loss_g"):
            row[f"{key}_mean"] = sum(r[key] for r in recent) / max(1, len(recent))
        row.update(health_probes(self.model, self.data.health_images, self.data.health_labels,
                                 seed=self.config.seed,
                                 adversarial=self.config.unlabelled != "none"))
        self.health.append(row)
        return row

    def fit(self, callbacks: Sequence[StepCallback] = ()) -> Path | None:
        """Train to ``config.steps``; returns the final checkpoint folder (rank 0). The run
        folder's lock is given back at the end, also when training fails."""
        try:
            return self._fit(callbacks)
        finally:
            if self.dist.is_main:
                run_lock.release(self.run_dir)

    def _fit(self, callbacks: Sequence[StepCallback]) -> Path | None:
        cfg, main = self.config, self.dist.is_main
        self.model.train()
        bar = progress(cfg.steps, f"train {self.model_config.kind}", "step", show=main,
                       initial=self.start_step, dynamic_ncols=True)
        recent: list[dict[str, float]] = []
        final = None
        t0 = time.perf_counter()
        for step in range(self.start_step, cfg.steps):
            metrics = self.step(step)
            done = step + 1
            recent.append(metrics)
            if main and (done % cfg.log_every == 0 or done == cfg.steps):
                self.losses.append({"step": done, **metrics,
                                    "seconds": round(time.perf_counter() - t0, 3)})
                bar.set_postfix(d=f"{metrics['loss_d']:.3f}", g=f"{metrics['loss_g']:.3f}")
            if main and cfg.health_every > 0 and (done % cfg.health_every == 0
                                                  or done == cfg.steps):
                self.probe(done, recent)
                recent = []
            stop = False
            if done % cfg.checkpoint_every == 0 or done == cfg.steps:
                if main:
                    final = self.checkpoint(done)
                    elapsed = time.perf_counter() - t0
                    log.info("step %d/%d: %.0f s, %.2f steps/s, loss_d %.3f, loss_g %.3f -> %s",
                             done, cfg.steps, elapsed, (done - self.start_step) / elapsed,
                             metrics["loss_d"], metrics["loss_g"], final)
                    if self.stopper.due(done):
                        stop = self.validate(done)
                stop = agreed(self.dist, stop)
            bar.update(1)
            for callback in callbacks:
                callback(done, metrics)
            if stop:
                break
        bar.close()
        return final

    def validate(self, step: int) -> bool:
        """Score ``step`` on the validation protocol, log it, mark the best step; True when
        the patience has run out."""
        scores = self.stopper.score(self.saved_model)
        if self.average is not None:  # the unaveraged weights' scores beside the average's
            scores.update(self.stopper.raw_scores(self.model))
        self.stopper.update(step, scores["score"])
        self.validation.append({"step": step, **scores, "best_step": self.stopper.best_step,
                                "protocol": self.stopper.protocol_label})
        log.info("step %d: validation %s (best: step %d)", step,
                 " ".join(f"{k} {v:g}" for k, v in scores.items() if k != "score"),
                 self.stopper.best_step)
        if self.stopper.best_step == step:
            mark_best(self.run_dir, self.run_dir / f"step-{step:08d}")
        if self.stopper.exhausted():
            log.info("%s: stopped at step %d: no better validation score for %d scores since "
                     "step %d", self.run_dir, step, self.config.patience,
                     self.stopper.best_step)
            return True
        return False
