"""The Kubernetes front door runs where the recorder is not installed (the operator image has no voice stack);
the import contracts in pyproject.toml check the same statically (tests/test_import_rules.py)."""

from __future__ import annotations

import subprocess
import sys

WITHOUT_RECORDER = """
import sys
class NoRecorder:
    def find_spec(self, name, path=None, target=None):
        if name == "pandora_recorder" or name.startswith("pandora_recorder."):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, NoRecorder())
from pandora.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_pandora_frontdoor_starts_without_the_recorder_package() -> None:
    result = subprocess.run([sys.executable, "-c", WITHOUT_RECORDER, "frontdoor", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--namespace" in result.stdout
    missing = subprocess.run([sys.executable, "-c", WITHOUT_RECORDER, "bot", "--help"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2  # the guard is real: `pandora bot` does need the recorder
    assert "pandora bot: not available in this installation" in missing.stderr
