"""`make bench` stays runnable: its settings pass the config checks start-up applies (a path
check once broke it silently, since nothing else runs it) and a small scale run prints its
figures."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_the_scale_bench_runs_on_a_small_synthetic_kb():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "bench", "--only", "scale", "--scale", "300", "--queries", "30"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "import + index" in run.stdout and "added 300," in run.stdout, run.stdout
    top1 = float(run.stdout.split("top-1 on own questions:")[1].split()[0])
    assert top1 > 0.5  # the synthetic entries' own questions find them
