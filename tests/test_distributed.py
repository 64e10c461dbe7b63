import json
import os
import shutil
import subprocess
import sys

import pytest

from halibench.models.checkpoints import load_checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("updates", ["alternating", "simultaneous"])
def test_torchrun_two_processes_train_and_write_one_checkpoint(tiny_mnist_root, tmp_path,
                                                               updates):
    torchrun = shutil.which("torchrun") or os.path.join(os.path.dirname(sys.executable),
                                                        "torchrun")
    out = tmp_path / "ddp"
    cmd = [torchrun, "--standalone", "--nproc-per-node", "2", "-m", "halibench", "train",
           "ali", "--data-root", str(tiny_mnist_root), "--out", str(out), "--width", "0.25",
           "--steps", "4", "--batch-size", "20", "--checkpoint-every", "4",
           "--health-every", "4", "--train-range", "0:200", "--health-range", "200:300",
           "--threads", "1", "--updates", updates]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [p.name for p in out.glob("step-*")] == ["step-00000004"]
    assert proc.stdout.count("checkpoint:") == 1
    _, config = load_checkpoint(out)
    assert config["world_size"] == 2 and config["step"] == 4
    assert config["training"]["updates"] == updates
    assert len((out / "losses.csv").read_text().splitlines()) == 1 + 1
    assert json.loads((out / "step-00000004" / "training_state.json").read_text())
