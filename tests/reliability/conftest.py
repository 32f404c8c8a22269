import sys
from pathlib import Path

# The chaos harness is a folder of scripts run by hand (reliability/README.md), not a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "reliability"))
