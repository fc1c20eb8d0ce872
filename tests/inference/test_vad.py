"""The voice-activity detector leaves the rest of predict as it found it."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_loading_silero_keeps_torchs_thread_count():
    # silero_vad's import calls torch.set_num_threads(1) for the whole process: unguarded, the
    # classifier then runs on one core whatever the machine has (measured: 1.9x slower on two).
    # A fresh process, because that import happens once per process.
    code = (
        "import torch; torch.set_num_threads(3)\n"
        "from training.inference.vad import make_vad\n"
        "vad = make_vad('silero', 16000)\n"
        "print(torch.get_num_threads())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert result.stdout.split()[-1] == "3"
