"""The chaos scenarios of issue 12, each a recording of `speakers` talking members while one kind of fault is
injected, and the target its figures are held to.

Every scenario takes `Options` (the full run: 10 minutes each, five-minute storage outages; the CI smoke test
passes a few seconds) and returns a `stage.Result`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from cluster import ControlPlaneWorld, OnCluster, recording_manifest
from pandora_simulator import FaultPlan
from pandora_simulator.testing import wait_for
from stage import DaprStorage, Result, Stage, on_stage

CRASH_GAP_TARGET = 1.5  # seconds of audio one SIGKILL may cost (standalone), issue 12
RESTART_TIMEOUT = 45.0  # a restarted recorder not recording by then is noted, killed and started again


@dataclass(frozen=True)
class Options:
    minutes: float = 10.0  # recording length of each scenario
    speakers: int = 4
    seed: int = 12
    kills: int = 10
    voice_closes: int = 12  # 4015, 4006, 1006, TCP reset, in turn
    churn_minutes: float = 2.0
    outage_minutes: float = 5.0
    outage_lead_seconds: float = 60.0  # recording before the store goes away (and at least as long after)
    burst: int = 50  # Recordings applied at once in operator-kill
    operator_kill_every: float = 20.0
    apiserver_down_seconds: float = 10.0

    @property
    def seconds(self) -> float:
        return self.minutes * 60


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))


async def sigkill(options: Options, run_dir: Path, _storage: DaprStorage | None) -> Result:
    """`pandora record` SIGKILLed at random moments (one in each equal slot of the recording) and started again
    at once on the same --id; standalone, writing to a local folder."""
    async with on_stage("sigkill", run_dir, speakers=options.speakers, seed=options.seed, storage=None) as scene:
        start = time.monotonic()
        slot = options.seconds / options.kills
        notes: list[str] = []
        for number in range(options.kills):
            await _sleep_until(start + slot * number + scene.rng.uniform(0.2, 0.8) * slot)
            scene.fault("SIGKILL")
            await scene.recorder.kill()
            await scene.recorder.start()
            while (trouble := await _recording_within(scene, RESTART_TIMEOUT)) is not None:
                notes.append(f"restart after kill {number + 1}: {trouble}; killed and started again")
                await scene.recorder.kill()
                await scene.recorder.start()
            scene.recovered()
        await _sleep_until(start + options.seconds)
    result = _result(scene, "sigkill", options.seconds)
    result.notes += notes
    gaps = result.fault_gaps()
    result.target = f"no delivered frame lost outside crash windows; crash gap <= {CRASH_GAP_TARGET} s"
    result.passed = _tidy(result) and _no_loss(result) and bool(gaps) and max(gaps) <= CRASH_GAP_TARGET
    return result


async def _recording_within(scene: Stage, timeout: float) -> str | None:
    """None once the current life records; else what happened instead."""
    try:
        await scene.recorder.wait_recording(timeout)
    except RuntimeError as exited:
        return str(exited).split(";")[0]
    except (AssertionError, TimeoutError):
        return f"not recording within {timeout:.0f} s"
    return None


VOICE_CLOSES: tuple[int | str, ...] = (4015, 4006, 1006, "TCP reset")
RECONNECT_TIMEOUT = 30.0


async def voice_close(options: Options, run_dir: Path, storage: DaprStorage | None) -> Result:
    """The recorder's voice websocket closed by the server with 4015, 4006, 1006, and cut by a TCP reset, in turn,
    at random moments while members talk; each fault waits until the recorder is connected again."""
    async with on_stage("voice-close", run_dir, speakers=options.speakers, seed=options.seed,
                     storage=storage) as scene:
        start = time.monotonic()
        slot = options.seconds / options.voice_closes
        notes: list[str] = []
        for number in range(options.voice_closes):
            await _sleep_until(start + slot * number + scene.rng.uniform(0.2, 0.8) * slot)
            code = VOICE_CLOSES[number % len(VOICE_CLOSES)]
            scene.count_network_losses()
            scene.fault(str(code))
            if code == "TCP reset":
                await _reset_voice_tcp(scene)
            else:
                assert isinstance(code, int)
                await scene.sim.close_voice_socket(scene.recorder.bot.id, code=code)
            trouble = await _wait_voice_back(scene)
            scene.recovered()
            if trouble:
                notes.append(f"after {code}: {trouble}")
        await _sleep_until(start + options.seconds)
    result = _result(scene, "voice-close", options.seconds)
    result.notes += notes
    result.target = "no delivered frame lost outside the reconnect windows; the recorder reconnects by itself"
    result.passed = _tidy(result) and _no_loss(result) and not notes
    return result


async def _reset_voice_tcp(scene: Stage) -> None:
    """Abort the recorder's voice websocket with SO_LINGER 0: the client gets a TCP RST, no close frame."""
    connection = scene.sim.voice.connections.get((scene.recorder.guild.id, scene.recorder.bot.id))
    ws = connection.ws if connection is not None else None
    transport = getattr(getattr(ws, "_req", None), "transport", None)
    if transport is None:
        raise RuntimeError("the recorder has no voice websocket to reset")
    raw = transport.get_extra_info("socket")
    with contextlib.suppress(OSError):
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _wait_voice_back(scene: Stage, timeout: float = RECONNECT_TIMEOUT) -> str | None:
    """Wait for the recorder's voice connection to be back; what went wrong instead (then the recorder is
    started again, so the scenario goes on), or None."""
    room = scene.sim.voice.room(scene.recorder.voice.id)
    bot = scene.recorder.bot.id
    process = scene.recorder.current.process

    def back() -> bool:
        connection = room.clients.get(bot)
        return connection is not None and connection.ready_for_media and connection.ws is not None

    await asyncio.sleep(0.5)  # the close reaches both ends first
    try:
        await wait_for(lambda: process.returncode is not None or back(), timeout=timeout, what="voice back")
        if process.returncode is None:
            await scene.recorder.voice.wait_dave_settled(timeout=timeout)
            return None
        trouble = f"exited {process.returncode} ({scene.recorder.stop_reason()})"
    except AssertionError:
        trouble = f"not reconnected within {timeout:.0f} s"
        await scene.recorder.kill()
    await scene.recorder.start()
    await scene.recorder.wait_recording()
    return trouble + "; started again"


async def udp(options: Options, run_dir: Path, storage: DaprStorage | None) -> Result:
    """5 % loss, 5 % reordering, 5 % duplication and up to 40 ms jitter on every packet toward the recorder."""
    plan = FaultPlan(loss=0.05, reorder=0.05, duplicate=0.05, jitter_ms=40, seed=options.seed)
    async with on_stage("udp", run_dir, speakers=options.speakers, seed=options.seed, storage=storage,
                     faults=plan) as scene:
        await asyncio.sleep(options.seconds)
    result = _result(scene, "udp", options.seconds)
    result.notes.append(f"dropped by the network plan: {sum(s.network_lost for s in result.speakers)}")
    result.target = "every delivered frame stored once, in order"
    result.passed = _tidy(result) and _no_loss(result) and all(s.out_of_order == 0 for s in result.speakers)
    return result


async def dave_churn(options: Options, run_dir: Path, storage: DaprStorage | None) -> Result:
    """Another member joins or leaves every second for `churn_minutes` (a DAVE epoch each time) while the others
    talk; the figures are the talking members', who stayed."""
    async with on_stage("dave-churn", run_dir, speakers=options.speakers, seed=options.seed, storage=storage,
                     extra_members=1) as scene:
        churner = scene.members[-1]
        voice = scene.recorder.voice
        start = time.monotonic()
        churn_until = start + min(options.churn_minutes * 60, options.seconds)
        changes = 0
        while time.monotonic() < churn_until:
            await (churner.leave_voice() if churner.channel is not None else churner.join_voice(voice))
            changes += 1
            await _sleep_until(start + changes * 1.0)
        if churner.channel is not None:
            await churner.leave_voice()
        await _sleep_until(start + options.seconds)
    result = _result(scene, "dave-churn", options.seconds)
    result.notes.append(f"{changes} joins/leaves of {churner.name}")
    result.target = "0 frames lost of the members who stayed"
    result.passed = _tidy(result) and all(s.sent == s.stored for s in result.speakers) and _clean(result)
    return result


async def object_store_down(options: Options, run_dir: Path, storage: DaprStorage | None) -> Result:
    assert storage is not None
    return await _store_down("object-store-down", options, run_dir, storage,
                             storage.stack.link.cut, storage.stack.link.restore)


async def state_store_down(options: Options, run_dir: Path, storage: DaprStorage | None) -> Result:
    assert storage is not None
    return await _store_down("state-store-down", options, run_dir, storage,
                             storage.stack.redis.stop, storage.stack.redis.start)


async def _store_down(name: str, options: Options, run_dir: Path, storage: DaprStorage,
                      go: Callable[[], None], back: Callable[[], object]) -> Result:
    """The store away for `outage_minutes` (port closed / Redis stopped), then back on the same port."""
    outage = options.outage_minutes * 60
    lead = min(options.outage_lead_seconds, options.seconds * 0.15)
    seconds = max(options.seconds, lead + outage + lead)
    async with on_stage(name, run_dir, speakers=options.speakers, seed=options.seed, storage=storage) as scene:
        start = time.monotonic()
        await _sleep_until(start + lead)
        await asyncio.to_thread(go)
        await _sleep_until(start + lead + outage)
        await asyncio.to_thread(back)
        await _sleep_until(start + seconds)
    result = _result(scene, name, seconds)
    result.notes.append(f"store away {outage:.0f} s")
    backlog = [line for line in scene.recorder.output().splitlines() if "reachable again" in line]
    result.notes += [_short(line) for line in backlog[:2]]
    result.target = "0 frames lost, all in order; recorder exits 0"
    result.passed = (_tidy(result) and all(s.sent == s.stored and s.out_of_order == 0 for s in result.speakers)
                     and _clean(result) and result.exit_codes[-1] == 0)
    return result


def _short(line: str) -> str:
    """`... [info ] object store reachable again [logger] a=1 b=2` -> `object store reachable again: a=1 b=2`."""
    text = line.split("]", 1)[-1]
    event, _, fields = text.partition("[")
    return f"{event.strip()}: {fields.split(']', 1)[-1].strip()}"[:200]


def _result(scene: Stage, name: str, seconds: float) -> Result:
    return scene.result(name, seconds, list(scene.talk.speeches.values()))


def _tidy(result: Result) -> bool:
    """The bot token appears in nothing the harness collected (issue 12, item 6)."""
    return not result.token_leaks


def _clean(result: Result) -> bool:
    return all(s.corrupt == 0 and s.duplicates == 0 and s.unexpected == 0 for s in result.speakers)


def _no_loss(result: Result) -> bool:
    return all(s.lost == 0 for s in result.speakers) and _clean(result)


async def operator_kill(options: Options, run_dir: Path, _storage: DaprStorage | None) -> Result:
    """A burst of `burst` Recordings applied at once on the local control plane, the operator SIGKILLed a second
    after and every `operator_kill_every` s from then on (and started again at once), while the first Recording's
    recorder records the talking members."""
    world = await _control_plane(run_dir / "operator-kill")
    launcher = OnCluster(world, recordings=options.burst, name_prefix="burst")
    kills: list[float] = []
    try:
        killer = asyncio.create_task(_kill_operator(world, launcher, options.operator_kill_every, kills))
        async with on_stage("operator-kill", run_dir, speakers=options.speakers, seed=options.seed, storage=None,
                         launcher=launcher) as scene:
            start = time.monotonic()
            all_recording = await _all_in_phase(world, options.burst, "Recording", start + options.seconds)
            await _sleep_until(start + options.seconds)
            killer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await killer
            checks = await asyncio.to_thread(_one_pod_each, world, options.burst)
        completed = await _all_in_phase(world, options.burst, "Completed", time.monotonic() + 90)
        await asyncio.to_thread(world.dump)
        result = _result(scene, "operator-kill", options.seconds)
    finally:
        await asyncio.to_thread(world.close)
    result.notes += [
        f"operator SIGKILLed {len(kills)} times (first {kills[0] - launcher.started_at:.1f} s after the burst, then "
        f"every {options.operator_kill_every:g} s)" if kills else "operator never killed",
        f"all {options.burst} Recordings Recording " + (f"{all_recording - launcher.started_at:.1f} s after the burst"
                                                         if all_recording else "NEVER"),
        *checks, *launcher.notes,
        f"after spec.stop all {options.burst} Completed" if completed else "after spec.stop NOT all Completed",
    ]
    result.target = ("0 frames lost; every Recording Recording with exactly one pod, none restarted; all Completed "
                     "after spec.stop")
    result.passed = (_tidy(result) and _no_loss(result) and bool(all_recording) and not checks[1:]
                     and bool(completed) and len(result.exit_codes) == 1)
    return result


async def apiserver_restart(options: Options, run_dir: Path, _storage: DaprStorage | None) -> Result:
    """One Recording on the local control plane; halfway through, the API server stopped, kept away
    `apiserver_down_seconds` and started again. Then a new Recording must get its pod (the operator watches
    again) while the first goes on."""
    world = await _control_plane(run_dir / "apiserver-restart")
    launcher = OnCluster(world, recordings=1, name_prefix="rec")
    notes: list[str] = []
    try:
        async with on_stage("apiserver-restart", run_dir, speakers=options.speakers, seed=options.seed,
                         storage=None, launcher=launcher) as scene:
            start = time.monotonic()
            await _sleep_until(start + options.seconds / 2)
            away = await asyncio.to_thread(world.restart_apiserver, options.apiserver_down_seconds)
            notes.append(f"API server away {away:.1f} s at {time.monotonic() - away - start:.0f} s")
            if world.operator.process.poll() is not None:
                notes.append(f"the operator EXITED {world.operator.process.returncode} with the API server away")
                await asyncio.to_thread(world.operator.start)
            guild = scene.sim.create_guild("After", bots=[scene.recorder.bot])
            await asyncio.to_thread(world.apply, [recording_manifest(
                "rec-after", guild.id, guild.create_voice_channel("General").id)])
            if not await _all_in_phase(world, 2, "Recording", time.monotonic() + 60):
                notes.append(f"a Recording created after the restart NOT Recording within 60 s: {world.phases()}")
            await _sleep_until(start + options.seconds)
            summary, *wrong = await asyncio.to_thread(_one_pod_each, world, 2)
            notes += [summary, *(f"{line} NOT as expected" for line in wrong)]
        completed = await _all_in_phase(world, 2, "Completed", time.monotonic() + 90)
        await asyncio.to_thread(world.dump)
        result = _result(scene, "apiserver-restart", options.seconds)
    finally:
        await asyncio.to_thread(world.close)
    result.notes += [*notes, *launcher.notes, "after spec.stop both Completed" if completed else
                     f"after spec.stop NOT both Completed: {completed}"]
    result.target = ("0 frames lost; the recording goes on with its one pod; a Recording created after the restart "
                     "gets its pod; both Completed after spec.stop")
    result.passed = (_tidy(result) and _no_loss(result) and bool(completed) and len(result.exit_codes) == 1
                     and not [note for note in notes if "NOT" in note or "EXITED" in note])
    return result


async def _control_plane(folder: Path) -> ControlPlaneWorld:
    folder.mkdir(parents=True, exist_ok=True)
    return await asyncio.to_thread(ControlPlaneWorld, folder)


async def _kill_operator(world: ControlPlaneWorld, launcher: OnCluster, every: float, kills: list[float]) -> None:
    """SIGKILL the operator a second after the burst was applied, then every `every` s; start it again at once."""
    await wait_for(lambda: launcher.started_at > 0, timeout=300, what="the burst")
    await _sleep_until(launcher.started_at + 1.0)
    while True:
        kills.append(time.monotonic())
        await asyncio.to_thread(world.operator.kill)
        await asyncio.to_thread(world.operator.start)
        await _sleep_until(kills[-1] + every)


async def _all_in_phase(world: ControlPlaneWorld, count: int, phase: str, deadline: float) -> float | None:
    """When all `count` Recordings were in `phase` (monotonic), or None at the deadline."""
    while time.monotonic() < deadline:
        phases = await asyncio.to_thread(world.phases)
        if len(phases) == count and all(value == phase for value in phases.values()):
            return time.monotonic()
        await asyncio.sleep(1.0)
    return None


def _one_pod_each(world: ControlPlaneWorld, count: int) -> list[str]:
    """A summary line, then one line per thing wrong: pods other than `<recording>-rec-0`, restarts."""
    statuses = world.statuses()
    names = sorted(pod["metadata"]["name"] for pod in world.pods())
    expected = sorted(f"{name}-rec-0" for name in statuses)
    restarts = {name: status.get("restarts") for name, status in statuses.items() if status.get("restarts") != 0}
    wrong = []
    if names != expected:
        wrong.append(f"pods {sorted(set(names) - set(expected))} beyond, {sorted(set(expected) - set(names))} missing")
    if restarts:
        wrong.append(f"restarts not 0: {dict(list(restarts.items())[:5])}")
    return [f"{len(names)} pods for {len(statuses)} of {count} Recordings", *wrong]


SCENARIOS: dict[str, Callable[[Options, Path, DaprStorage | None], Awaitable[Result]]] = {
    "sigkill": sigkill,
    "voice-close": voice_close,
    "udp": udp,
    "dave-churn": dave_churn,
    "object-store-down": object_store_down,
    "state-store-down": state_store_down,
    "operator-kill": operator_kill,
    "apiserver-restart": apiserver_restart,
}
NEEDS_DAPR = {"voice-close", "udp", "dave-churn", "object-store-down", "state-store-down"}
