"""A local Discord for tests and demos: REST, gateway, voice gateway v8 over TLS, UDP media and DAVE.

An unmodified discord.py client, pointed here through the connection contract (``pandora.discord_connection``),
cannot tell it from Discord. Typical use::

    async with DiscordSimulator() as sim:
        bot = sim.create_bot("Pandora")
        guild = sim.create_guild("Guild", bots=[bot])
        voice = guild.create_voice_channel("General")
        alice = guild.add_member("alice")
        env = sim.connection_env(bot)          # PANDORA_DISCORD_API_URL / _GATEWAY_URL / _CA_FILE, PANDORA_TOKEN
        await alice.join_voice(voice)
        frames = await alice.speak(seconds=1.0)

The whole scenario API, the fault model, ``pandora sim serve`` and what is not simulated: ``README.md`` in this
package.
"""

from pandora_simulator.audio import dominant_tone, tone_for
from pandora_simulator.faults import FaultPlan
from pandora_simulator.model import SimBot, SimChannel, SimGuild, SimInteraction, SimMember, SimRole, SimUser
from pandora_simulator.records import ClientMessage, InteractionResponse, ReceivedAudio, VoiceStateRequest
from pandora_simulator.simulator import DiscordSimulator

__all__ = [
    "ClientMessage",
    "DiscordSimulator",
    "FaultPlan",
    "InteractionResponse",
    "ReceivedAudio",
    "SimBot",
    "SimChannel",
    "SimGuild",
    "SimInteraction",
    "SimMember",
    "SimRole",
    "SimUser",
    "VoiceStateRequest",
    "dominant_tone",
    "tone_for",
]
