"""benchmarks/semisup/curves.py: the study rows' validation curves as one figure."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "semisup" / "curves.py"
_spec = importlib.util.spec_from_file_location("semisup_curves", SCRIPT)
curves = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(curves)


def _run(monkeypatch, *args: str) -> None:
    monkeypatch.setattr("sys.argv", ["curves.py", *args])
    curves.main()


def _study(tmp_path: Path) -> Path:
    rows = [{"run": "a", "curve": [[250, 9.0], [500, 4.0]], "last_step": 500, "lr_decay": 250,
             "val_score": 4.0, "best_step": 500},
            {"run": "b", "curve": [[250, 8.0], [500, 5.0], [750, 6.0]], "last_step": 750,
             "lr_decay": 0, "val_score": 5.0, "best_step": 500}]
    path = tmp_path / "study.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_curves_draws_the_named_runs(tmp_path, monkeypatch):
    out = tmp_path / "fig" / "curves.png"
    _run(monkeypatch, "a", "b", "--jsonl", str(_study(tmp_path)), "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_refuses_a_run_the_study_lacks_and_writes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "curves.png"
    with pytest.raises(SystemExit, match="no row for zzz"):
        _run(monkeypatch, "a", "zzz", "--jsonl", str(_study(tmp_path)), "--out", str(out))
    assert not out.exists()


def test_curves_refuses_an_unknown_figure_format(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="suffixes"):
        _run(monkeypatch, "a", "--jsonl", str(_study(tmp_path)), "--out", str(tmp_path / "c.gif"))
