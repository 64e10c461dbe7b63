"""Figures: reconstructions per level, samples, interpolations, curves.

Figures are ``matplotlib.figure.Figure`` objects made without pyplot, so importing this
module never switches the user's backend (a notebook keeps its inline figures) and saving
needs no display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from halibench.features.extract import as_float_images
from halibench.io import atomic_path
from halibench.models import HierarchicalALI

FORMATS = ("png", "pdf", "svg")
DEFAULT_DPI = 110


def save(fig: Figure, path: Path, dpi: int = DEFAULT_DPI) -> Path:
    """Write ``fig`` atomically in the format its suffix names (png, pdf or svg)."""
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"{path}: a figure is saved as {', '.join(FORMATS)}; give one of "
                         "those suffixes")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def series_label(model: str, level: str, *rest: str) -> str:
    """A legend entry: the level only when it says more than the model's name (a baseline's
    one level is named after it)."""
    return " ".join([model, *([level] if level != model else []), *rest])


def image_grid(rows: list[torch.Tensor], labels: list[str], title: str) -> Figure:
    """One row of images per tensor (N, C, H, W) in [0, 1], labelled on the left."""
    n = rows[0].shape[0]
    fig = Figure(figsize=(n * 0.8, len(rows) * 0.9))
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (imgs, label) in enumerate(zip(rows, labels, strict=True)):
        for c in range(n):
            img = imgs[c].detach().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
            ax = axes[r][c]
            ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return fig


@torch.inference_mode()
def reconstructions(model: HierarchicalALI, images: np.ndarray, title: str) -> Figure:
    """Input, then x -> z1 -> x, x -> z1 -> z2 -> z1 -> x, ... (means)."""
    model.eval()
    x = as_float_images(torch.from_numpy(np.array(images)))
    rows, labels = [x], ["input"]
    for level in range(1, model.levels + 1):
        rows.append(model.reconstruct(x, level))
        path = " → ".join(["x", *[f"z{i}" for i in range(1, level + 1)]])
        labels.append(f"{path} → x")
    return image_grid(rows, labels, title)


@torch.inference_mode()
def samples(model: HierarchicalALI, n: int, title: str, seed: int = 0) -> Figure:
    model.eval()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        x = model.sample(n)
    per_row = int(np.ceil(np.sqrt(n)))
    rows = [x[i:i + per_row] for i in range(0, n, per_row)]
    rows = [r for r in rows if len(r) == per_row]
    return image_grid(rows, [""] * len(rows), title)


@torch.inference_mode()
def interpolations(model: HierarchicalALI, a: np.ndarray, b: np.ndarray, steps: int,
                   title: str) -> Figure:
    """Linear interpolation between two images' codes at each level, decoded to x."""
    model.eval()
    x = as_float_images(torch.from_numpy(np.stack([a, b])))
    latents = model.encode(x)
    t = torch.linspace(0, 1, steps)[:, None]
    rows, labels = [], []
    for level, z in enumerate(latents, start=1):
        zs = (1 - t) * z[0] + t * z[1]
        rows.append(model.decode(zs, level))
        labels.append(f"z{level}")
    return image_grid(rows, labels, title)


def training_curves(folder: Path, title: str) -> Figure:
    """Losses, the health probes (1-NN per level, reconstruction vs random pairs) and,
    for a run stopped on validation, its validation scores with the step kept."""
    losses = pd.read_csv(folder / "losses.csv")
    health = pd.read_csv(folder / "health.csv") if (folder / "health.csv").is_file() else None
    val = (pd.read_csv(folder / "validation.csv") if (folder / "validation.csv").is_file()
           else None)
    fig = Figure(figsize=(17 if val is not None else 13, 3.3))
    axes = fig.subplots(1, 4 if val is not None else 3)
    if val is not None:
        validation_panel(axes[3], val)
    for key in ("loss_d", "loss_g"):
        axes[0].plot(losses["step"], losses[key].rolling(10, min_periods=1).mean(), label=key)
    axes[0].set_xlabel("step")
    axes[0].set_title("losses (rolling mean of 10 logs)")
    axes[0].legend()
    if health is not None:
        knn = [c for c in health.columns if c.startswith("knn_")]
        for col in knn:
            axes[1].plot(health["step"], 100 * health[col], marker="o", label=col[4:])
        axes[1].set_title("1-NN accuracy on held-out slice (%)" if knn
                          else "1-NN: no class labels in this dataset")
        if knn:
            axes[1].legend()
        for col in [c for c in health.columns if c.startswith("recon_")]:
            axes[2].plot(health["step"], health[col], marker="o", label=col[6:])
        axes[2].set_title("reconstruction MSE")
        axes[2].legend()
        for ax in axes[1:]:
            ax.set_xlabel("step")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def validation_panel(ax: Any, val: pd.DataFrame) -> None:
    """Each level's validation score by step; the dashed line marks the best step."""
    levels = [c for c in val.columns if c not in ("step", "score", "best_step", "protocol")]
    for col in levels:  # an averaged run's raw-weight scores dashed
        ax.plot(val["step"], val[col], marker="o", label=col,
                linestyle="--" if col.endswith("_raw") else "-")
    best = int(val["best_step"].iloc[-1])
    ax.axvline(best, color="grey", linestyle="--", label=f"kept: step {best}")
    protocol = val["protocol"].iloc[-1] if "protocol" in val.columns else "validation"
    ax.set_title(f"{protocol} score")
    ax.set_xlabel("step")
    ax.legend()


FIGURE_IMAGES = 10  # images drawn for the reconstruction and interpolation figures


def model_figures(model: HierarchicalALI, name: str, test_images: np.ndarray,
                  folder: Path | None, out_dir: Path, fmt: str = "png",
                  dpi: int = DEFAULT_DPI, tag: str = "") -> list[Path]:
    """Every figure of one model, as ``out_dir/NAME{tag}-KIND.fmt``; ``folder`` holds its
    training logs (if any); ``tag`` names images other than the default ones."""
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(test_images), FIGURE_IMAGES, replace=False))
    batch = np.asarray(test_images[pick])
    stem = out_dir / f"{name}{tag}"
    paths = [
        save(reconstructions(model, batch, f"{name}: reconstructions through each level"),
             Path(f"{stem}-reconstructions.{fmt}"), dpi),
        save(samples(model, 64, f"{name}: samples"), Path(f"{stem}-samples.{fmt}"), dpi),
        save(interpolations(model, batch[0], batch[1], 10,
                            f"{name}: interpolation in each level"),
             Path(f"{stem}-interpolations.{fmt}"), dpi),
    ]
    if folder is not None and (folder / "losses.csv").is_file():
        paths.append(save(training_curves(folder, f"{name}: training"),
                          Path(f"{stem}-training.{fmt}"), dpi))
    return paths


def validation_mean(record: dict) -> float:
    """Mean validation balanced accuracy over a record's evaluated attributes."""
    vals = [a["validation_balanced_accuracy"] for a in record["attributes"]
            if a.get("status") == "ok"]
    return float(np.mean(vals)) if vals else float("-inf")


def best_on_validation(records: list[dict], models: list[str]) -> list[dict]:
    """Per model, its (level, probe) record with the best mean validation balanced accuracy:
    the choice never looks at test labels."""
    return [max((r for r in records if r["model"] == m), key=validation_mean)
            for m in models if any(r["model"] == m for r in records)]


def attribute_chart(records: list[dict], models: list[str], title: str) -> Figure:
    """Per-attribute test balanced accuracy, one bar per model at its validation-best
    (level, probe); excluded attributes have no bar."""
    chosen = best_on_validation(records, models)
    names = [a["attribute"] for a in chosen[0]["attributes"]]
    height = 0.8 / len(chosen)
    fig = Figure(figsize=(8, 0.32 * len(names) + 1.5))
    ax = fig.subplots()
    for i, rec in enumerate(chosen):
        by_name = {a["attribute"]: a.get("balanced_accuracy") for a in rec["attributes"]}
        ys = [j + i * height for j, n in enumerate(names) if by_name.get(n) is not None]
        xs = [by_name[n] for n in names if by_name.get(n) is not None]
        ax.barh(ys, xs, height, label=series_label(rec["model"], rec["level"], rec["probe"],
                                                   f"(mean {rec['mean']:.1f})"))
    ax.set_yticks([j + 0.4 - height / 2 for j in range(len(names))])
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(50, color="grey", lw=0.8, ls="--")
    ax.set_xlim(40, 100)
    ax.set_xlabel("test balanced accuracy (%); level and probe chosen on validation")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig
