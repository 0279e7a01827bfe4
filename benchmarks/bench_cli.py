"""`gesprokit --help`: the command line answers before loading any of its commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from common import median_time

SCRIPT = Path(sys.executable).with_name("gesprokit")


def run(runs: int) -> None:
    help_ = median_time(lambda: subprocess.run([str(SCRIPT), "--help"], check=True,
                                               capture_output=True), runs)
    # the reference: what --help loaded before, every command's code and its libraries
    loaded = median_time(lambda: subprocess.run(
        [sys.executable, "-c", "import gesprokit.commands, gesprokit.chorus.commands"],
        check=True, capture_output=True), runs)
    print(f"\ngesprokit --help : {help_:.3f} s (chargement de toutes les commandes : "
          f"{loaded:.3f} s, soit {loaded / help_:.0f}×)")
