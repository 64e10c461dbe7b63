"""Training health probes (after the BiGAN training script's checks).

- 1-NN accuracy of each level's features: the held-out slice split in two halves, the first
  labelled, the second classified;
- reconstruction error per level, against the error between random pairs of images;
- discriminator accuracy on the encoder side (says "q") and on the decoder side (says "p").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from halibench.features.extract import as_float_images, extract_features
from halibench.models import HierarchicalALI


def nearest_neighbour_accuracy(train_x: torch.Tensor, train_y: torch.Tensor,
                               test_x: torch.Tensor, test_y: torch.Tensor,
                               chunk: int = 1024) -> float:
    """Euclidean 1-NN accuracy, computed in chunks of queries."""
    correct = 0
    for start in range(0, len(test_x), chunk):
        d = torch.cdist(test_x[start:start + chunk], train_x)
        pred = train_y[d.argmin(dim=1)]
        correct += int((pred == test_y[start:start + chunk]).sum())
    return correct / max(1, len(test_x))


@torch.inference_mode()
def health_probes(model: HierarchicalALI, images: torch.Tensor, labels: torch.Tensor | None,
                  seed: int = 0, adversarial: bool = True) -> dict[str, float]:
    """Health metrics on a held-out slice; the global RNG is left untouched. Without an
    ``adversarial`` game (the supervised-only baseline) D's accuracies in it are NaN."""
    was_training = model.training
    model.eval()
    out: dict[str, float] = {}
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            device = next(model.parameters()).device
            x = as_float_images(images).to(device)
            if labels is not None:
                half = len(x) // 2
                feats = extract_features(model, images, model.level_names, device=device)
                for name, f in feats.items():
                    f = torch.from_numpy(f)
                    out[f"knn_{name}"] = nearest_neighbour_accuracy(
                        f[:half], labels[:half], f[half:], labels[half:])
            for level in range(1, model.levels + 1):
                rec = model.reconstruct(x, level)
                out[f"recon_z{level}"] = float(F.mse_loss(rec, x))
            perm = torch.randperm(len(x), device=device)
            out["recon_random_pair"] = float(F.mse_loss(x[perm], x))
            out["d_acc_encoder"] = out["d_acc_decoder"] = float("nan")
            if adversarial:
                (xe, ze), (xd, zd), _ = model.generators(x)
                out["d_acc_encoder"] = float((model.discriminator(xe, ze) > 0).float().mean())
                out["d_acc_decoder"] = float((model.discriminator(xd, zd) < 0).float().mean())
    finally:
        model.train(was_training)
    return out
