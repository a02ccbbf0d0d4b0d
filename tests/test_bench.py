"The prepared GPU check starts: every step of bench/gpu_check.py runs (tiny, on the CPU) and lands in its one table."
import subprocess, sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_every_step_on_cpu():
    p = subprocess.run([sys.executable, str(ROOT / 'bench/gpu_check.py'), '--cpu'], capture_output=True, text=True,
                       timeout=600, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    cells = [line.split('|')[1:4] for line in p.stdout.splitlines() if line.startswith('| ')]
    steps = [c for c in cells if c[0].strip()]                             # a step's first row names it
    names = [s[0].strip() for s in steps[1:]]                              # after the header row
    assert names == ['CUDA tests', 'DFM overhead, ResNet50', 'training speed, ResNet50', 'loader speed',
                     'lesson 30 end to end, 224²'], p.stdout
    assert all(s[1].strip() == 'ok' for s in steps[1:]), p.stdout
    assert 'test: images 12, Top-1 Clas' in p.stdout and 'dfm: train images/s' in p.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the command runs the whole check")
def test_gpu_check_without_a_gpu_says_what_to_do():
    p = subprocess.run([sys.executable, str(ROOT / 'bench/gpu_check.py')], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "no CUDA GPU here; run it on a GPU machine, or with --cpu" in p.stderr, p.stderr
