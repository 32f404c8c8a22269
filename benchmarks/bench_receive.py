"""Benchmark: a synthetic 99-speaker DAVE stream through the receive pipeline and the raw writer.

Every datagram is real: libopus frames, end-to-end encrypted by each speaker's davey session in one real DAVE
group, transport-encrypted (rtpsize), fed at real-time pace (``--fast``: back to back). Timed:
``ReceivePipeline.on_datagram`` (transport decryption, DAVE decryption, SSRC mapping, reorder window,
``RawRecordingWriter.submit``) on this thread, plus the writer thread's work until ``close()`` returns. Prints
µs per packet, % of one core at real-time rate, peak RSS.

    .venv/bin/python benchmarks/bench_receive.py [--speakers 99] [--seconds 10] [--mode aead_aes256_gcm_rtpsize]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

from pandora.logging import configure_logging
from pandora_recorder.frames import Speaker
from pandora_recorder.raw import RawRecordingWriter
from pandora_recorder.receive import DaveDecryptor, ReceivePipeline, transport_decryptor
from pandora_recorder.sinks.local import LocalFolderSink
from pandora_simulator.audio import ToneEncoder
from pandora_simulator.dave import DaveChannelGroup, SimulatedDaveMember
from pandora_simulator.rtp import AES_GCM, XCHACHA, RtpPacket, encrypt_packet

FRAME_SAMPLES = 960
PACKETS_PER_SECOND = 50
CHANNEL_ID = 4242
RECORDER_ID = 1
DISTINCT_FRAMES = 50  # one second of real Opus per speaker, repeated (every packet is still encrypted anew)


class JoinedCall:
    """The recorder's side of DAVE (``receive.DaveConnection``): its davey session in the group, protocol 1."""

    def __init__(self, session: object) -> None:
        self._session = session

    def davey_session(self) -> object:
        return self._session

    def dave_version(self) -> int:
        return 1

    def on_dave_failure(self) -> None:
        pass  # failures show up in the drop counts the benchmark prints


def tone_frames(count: int, frequency: float) -> list[bytes]:
    encoder = ToneEncoder(frequency)
    return [encoder.next_frame() for _ in range(count)]


def simulate_channel(conn: Connection, speakers: int, seconds: float, mode: str, key: bytes, path: str) -> None:
    """Child process: the voice gateway and the 99 senders. Their DAVE sessions stay out of the measured process.

    The recorder's DAVE messages go over ``conn`` to the parent, which answers with its own davey session; then
    the whole stream is written to ``path`` as length-prefixed datagrams in arrival order.
    """
    configure_logging("ERROR")
    group = DaveChannelGroup(CHANNEL_ID)
    speaker_ids = [1000 + index for index in range(speakers)]
    members = {user_id: SimulatedDaveMember(user_id, CHANNEL_ID) for user_id in speaker_ids}

    def deliver(user_id: int, opcode: int, payload: object) -> list[tuple[int, object]]:
        if user_id == RECORDER_ID:
            conn.send((opcode, payload))
            return conn.recv()
        return members[user_id].handle(opcode, payload)

    def pump(outgoing: list) -> None:
        queue = list(outgoing)
        while queue:
            message = queue.pop(0)
            for opcode, payload in deliver(message.user_id, message.opcode, message.payload):
                queue.extend(group.receive(message.user_id, opcode, payload))

    replies = {user_id: deliver(user_id, 4, {"dave_protocol_version": group.protocol_version})
               for user_id in [RECORDER_ID, *speaker_ids]}
    for user_id in replies:
        pump(group.connect(user_id))
    for user_id, first in replies.items():
        for opcode, payload in first:
            pump(group.receive(user_id, opcode, payload))
    pump(group.execute_pending_transition())
    conn.send(("group", [user_id for user_id in speaker_ids if not members[user_id].ready]))

    frames = {user_id: tone_frames(DISTINCT_FRAMES, 200 + 7 * index) for index, user_id in enumerate(speaker_ids)}
    with open(path, "wb") as out:
        for sequence in range(int(seconds * PACKETS_PER_SECOND)):  # every speaker every 20 ms
            for index, user_id in enumerate(speaker_ids):
                frame = members[user_id].encrypt_opus(frames[user_id][sequence % DISTINCT_FRAMES])
                packet = RtpPacket(sequence=sequence & 0xFFFF, timestamp=sequence * FRAME_SAMPLES, ssrc=index + 1,
                                   payload=frame)
                datagram = encrypt_packet(mode, key, packet, sequence)
                out.write(struct.pack(">H", len(datagram)) + datagram)
    conn.send(("traffic", None))


def read_chunks(path: str, per_chunk: int) -> Iterator[list[bytes]]:
    with open(path, "rb") as source:
        chunk: list[bytes] = []
        while header := source.read(2):
            chunk.append(source.read(struct.unpack(">H", header)[0]))
            if len(chunk) == per_chunk:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=99)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--mode", choices=[AES_GCM, XCHACHA], default=AES_GCM)
    parser.add_argument("--fast", action="store_true",
                        help="feed packets back to back instead of at real-time pace (the writer's queue then grows)")
    parser.add_argument("--settle", type=float, default=11.0,
                        help="seconds to wait after the group is built: davey keeps each previous epoch's keys for "
                             "10 s and tries them too, so decryption right after 100 joins costs several times more")
    args = parser.parse_args()
    configure_logging("ERROR")
    key = os.urandom(32)
    recorder = SimulatedDaveMember(RECORDER_ID, CHANNEL_ID)

    with tempfile.TemporaryDirectory() as folder:
        traffic = os.path.join(folder, "traffic.bin")
        started = time.perf_counter()
        parent_end, child_end = multiprocessing.Pipe()
        child = multiprocessing.Process(
            target=simulate_channel, args=(child_end, args.speakers, args.seconds, args.mode, key, traffic))
        child.start()
        while True:  # answer the gateway's DAVE messages for the recorder, like discord.py would
            opcode, payload = parent_end.recv()
            if opcode == "group":
                if payload or not recorder.ready:
                    raise RuntimeError("DAVE group not established")
                setup_group = time.perf_counter() - started
                continue
            if opcode == "traffic":
                break
            parent_end.send(recorder.handle(opcode, payload))
        child.join()
        setup_traffic = time.perf_counter() - started - setup_group
        time.sleep(max(0.0, args.settle - setup_traffic))

        sink = LocalFolderSink(os.path.join(folder, "rec"))
        writer = RawRecordingWriter(sink, lambda user_id: Speaker(user_id, f"speaker {user_id}", f"u{user_id}"))
        dave = DaveDecryptor()
        dave.attach(JoinedCall(recorder.session))
        pipeline = ReceivePipeline(writer.submit, dave)
        pipeline.set_transport(transport_decryptor(args.mode, key))
        for index in range(args.speakers):
            pipeline.on_speaking(1000 + index, index + 1)

        count = 0
        reader_wall = 0.0
        reader_cpu = 0.0
        reading_cpu = 0.0
        cpu_start = time.process_time()
        next_tick = time.perf_counter()
        chunks = read_chunks(traffic, args.speakers * PACKETS_PER_SECOND)
        while True:  # one second of traffic at a time, so the measured process holds little of it
            read_start = time.process_time()
            chunk = next(chunks, None)
            reading_cpu += time.process_time() - read_start
            if chunk is None:
                break
            on_datagram = pipeline.on_datagram
            for start in range(0, len(chunk), args.speakers):  # one 20 ms tick: a packet from every speaker
                tick_start, tick_cpu = time.perf_counter(), time.thread_time()
                for datagram in chunk[start : start + args.speakers]:
                    on_datagram(datagram)
                reader_cpu += time.thread_time() - tick_cpu
                reader_wall += time.perf_counter() - tick_start
                if not args.fast:
                    next_tick += 0.020
                    time.sleep(max(0.0, next_tick - time.perf_counter()))
            count += len(chunk)
        last_packet = time.perf_counter()
        pipeline.flush()
        writer.close()
        cpu_total = time.process_time() - cpu_start - reading_cpu
        drain = time.perf_counter() - last_packet
        stats = writer.stats()
        data_bytes = sink.size(f"{writer.recording_id}.ogg.data")
        sink.close()

    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reader_us = reader_wall / count * 1e6
    cpu_us = cpu_total / count * 1e6
    realtime_rate = args.speakers * PACKETS_PER_SECOND
    print(f"speakers                     {args.speakers} ({args.mode}, DAVE v1, {args.seconds:g} s of audio each)")
    print(f"packets                      {count} ({realtime_rate} per second at real time)")
    print(f"frames written               {stats.frames_written} in {stats.tracks} tracks, {data_bytes} bytes of .data"
          f" (dropped: pipeline {pipeline.counters.total()}, writer {stats.frames_dropped})")
    print(f"reader thread                {reader_cpu / count * 1e6:.2f} us/packet CPU, {reader_us:.2f} us wall "
          f"(on_datagram incl. submit; wall includes waiting for the GIL and for a shared CPU)")
    print(f"total CPU, reader + writer   {cpu_us:.2f} us/packet (process CPU until the writer closed)")
    print(f"one core at real-time rate   {cpu_us * realtime_rate / 1e4:.1f} %")
    pacing = "back to back" if args.fast else "real time (a packet per speaker per 20 ms)"
    print(f"pacing                       {pacing}; on disk {drain:.2f} s after the last packet")
    print(f"peak RSS of the recorder     {rss_peak / 1024:.1f} MiB (senders and gateway run in a child process)")
    print(f"setup                        DAVE group {setup_group:.1f} s, traffic {setup_traffic:.1f} s, "
          f"measured {max(args.settle, setup_traffic):.1f} s after the last epoch change")
    return 0 if stats.frames_written == count == args.speakers * int(args.seconds * PACKETS_PER_SECOND) else 1


if __name__ == "__main__":
    sys.exit(main())
