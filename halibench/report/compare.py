"""Side-by-side comparison of models on one benchmark: deltas, paired tests, a bar chart."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from halibench.report.tables import markdown_table

MAX_CHART_NAME = 200


def chart_file_name(records: list[dict[str, Any]], fmt: str) -> str:
    """The default file name of a comparison's chart: the protocol and every setting that
    shapes its bars (version, models, levels, probes, labels, draws, and the sha256 of a
    file that is not the official protocol), so that no other comparison overwrites it."""
    def joined(values: Any) -> str:
        return "+".join(dict.fromkeys(str(v) for v in values))

    first = records[0]
    parts = [first["benchmark"], f"v{first['protocol_version']}",
             joined(r["model"] for r in records).replace(":", "~"),
             joined(r["level"] for r in records), joined(r["probe"] for r in records),
             f"{joined(r.get('labels_per_class', r['labels']) for r in records)}lpc",
             f"{joined(len(r['draws']) for r in records)}draws"]
    if any((r.get("deviation") or "").startswith("not the official protocol") for r in records):
        parts.append(f"sha{first['protocol_sha256'][:12]}")
    name = "compare-" + "-".join(parts)
    if len(name) > MAX_CHART_NAME:  # many models: a readable head and a hash of the rest
        name = f"{name[:MAX_CHART_NAME - 13]}-{hashlib.sha256(name.encode()).hexdigest()[:12]}"
    return f"{name}.{fmt}"


def paired_units(record: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """The scores a paired test matches across models: the draws when there are several,
    else the per-attribute scores of a multi-attribute benchmark (CelebA), else the one draw."""
    draws = record["draws"]
    attributes = [a for a in record.get("attributes", []) if a.get("status") == "ok"]
    if len(draws) == 1 and attributes:
        return "attributes", {a["attribute"]: a[record["metric"]] for a in attributes}
    return "draws", {str(d["draw"]): d["test"] for d in draws}


def paired_p_value(a: dict[str, float], b: dict[str, float]) -> tuple[float, int]:
    """Paired t-test over the units both score dicts share; NaN when fewer than two or equal."""
    shared = sorted(a.keys() & b.keys())
    x, y = np.array([a[k] for k in shared]), np.array([b[k] for k in shared])
    if len(shared) < 2 or not np.any(x != y):
        return np.nan, len(shared)
    return float(stats.ttest_rel(x, y).pvalue), len(shared)


def comparison_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (labels, probe, model, level) with mean, std, and against the first model's
    same-level (else first) row, or with one model against its first level: the difference
    and a paired t-test over the shared draws (over the shared attributes when each record
    has one draw and per-attribute scores)."""
    rows = []
    for r in records:
        unit, scores = paired_units(r)
        rows.append({"labels": r["labels"], "probe": r["probe"], "model": r["model"],
                     "level": r["level"], "metric": r["metric"], "mean": r["mean"],
                     "std": r["std"], "n_draws": len(r["draws"]), "unit": unit,
                     "scores": scores, "deviation": r.get("deviation", "")})
    df = pd.DataFrame(rows)
    out = []
    first_model = df["model"].iloc[0]
    levels_only = df["model"].nunique() == 1
    for (labels, probe), group in df.groupby(["labels", "probe"], sort=True):
        base = group[group["model"] == first_model]
        for row in group.itertuples():
            ref = base.iloc[:1] if levels_only else base[base["level"] == row.level]
            ref = ref if len(ref) else base.iloc[:1]
            delta = p_value = np.nan
            n_paired = 0
            if len(ref) and (row.model, row.level) != (first_model, ref["level"].iloc[0]):
                delta = float(row.mean - ref["mean"].iloc[0])
                if row.unit == ref["unit"].iloc[0]:
                    p_value, n_paired = paired_p_value(row.scores, ref["scores"].iloc[0])
            out.append({"labels": labels, "probe": probe, "model": row.model,
                        "level": row.level, "metric": row.metric, "mean": row.mean,
                        "std": row.std, "n_draws": row.n_draws,
                        "vs": f"{first_model}:{ref['level'].iloc[0]}" if len(ref) else "",
                        "delta": delta, "p_value": p_value, "paired_over": row.unit,
                        "n_paired": n_paired, "deviation": row.deviation})
    return pd.DataFrame(out)


def format_table(table: pd.DataFrame) -> str:
    rows = []
    for r in table.itertuples():
        value = f"{r.mean:.2f} ± {r.std:.2f}" if r.n_draws > 1 else f"{r.mean:.2f}"
        delta = "" if np.isnan(r.delta) else f"{r.delta:+.2f}"
        p = "" if np.isnan(r.p_value) else f"{r.p_value:.3g} ({r.n_paired} {r.paired_over})"
        model = f"{r.model} ({r.deviation})" if r.deviation else r.model
        rows.append((r.labels, r.probe, model, r.level, value, r.vs if delta else "", delta, p))
    return "\n".join(markdown_table(
        ("labels", "probe", "model", "level", "value", "Δ vs", "Δ", "paired p"), rows))


def bar_chart(table: pd.DataFrame, path: Path, title: str, dpi: int = 110) -> Path:
    """Grouped bars (one group per labels/probe setting) with std error bars."""
    from matplotlib.figure import Figure

    from halibench.report.plots import save, series_label


    settings = list(dict.fromkeys(zip(table["labels"], table["probe"], strict=True)))
    series = list(dict.fromkeys(zip(table["model"], table["level"], strict=True)))
    width = 0.8 / max(1, len(series))
    fig = Figure(figsize=(max(6, 1.2 * len(settings) * len(series) ** 0.5), 4))
    ax = fig.subplots()
    for i, (model, level) in enumerate(series):
        sel = table[(table["model"] == model) & (table["level"] == level)]
        pos = {(r.labels, r.probe): (r.mean, r.std) for r in sel.itertuples()}
        xs = [j + i * width for j, s in enumerate(settings) if s in pos]
        ys = [pos[s][0] for s in settings if s in pos]
        es = [pos[s][1] for s in settings if s in pos]
        ax.bar(xs, ys, width, yerr=es, capsize=3, label=series_label(model, level))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(settings))])
    ax.set_xticklabels([f"{lab} labels\n{probe}" for lab, probe in settings])
    ax.set_ylabel(f"test {table['metric'].iloc[0]} (%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path, dpi)
