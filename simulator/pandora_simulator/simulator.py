"""The facade: builds the world, the rule modules and the servers, wires them, and offers the scenario API.

Wiring, from the bottom: :class:`~pandora_simulator.world.World` (state and logs) and
:class:`~pandora_simulator.gateway_sessions.GatewaySessions` (who hears what); the voice server; the rules
(``voice_states``, ``messages``, ``interactions``, ``guild_changes``); then the gateway and REST, which get the
rules as callbacks. Guilds get :class:`~pandora_simulator.model.SceneLinks` to the rules, never this object.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pandora_simulator.gateway import GatewayServer
from pandora_simulator.gateway_sessions import GatewaySessions
from pandora_simulator.guild_changes import GuildChanges
from pandora_simulator.ids import new_snowflake, snowflake_time_iso
from pandora_simulator.interactions import Interactions
from pandora_simulator.logs import log
from pandora_simulator.messages import Messages
from pandora_simulator.model import (
    Membership,
    SceneLinks,
    SimBot,
    SimChannel,
    SimGuild,
    SimInteraction,
    SimMember,
    new_bot,
)
from pandora_simulator.opcodes import GatewayClose, VoiceClose
from pandora_simulator.rate_limits import RateLimit, RateLimits
from pandora_simulator.records import (
    ClientMessage,
    InteractionResponse,
    InvalidSession,
    RateLimitHit,
    ReceivedAudio,
    TokenReset,
    VoiceStateRequest,
)
from pandora_simulator.rest import RestApi
from pandora_simulator.session_limits import SessionStartLimit, SessionStartLimits
from pandora_simulator.speech import REAL_CLIENT_SILENCE_FRAMES, speak
from pandora_simulator.tasks import BackgroundTasks
from pandora_simulator.tls import SimulatorCertificates
from pandora_simulator.voice_gateway import VoiceGateway
from pandora_simulator.voice_server import VoiceServer
from pandora_simulator.voice_states import VoiceStates
from pandora_simulator.world import World


@dataclass(frozen=True)
class _MemberActions:
    """:class:`~pandora_simulator.model.MemberActions` from the rule modules."""

    voice_states: VoiceStates
    voice: VoiceServer
    messages: Messages
    interactions: Interactions
    trailing_silence_frames: int

    async def join_voice(self, member: SimMember, channel: SimChannel) -> None:
        await self.voice_states.member_joins(member, channel)

    async def leave_voice(self, member: SimMember) -> None:
        await self.voice_states.member_leaves(member)

    async def speak(self, member: SimMember, seconds: float, *, realtime: bool, silence_frames: int | None
                    ) -> list[bytes]:
        silence = self.trailing_silence_frames if silence_frames is None else silence_frames
        return await speak(self.voice, member, seconds, realtime=realtime, silence_frames=silence)

    async def send_message(self, member: SimMember, channel: SimChannel, content: str) -> dict[str, Any]:
        return await self.messages.member_sends(member, channel, content)

    async def invoke_slash_command(self, member: SimMember, bot: SimBot, name: str, options: dict[str, Any],
                                   channel: SimChannel) -> SimInteraction:
        return await self.interactions.invoke(member.user, bot, name, options, channel)


class DiscordSimulator:
    """A local Discord on 127.0.0.1: ``async with DiscordSimulator() as sim: ...``.

    Build the world with :meth:`create_bot`, :meth:`create_guild`, ``guild.create_voice_channel`` and
    ``guild.add_member``; point a client at it with :meth:`connection_env`; then drive members and read the logs
    (:attr:`messages`, :attr:`interaction_responses`, :attr:`voice_state_log`, :attr:`audio_log`).
    """

    def __init__(self, host: str = "127.0.0.1", *, port: int = 0, voice_port: int = 0, dave: bool = True,
                 trailing_silence_frames: int = REAL_CLIENT_SILENCE_FRAMES) -> None:
        """``trailing_silence_frames``: the ``F8 FF FE`` frames members send after each ``speak()`` unless told;
        by default what real Discord clients send (five)."""
        self.host = host
        self._port, self._voice_port = port, voice_port
        self.port = 0
        self.voice_port = 0
        self.started = False
        self.certificates: SimulatorCertificates | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks = BackgroundTasks()

        self.world = World()
        self.sessions = GatewaySessions()
        self.voice = VoiceServer(self.world.channel, dave=dave, audio_received=self.world.audio_log.append)
        self.voice_gateway = VoiceGateway(self.voice)
        self.voice_states = VoiceStates(self.world, self.sessions, self.voice, lambda: self.voice_endpoint)
        self.message_rules = Messages(self.world, self.sessions)
        self.interactions = Interactions(self.world, self.message_rules, self.sessions)
        self.guild_changes = GuildChanges(self.sessions, self.spawn)
        self.start_limits = SessionStartLimits()
        self.gateway = GatewayServer(
            self.world, self.sessions, self.start_limits, resume_url=lambda: self.gateway_url,
            on_voice_state_request=self.voice_states.bot_request, on_session_end=self.voice_states.session_ended,
            spawn=self.spawn,
        )
        self.rest = RestApi(self.world, self.message_rules, self.interactions, self.guild_changes,
                            gateway_url=lambda: self.gateway_url,
                            session_start_limit=lambda bot: self.start_limits.of(bot.id).payload())
        self.rate_limits = RateLimits(self.rest.route_templates(), self.world.rate_limited.append)
        self._links = SceneLinks(
            events=self.guild_changes,
            members=_MemberActions(self.voice_states, self.voice, self.message_rules, self.interactions,
                                   trailing_silence_frames),
            calls=self.voice,
        )

    # --- lifecycle -------------------------------------------------------------------------------------------------

    async def __aenter__(self) -> DiscordSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        self.certificates = SimulatorCertificates.generate(self.host)
        # Rate limits outermost: error answers count and carry the headers too, as on Discord.
        app = web.Application(middlewares=[self.rate_limits.middleware, RestApi.errors])
        app.add_routes(self.rest.routes())
        app.add_routes([web.get("/gateway", self.gateway.handle), web.get("/gateway/", self.gateway.handle)])
        self.port = await self._serve(app, self._port, None)
        voice_app = web.Application()
        voice_app.add_routes([web.get("/", self.voice_gateway.handle)])
        self.voice_port = await self._serve(voice_app, self._voice_port, self.certificates.server_context)
        await self.voice.start_udp(self.host)
        self.started = True
        log.info("simulator listening", api=self.api_url, gateway=self.gateway_url, voice=self.voice_endpoint,
                 udp=self.voice.udp_port)

    async def _serve(self, app: web.Application, port: int, ssl_context: Any) -> int:
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, port, ssl_context=ssl_context)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    async def close(self) -> None:
        await self.voice.close()
        await self.sessions.close_all()
        self._tasks.cancel_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        if self.certificates is not None:
            self.certificates.cleanup()
        self.started = False

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a dispatch in the background once serving (before that no session could hear it)."""
        if self.started:
            self._tasks.spawn(coroutine)
        else:
            coroutine.close()

    # --- addresses --------------------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def voice_endpoint(self) -> str:
        return f"{self.host}:{self.voice_port}"

    @property
    def ca_file(self) -> str:
        assert self.certificates is not None, "start the simulator first"
        return str(self.certificates.ca_file)

    def connection_env(self, bot: SimBot | None = None) -> dict[str, str]:
        """The environment a Pandora client needs to use this simulator (see pandora.discord_connection)."""
        env = {
            "PANDORA_DISCORD_API_URL": self.api_url,
            "PANDORA_DISCORD_GATEWAY_URL": self.gateway_url,
            "PANDORA_DISCORD_CA_FILE": self.ca_file,
        }
        if bot is not None:
            env["PANDORA_TOKEN"] = bot.token
        return env

    # --- building the world -----------------------------------------------------------------------------------------

    def create_bot(self, name: str) -> SimBot:
        bot = new_bot(name)
        self.world.add_bot(bot)
        return bot

    def create_guild(self, name: str, bots: list[SimBot] | None = None) -> SimGuild:
        owner = self.world.owner
        guild = SimGuild(id=new_snowflake(), name=name, owner_id=owner.id, links=self._links)
        guild.memberships[owner.id] = Membership(user=owner, joined_at=snowflake_time_iso(owner.id))
        self.world.add_guild(guild)
        for bot in bots or []:
            self.add_bot_to_guild(bot, guild)
        return guild

    def add_bot_to_guild(self, bot: SimBot, guild: SimGuild) -> None:
        guild.add_bot(bot)
        self.guild_changes.bot_added(bot, guild)

    def session_start_limit(self, bot: SimBot) -> SessionStartLimit:
        """The bot's live IDENTIFY limits (``GET /gateway/bot``): change ``.remaining``, ``.max_concurrency``,
        ``.window_seconds`` (5 s) to shape a scenario."""
        return self.start_limits.of(bot.id)

    def rate_limit(self, route: str, *, limit: int | None = None, per: float = 1.0, every: int | None = None,
                   retry_after: float = 0.1, is_global: bool = False) -> RateLimit:
        """Limit a REST route (``pandora_simulator.rate_limits.MESSAGE_CREATE``, ... or ``"METHOD /path"``):
        ``limit`` requests per ``per`` seconds per channel/guild/webhook/interaction, announced in
        ``X-RateLimit-*`` headers; ``every=N`` answers every N-th request 429 (``retry_after`` seconds) unannounced,
        as a limit shared with another process does. Replaces an earlier limit of the route."""
        return self.rate_limits.limit(route, limit=limit, per=per, every=every, retry_after=retry_after,
                                      is_global=is_global)

    # --- faults -------------------------------------------------------------------------------------------------

    async def close_voice_socket(self, user_id: int, code: int = VoiceClose.SERVER_CRASHED, *,
                                 resumable: bool = True) -> None:
        """Fault: the voice server closes this user's voice websocket with ``code``.

        4015 keeps the session resumable, unless ``resumable`` is False (the crashed server lost the session: the
        client's RESUME is refused with 4006, as Discord refuses a resume of an invalid session, and the client
        must connect afresh); 4014 (disconnected) and 4022 (call terminated) also remove the user's voice state
        first, as Discord does when someone is kicked from a channel; other codes make clients reconnect from
        scratch.
        """
        if code in (VoiceClose.DISCONNECTED, VoiceClose.CALL_TERMINATED):
            await self.voice_states.kick(user_id)
        await self.voice.close_voice_socket(user_id, code, resumable=resumable)

    async def close_gateway_socket(self, bot: SimBot, code: int = GatewayClose.UNKNOWN_ERROR) -> None:
        """Fault: the gateway closes every websocket of this bot with ``code`` (4000 lets clients resume)."""
        await self.sessions.close_sockets_of(bot.id, code)

    # --- what clients did --------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[ClientMessage]:
        """Channel messages bots created or edited over REST."""
        return self.world.messages

    @property
    def interaction_responses(self) -> list[InteractionResponse]:
        return self.world.interaction_responses

    @property
    def voice_state_log(self) -> list[VoiceStateRequest]:
        """Every gateway op 4 a bot sent."""
        return self.world.voice_state_log

    @property
    def audio_log(self) -> list[ReceivedAudio]:
        """Every RTP packet a real client sent, transport-decrypted."""
        return self.world.audio_log

    @property
    def invalid_sessions(self) -> list[InvalidSession]:
        """Every op 9 the gateway sent (an IDENTIFY too soon after another, a refused RESUME)."""
        return self.world.invalid_sessions

    @property
    def token_resets(self) -> list[TokenReset]:
        """Every time a bot spent its IDENTIFY budget: sessions closed with 4004, token replaced."""
        return self.world.token_resets

    @property
    def rate_limited(self) -> list[RateLimitHit]:
        """Every request the REST API answered 429."""
        return self.world.rate_limited

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Every message in a channel, oldest first (members', bots' and interaction responses)."""
        return self.world.channel_messages(channel_id)
