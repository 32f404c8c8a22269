"""The operator's count of recorder starts per bot over 24 h: past it, no recorder starts (Pending, saying why and
when it clears), well before a crash loop could spend Discord's IDENTIFY budget."""

from __future__ import annotations

import time

from reconcile_world import World

from pandora.identify.limits import RECORDER_RESERVE
from pandora.recording_api.resource import Phase
from pandora_operator.start_budget import DAILY_STARTS, DAY, DISCORD_DAILY_IDENTIFIES, StartBudget


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def world_with_budget(clock: Clock, daily_starts: int = DAILY_STARTS, max_restarts: int = 5) -> World:
    world = World(max_restarts=max_restarts)
    world.ctx.starts = StartBudget(daily_starts, clock=clock)
    return world


async def crash_loop(world: World, name: str) -> int:
    """Let ``name``'s recorder crash at once, every time, until no new pod is made; returns the pods made."""
    made = 0
    while True:
        pods = set(world.pod_names())
        await world.reconcile(name)
        new = set(world.pod_names()) - pods
        if not new:
            return made
        made += len(new)
        world.exit_pod(new.pop(), 1)


async def test_crash_looping_recordings_stop_getting_recorders_before_the_identify_budget_is_in_danger() -> None:
    clock = Clock()
    world = world_with_budget(clock, max_restarts=9)
    started = 0
    for number in range(DISCORD_DAILY_IDENTIFIES):  # Recordings keep coming, each recorder fails at once
        name = world.create(f"loop-{number}")
        started += await crash_loop(world, name)
        if world.status(name).phase is Phase.PENDING:
            break
    assert started == DAILY_STARTS < DISCORD_DAILY_IDENTIFIES * (1 - RECORDER_RESERVE)
    message = world.status(name).message
    assert message.startswith(f"not starting a recorder: bot alpha started {DAILY_STARTS} recorders in the last 24 h")
    assert "the next one may start at " in message

    clock.now += DAY  # the oldest starts leave the window: the Pending Recording gets its recorder
    assert await world.reconcile(name) is Phase.STARTING


async def test_a_refused_restart_waits_pending_and_continues_the_same_recording_once_the_window_clears() -> None:
    clock = Clock()
    world = world_with_budget(clock, daily_starts=2)
    await world.recording("standup")
    world.exit_pod("standup-rec-0", 1)
    assert await world.reconcile("standup") is Phase.STARTING
    world.exit_pod("standup-rec-1", 1)

    assert await world.reconcile("standup") is Phase.PENDING
    status = world.status("standup")
    assert status.message.startswith("the recorder crashed (exit code 1); not starting a recorder: bot alpha "
                                     "started 2 recorders in the last 24 h")
    assert await world.reconcile("standup") is Phase.PENDING
    assert [reason for _, reason in world.events("standup")].count("Pending") == 1  # said once, not every sweep

    clock.now += DAY
    assert await world.reconcile("standup") is Phase.STARTING
    assert (world.status("standup").pod, world.status("standup").recording_id) == ("standup-rec-2",
                                                                                   status.recording_id)


async def test_a_restarted_operator_still_counts_the_starts_it_made_before() -> None:
    clock = Clock()
    world = world_with_budget(clock, daily_starts=3)
    await world.recording("standup")
    for attempt in range(2):
        world.exit_pod(f"standup-rec-{attempt}", 1)
        await world.reconcile("standup")
    world.restart_operator()
    world.ctx.starts = StartBudget(3, clock=clock)
    await world.reconcile("standup")  # seen again: its status shows 3 starts
    world.create("retro", guild="100000000000000002")  # another guild: the bot is free there
    assert await world.reconcile("retro") is Phase.PENDING
    assert "bot alpha started 3 recorders" in world.status("retro").message
