"""The voice client's stop: datagrams already in the socket when a stop comes are read first."""

import asyncio
import socket
import threading
import time
from types import SimpleNamespace

from pandora_recorder.voice.client import RecordingVoiceClient


def stopping_client(udp: socket.socket) -> RecordingVoiceClient:
    # Only the socket and the loop matter to the stop; the rest of a voice client needs a gateway.
    client = object.__new__(RecordingVoiceClient)
    client._connection = SimpleNamespace(socket=udp)  # type: ignore[assignment]
    client._listening = True
    client.loop = asyncio.get_running_loop()
    return client


async def test_a_stop_waits_until_the_reader_has_read_what_the_socket_holds() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        for number in range(200):
            peer.sendto(number.to_bytes(2, "big"), udp.getsockname())
        read: list[bytes] = []

        def reader_back_on_the_cpu_later() -> None:
            time.sleep(0.1)
            while True:
                try:
                    read.append(udp.recv(64))
                except BlockingIOError:
                    return

        reader = threading.Thread(target=reader_back_on_the_cpu_later)
        reader.start()
        await stopping_client(udp).read_what_arrived()
        assert len(read) == 200
        reader.join()


async def test_a_stop_does_not_wait_for_a_reader_that_never_comes_back() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        udp.bind(("127.0.0.1", 0))
        peer.sendto(b"x", udp.getsockname())
        started = time.monotonic()
        await stopping_client(udp).read_what_arrived(timeout=0.2)
        assert 0.2 <= time.monotonic() - started < 5  # bounded by the timeout, not stuck
