"""Two test sessions on one host take turns on the real node instead of sharing its bridge and kubelet."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pandora_testenv.realnode.host import real_node_turn

HOLD = """
import sys, time
from pathlib import Path
from pandora_testenv.realnode.host import real_node_turn
with real_node_turn(echo=lambda line: print(line, flush=True), lock=Path(sys.argv[1])):
    print("got it", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_second_session_waits_for_the_first_and_says_why(tmp_path: Path):
    lock = tmp_path / "real-node.lock"
    with real_node_turn(echo=print, lock=lock):
        second = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "0"], stdout=subprocess.PIPE, text=True)
        waiting = second.stdout.readline()
        time.sleep(0.3)
        assert second.poll() is None, "the second session did not wait"
        assert "waiting for" in waiting and str(lock) in waiting
    # Released: the second one gets its turn.
    assert second.stdout.readline().strip() == "got it"
    assert second.wait(10) == 0


def test_the_lock_is_released_when_its_holder_dies(tmp_path: Path):
    lock = tmp_path / "real-node.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock), "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "got it"
    holder.kill()
    holder.wait()
    messages: list[str] = []
    with real_node_turn(echo=messages.append, lock=lock):
        pass
    assert messages == []


def test_a_process_that_has_its_turn_does_not_wait_on_itself(tmp_path: Path):
    lock = tmp_path / "real-node.lock"
    messages: list[str] = []
    with real_node_turn(echo=messages.append, lock=lock), real_node_turn(echo=messages.append, lock=lock):
        pass
    assert messages == []
