import sys
from pathlib import Path

# The recorder tests' helpers that read raw files back (recorded_tracks, is_ordered_subsequence).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recorder" / "voice"))
