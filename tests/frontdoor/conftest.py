from __future__ import annotations

import sys
from pathlib import Path

# The front door's test helpers live here; the recorder's file readers next door (outside any package).
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "recorder" / "voice"))
