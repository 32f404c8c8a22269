"""One Recording per voice channel, one per (guild, bot): duplicates fail, a full bot pool waits, claims survive
an operator restart."""

from __future__ import annotations

from reconcile_world import World, channel

from pandora.recording_api.resource import Phase

OTHER_GUILD = "100000000000000002"


async def stop_and_complete(world: World, name: str) -> None:
    world.edit_spec(name, stop=True)
    await world.reconcile(name)
    world.exit_pod(f"{name}-rec-0", 0)
    assert await world.reconcile(name) is Phase.COMPLETED


async def test_a_second_recording_of_a_busy_channel_fails_and_says_which_one_holds_it():
    world = World(bots=("alpha", "beta"))
    voice = channel()
    await world.recording("first", voice_channel=voice)
    world.create("copycat", voice_channel=voice)

    assert await world.reconcile("copycat") is Phase.FAILED
    assert world.status("copycat").message == (
        f"voice channel {voice} is already being recorded by Recording ns/first; stop or delete first first, "
        "or wait until it completes"
    )
    assert world.pod_names() == ["first-rec-0"]
    assert world.events("copycat") == [("Warning", "Failed")]

    await stop_and_complete(world, "first")
    world.create("later", voice_channel=voice)
    assert await world.reconcile("later") is Phase.STARTING  # the channel is free again


async def test_with_every_bot_busy_in_the_guild_it_waits_and_gets_the_first_bot_freed():
    world = World(bots=("alpha",))
    await world.recording("first")
    world.create("second")

    assert await world.reconcile("second") is Phase.PENDING
    assert world.status("second").message == (
        "waiting for a free bot: Discord allows one recording per guild per bot and every bot is busy in guild "
        "100000000000000001: alpha (ns/first)"
    )
    assert await world.reconcile("second") is Phase.PENDING
    assert world.events("second") == [("Normal", "Pending")]  # said once
    assert world.pod_names() == ["first-rec-0"]

    await stop_and_complete(world, "first")
    assert await world.reconcile("second") is Phase.STARTING
    assert world.status("second").bot == "alpha"


async def test_one_bot_records_in_several_guilds_at_once():
    world = World(bots=("alpha",))
    await world.recording("here")
    await world.recording("there", guild=OTHER_GUILD)
    assert (world.status("here").bot, world.status("there").bot) == ("alpha", "alpha")


async def test_each_recording_of_a_guild_gets_its_own_bot():
    world = World(bots=("beta", "alpha"))
    await world.recording("first")
    await world.recording("second")
    assert (world.status("first").bot, world.status("second").bot) == ("alpha", "beta")


async def test_a_missing_bot_pool_secret_says_how_to_create_it():
    world = World()
    world.kube.secrets.clear()
    world.create("standup")
    assert await world.reconcile("standup") is Phase.PENDING
    assert world.status("standup").message == (
        "bot pool Secret ns/pandora-bots not found: create it with one key per bot (key = bot name, value = bot token)"
    )
    world.kube.secrets["pandora-bots"] = ["alpha"]
    assert await world.reconcile("standup") is Phase.STARTING


async def test_a_pinned_bot_is_used_or_waited_for():
    world = World(bots=("alpha", "beta"))
    world.create("pinned", bot="beta")
    assert await world.reconcile("pinned") is Phase.STARTING
    assert world.status("pinned").bot == "beta"

    world.create("unknown", bot="gamma", guild=OTHER_GUILD)
    assert await world.reconcile("unknown") is Phase.PENDING
    assert world.status("unknown").message == "bot 'gamma' is not in the pool Secret ns/pandora-bots"


async def test_claims_are_rebuilt_from_statuses_after_an_operator_restart():
    world = World(bots=("alpha",))
    voice = channel()
    await world.recording("first", voice_channel=voice)

    world.restart_operator()
    world.create("second")
    world.create("copycat", voice_channel=voice)
    assert await world.reconcile("second") is Phase.PENDING  # alpha is first's, as its status says
    assert await world.reconcile("copycat") is Phase.FAILED
    assert await world.reconcile("first") is Phase.RECORDING


async def test_the_pod_of_an_earlier_recording_of_the_same_name_is_removed_before_a_new_one_starts():
    world = World()
    await world.recording("standup")
    world.kube.recordings.pop("standup")  # deleted (without the finalizer) and created again
    world.create("standup")

    assert await world.reconcile("standup") is Phase.PENDING  # its pod's name is still taken
    assert world.kube.deleted_pods == ["standup-rec-0"]
    assert world.status("standup").message == (
        "pod standup-rec-0 of an earlier Recording named standup is still being deleted; retrying"
    )
    world.remove_pod("standup-rec-0")
    assert await world.reconcile("standup") is Phase.STARTING
    assert world.pod("standup-rec-0")["metadata"]["ownerReferences"][0]["uid"] == world.view("standup").uid
