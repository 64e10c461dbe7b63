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


@pytest.mark.parametrize("line, message", [
    ('{"run": "c"}', "a study row needs"),
    ('[1, 2]', "a study row needs"),
    ('{"run": "c", "curve": [], "last_step": 1, "best_step": 1}',
     "curve is not"),
    ('{"run": "c", "curve": [[1, "x"]], "last_step": 1,'
     ' "best_step": 1}', "curve is not"),
    ('{"run": "c", "curve": [[1, 0.0]], "last_step": 1,'
     ' "best_step": 1}', "curve is not"),
    ('{"run": "c", "curve": [[1, 2.0]], "last_step": 1, "best_step": 2}', "curve is not"),
    ('{"run": "c", "curve": [[1, Infinity]], "last_step": 1, "best_step": 1}', "curve is not"),
    ('{"run": "c", "curve": [[1, NaN]], "last_step": 1, "best_step": 1}', "curve is not"),
    ('{"run": "c", "curve": [[NaN, 1.0]], "last_step": 1, "best_step": 1}', "curve is not"),
    ('{"run": ', "not a JSON row"),
    ('{"run": "c", "curve": [[1, 2.0]], "last_step": 1, "best_step": 1, "raw_curve": []}',
     "raw_curve is not"),
    ('{"run": "c", "curve": [[1, 2.0]], "last_step": 1, "best_step": 1,'
     ' "raw_curve": [[1, NaN]]}', "raw_curve is not"),
])
def test_curves_refuses_a_row_it_cannot_plot_naming_its_line(tmp_path, monkeypatch, line,
                                                             message):
    study = _study(tmp_path)
    study.write_text(study.read_text() + line + "\n")
    out = tmp_path / "c.png"
    with pytest.raises(SystemExit, match=f"study.jsonl:3: .*{message}"):
        _run(monkeypatch, "a", "--jsonl", str(study), "--out", str(out))
    assert not out.exists()


def test_curves_refuses_a_run_named_twice(tmp_path, monkeypatch):
    with pytest.raises(SystemExit, match="named twice"):
        _run(monkeypatch, "a", "a", "--jsonl", str(_study(tmp_path)), "--out",
             str(tmp_path / "c.png"))


def test_curves_says_when_it_cannot_write_the_figure(tmp_path, monkeypatch):
    study = _study(tmp_path)
    with pytest.raises(SystemExit, match="--out .*cannot write"):
        _run(monkeypatch, "a", "--jsonl", str(study), "--out", str(study / "c.png"))


def test_an_averaged_run_shows_its_raw_curve_dashed_beside():
    row = {"run": "ema", "curve": [[250, 9.0], [500, 4.0]], "last_step": 500,
           "best_step": 500, "raw_curve": [[250, 9.5], [500, 4.5]]}
    plain = {k: v for k, v in row.items() if k != "raw_curve"} | {"run": "plain"}
    lines = curves.curves_figure([row, plain], "t").axes[0].get_lines()
    dashed = [line for line in lines if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [9.5, 4.5]
