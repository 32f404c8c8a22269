import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# The recorder tests' helpers that read raw files back (recorded_tracks, is_ordered_subsequence), and the front
# door tests' helpers that read the bot's answers (final_reply, started_id, bot_texts).
sys.path.insert(0, str(TESTS / "recorder" / "voice"))
sys.path.insert(0, str(TESTS / "frontdoor"))
