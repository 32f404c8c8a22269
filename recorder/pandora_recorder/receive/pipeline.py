"""The receive pipeline: one UDP datagram in, zero or more ``ReceivedFrame``s out to the writer.

parse RTP -> transport decrypt (authenticates) -> drop duplicates -> strip extension body and padding ->
SSRC -> user (hold until op 5) -> DAVE decrypt (hold briefly and retry when the sender's keys are not known
yet, or our own group is not ready) -> drop silence -> reorder window -> ``submit``.

``on_datagram`` runs on discord.py's socket reader thread and does no I/O: ``submit`` must not block (the raw
writer queues). Voice gateway events (op 4 key, op 5 mapping) and timers arrive on the event loop; a lock
keeps them and the reader thread from interleaving.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from pandora.logging import get_logger
from pandora_recorder.frames import ReceivedFrame
from pandora_recorder.receive.dave import SILENCE_FRAME, DaveDecryptor
from pandora_recorder.receive.dedup import DuplicateFilter
from pandora_recorder.receive.drops import Drop, DropCounters, DropReason
from pandora_recorder.receive.reorder import DEFAULT_MAX_HOLD, DEFAULT_WINDOW, ReorderWindow
from pandora_recorder.receive.retry import RetryQueue
from pandora_recorder.receive.rtp import RtpPacket, parse_rtp, strip_payload
from pandora_recorder.receive.speakers import SpeakerMap
from pandora_recorder.receive.transport import TransportDecryptor

log = get_logger(__name__)

# Frames DAVE could not decrypt yet that are held and tried again with newer keys (see retry.py).
RETRIED = (DropReason.DAVE_FAILED, DropReason.DAVE_NOT_READY)

_Held = tuple[RtpPacket, bytes, float]


class ReceivePipeline:
    def __init__(
        self,
        submit: Callable[[ReceivedFrame], None],
        dave: DaveDecryptor,
        *,
        reorder_window: int = DEFAULT_WINDOW,
        max_hold: float = DEFAULT_MAX_HOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counters = DropCounters()
        self.frames_by_user: Counter[int] = Counter()  # frames handed to the writer, per user
        self.replayed = 0  # packets that arrived before op 5 and were processed once it came
        self._submit = submit
        self._dave = dave
        self._clock = clock
        self._lock = threading.Lock()
        self._transport: TransportDecryptor | None = None
        self._duplicates = DuplicateFilter()
        self._speakers: SpeakerMap[_Held] = SpeakerMap(self.counters)
        self._retry: RetryQueue[_Held] = RetryQueue(self.counters)
        self.retried = 0  # frames that failed DAVE decryption at first and succeeded on a retry
        self._reorder = ReorderWindow(self._emit, size=reorder_window, max_hold=max_hold)

    # -- event loop side -------------------------------------------------------------------------------------

    def set_transport(self, decryptor: TransportDecryptor | None) -> None:
        """Use the key and mode of the latest session description (voice op 4)."""
        with self._lock:
            self._transport = decryptor

    def on_speaking(self, user_id: int, ssrc: int) -> None:
        """Voice op 5: ``ssrc`` belongs to ``user_id``; packets held for it are processed now, in order."""
        with self._lock:
            for packet, frame, arrival in self._speakers.assign(ssrc, user_id):
                self.replayed += 1
                try:
                    self._decrypt_and_queue(user_id, packet, frame, arrival)
                except Drop as drop:
                    self.counters[drop.reason] += 1

    def release_due(self) -> None:
        """Hand over frames that waited out the reorder hold time (call a few times a second)."""
        with self._lock:
            now = self._clock()
            if self._retry.waiting:
                for user_id in self._retry.worth_retrying(self._dave.epoch()):
                    self._retry_held(user_id)
                self._retry.expire(now)
            # The hold runs on the wall clock, though the arrival clock (the newest datagram's) keeps more frames in
            # order when the stream stalls: 105 of 16 000 stored out of order on the wall clock against 2 (chaos
            # `udp` for 2 min, 5 % loss/reorder/duplication and 40 ms jitter, 4 busy loops beside it on 2 cores; none
            # on an idle machine). But the last frames before everybody stops then wait for the next datagram: the
            # 250 ms from arrival to sink is gone for them, and so is a crash's bound (a SIGKILL 0.8 s after the end
            # of speech lost the last frames). Time to disk wins; a frame later than the hold is still kept.
            self._reorder.release_due(now)

    def flush(self) -> None:
        """Hand over every frame still in the reorder window and count what can never be handed over (at the end
        of a recording)."""
        with self._lock:
            self._speakers.drop_pending()
            self._retry.drop_all()
            self._reorder.release_all()

    # -- socket reader thread --------------------------------------------------------------------------------

    def on_datagram(self, datagram: bytes) -> None:
        arrival = self._clock()
        with self._lock:
            try:
                packet = parse_rtp(datagram)
                transport = self._transport
                if transport is None:
                    raise Drop(DropReason.NO_KEY)
                payload = transport.decrypt(packet, datagram)
                if self._duplicates.is_repeat(packet.ssrc, packet.sequence):
                    raise Drop(DropReason.DUPLICATE)
                frame = strip_payload(packet, payload)
                user_id = self._speakers.users.get(packet.ssrc)
                if user_id is None:
                    self._speakers.hold(packet.ssrc, (packet, frame, arrival))
                    return
                self._decrypt_and_queue(user_id, packet, frame, arrival)
            except Drop as drop:
                self.counters[drop.reason] += 1
            except Exception:  # keep receiving whatever one datagram did; say so once, count always
                if not self.counters[DropReason.INTERNAL_ERROR]:
                    log.exception("datagram could not be processed")
                self.counters[DropReason.INTERNAL_ERROR] += 1

    def _decrypt_and_queue(self, user_id: int, packet: RtpPacket, frame: bytes, arrival: float) -> None:
        retry = self._retry
        epoch = self._dave.epoch()
        if user_id in retry.epochs and retry.epochs[user_id] != epoch and epoch is not None:
            self._retry_held(user_id)  # new keys since those failed: older frames first (see retry.py)
        try:
            opus = self._dave.decrypt(user_id, frame)
        except Drop as drop:
            if drop.reason not in RETRIED:
                raise
            retry.hold(user_id, arrival, (packet, frame, arrival), self._dave.epoch(), drop.reason)
            return
        self._queue(user_id, packet, opus, arrival)

    def _retry_held(self, user_id: int) -> None:
        for held_at, (packet, frame, arrival) in self._retry.take(user_id):
            try:
                opus = self._dave.decrypt(user_id, frame)
                self.retried += 1
                self._queue(user_id, packet, opus, arrival)
            except Drop as drop:
                if drop.reason == DropReason.DAVE_NOT_READY:  # the group went again: wait for the next one
                    self._retry.hold(user_id, held_at, (packet, frame, arrival), None, drop.reason)
                else:
                    self.counters[drop.reason] += 1

    def _queue(self, user_id: int, packet: RtpPacket, opus: bytes, arrival: float) -> None:
        if opus == SILENCE_FRAME:
            raise Drop(DropReason.SILENCE)
        if not opus:
            raise Drop(DropReason.EMPTY)
        self._reorder.push(ReceivedFrame(user_id, packet.ssrc, packet.sequence, packet.timestamp, opus, arrival))

    def _emit(self, frame: ReceivedFrame) -> None:
        self._submit(frame)
        # Counted once the writer took it: a frame it refused is counted only as the drop it raised.
        self.frames_by_user[frame.user_id] += 1
