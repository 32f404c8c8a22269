"""The simulated world's objects: users, bots, guilds, channels, members, voice states and interactions.

Data plus the scenario methods tests call on them (``guild.add_member``, ``alice.join_voice``, ``voice.faults``).
A scenario method hands its work to one of the small interfaces at the end of this module (:class:`GuildEvents`,
:class:`MemberActions`, :class:`CallControls`); :class:`~pandora_simulator.simulator.DiscordSimulator` wires them
to the rule modules and servers, so nothing here knows the simulator. The JSON Discord sends for these objects is
in :mod:`pandora_simulator.shapes`.
"""

from __future__ import annotations

import asyncio
import base64
import random
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pandora_simulator.audio import tone_for
from pandora_simulator.ids import new_snowflake, snowflake_time_iso
from pandora_simulator.opcodes import PRIVILEGED_INTENTS
from pandora_simulator.permissions import (
    DEFAULT_PERMISSIONS,
    MEMBER_OVERWRITE,
    ROLE_OVERWRITE,
    Overwrite,
    base_permissions,
    channel_permissions,
)
from pandora_simulator.records import InteractionResponse

if TYPE_CHECKING:
    from pandora_simulator.audio import ToneEncoder
    from pandora_simulator.dave import SimulatedDaveMember
    from pandora_simulator.faults import FaultPlan

TEXT_CHANNEL = 0
VOICE_CHANNEL = 2


@dataclass(eq=False)
class SimUser:
    """A Discord user (a person or a bot)."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def user_id(self) -> int:
        return self.id


@dataclass(eq=False)
class SimBot(SimUser):
    """A bot account: its token logs a client in; ``application_id`` is the application that owns it.

    ``privileged_intents``: the privileged intents its application has enabled in the Developer Portal (all of
    them unless a test says otherwise); asking for another one closes the gateway with 4014."""

    token: str = ""
    application_id: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)
    privileged_intents: int = int(PRIVILEGED_INTENTS)


def new_bot_token(user_id: int) -> str:
    """A fresh token, shaped like real ones (base64 user id . timestamp . hmac) so log redaction recognises it."""
    encoded_id = base64.urlsafe_b64encode(str(user_id).encode()).decode().rstrip("=")
    return f"{encoded_id}.{secrets.token_urlsafe(5)}.{secrets.token_urlsafe(27)}"


def new_bot(name: str) -> SimBot:
    user_id = new_snowflake()
    return SimBot(id=user_id, name=name, bot=True, token=new_bot_token(user_id), application_id=user_id)


@dataclass(eq=False)
class SimRole:
    """A guild role; the guild's own id is its @everyone role."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0


@dataclass(eq=False)
class Membership:
    """A user's membership in a guild (``roles``: role ids, @everyone implied)."""

    user: SimUser
    joined_at: str
    nick: str | None = None
    roles: list[int] = field(default_factory=list)


@dataclass(eq=False)
class VoiceState:
    """Where a user is in voice, as Discord reports it in VOICE_STATE_UPDATE (``session_id``: the owner's session)."""

    user_id: int
    channel_id: int | None
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False


@dataclass(eq=False)
class SimChannel:
    """A text or voice channel. Voice channels carry the fault plan applied toward connected real clients."""

    id: int
    guild: SimGuild
    name: str
    type: int
    position: int
    # Permissions taken away from every bot of the guild here (a member overwrite per bot); overwrites set with
    # set_permissions() come on top.
    bot_denied: int = 0
    faults: FaultPlan | None = None
    overwrites: dict[int, Overwrite] = field(default_factory=dict)  # by role or user id

    @property
    def is_voice(self) -> bool:
        return self.type == VOICE_CHANNEL

    def set_permissions(self, target: SimRole | SimUser | SimMember, *, allow: int = 0, deny: int = 0) -> None:
        """Set the channel's overwrite for a role or a member or bot (replaces theirs); bots get CHANNEL_UPDATE."""
        kind = ROLE_OVERWRITE if isinstance(target, SimRole) else MEMBER_OVERWRITE
        self.overwrites[target.id] = Overwrite(target.id, kind, allow, deny)
        self.guild.links.events.channel_updated(self)

    def clear_permissions(self, target: SimRole | SimUser | SimMember) -> None:
        if self.overwrites.pop(target.id, None) is not None:
            self.guild.links.events.channel_updated(self)

    def permission_overwrites(self) -> list[Overwrite]:
        """The overwrites in force, @everyone's first (``bot_denied`` folded into each bot's member overwrite)."""
        found = dict(self.overwrites)
        if self.bot_denied:
            for bot in self.guild.bots:
                own = found.get(bot.id) or Overwrite(bot.id, MEMBER_OVERWRITE)
                found[bot.id] = Overwrite(bot.id, MEMBER_OVERWRITE, own.allow & ~self.bot_denied,
                                          own.deny | self.bot_denied)
        return sorted(found.values(), key=lambda o: o.id != self.guild.id)

    def permissions_of(self, user_id: int) -> int:
        """What ``user_id`` may do in this channel (Discord's computation, see ``permissions``)."""
        overwrites = {o.id: o for o in self.permission_overwrites()}
        membership = self.guild.memberships.get(user_id)
        roles = membership.roles if membership else []
        return channel_permissions(
            self.guild.permissions_of(user_id), everyone=overwrites.get(self.guild.id),
            roles=[overwrites[r] for r in roles if r in overwrites and overwrites[r].type == ROLE_OVERWRITE],
            member=overwrites.get(user_id) if user_id in overwrites and overwrites[user_id].type == MEMBER_OVERWRITE
            else None,
            voice=self.is_voice,
        )

    def allows(self, user_id: int, permission: int) -> bool:
        return self.permissions_of(user_id) & permission == permission

    # DAVE faults and waits of this channel's call (kept here so scenarios read naturally).
    async def force_dave_epoch_change(self) -> None:
        """Re-key the channel's DAVE group: every participant gets a new epoch (re-adds one member)."""
        await self.guild.links.calls.force_dave_epoch_change(self.id)

    async def send_forged_dave_proposal(self, member: SimMember) -> None:
        """Fault: send ``member`` an MLS proposal signed with a key that is not the external sender's."""
        await self.guild.links.calls.send_forged_dave_proposal(self.id, member.id)

    def corrupt_next_dave_commit(self, user_id: int) -> None:
        """Fault: the next MLS commit or welcome this channel's voice server sends ``user_id`` (a real client)
        arrives with one bit flipped; the client must report op 31 and get re-added."""
        self.guild.links.calls.corrupt_next_dave_commit(user_id)

    async def wait_dave_settled(self, timeout: float = 10.0) -> None:
        """Wait until every participant of this voice channel is in the same DAVE epoch with nothing pending."""
        await self.guild.links.calls.wait_dave_settled(self.id, timeout)


@dataclass(eq=False)
class SimGuild:
    """A guild with its channels, members (people and bots) and voice states."""

    id: int
    name: str
    owner_id: int
    links: SceneLinks
    channels: dict[int, SimChannel] = field(default_factory=dict)
    memberships: dict[int, Membership] = field(default_factory=dict)
    voice_states: dict[int, VoiceState] = field(default_factory=dict)
    bots: list[SimBot] = field(default_factory=list)
    members: dict[int, SimMember] = field(default_factory=dict)
    roles: dict[int, SimRole] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.roles.setdefault(self.id, SimRole(self.id, "@everyone", DEFAULT_PERMISSIONS))

    # --- roles and permissions ------------------------------------------------------------------------------

    @property
    def everyone(self) -> SimRole:
        return self.roles[self.id]

    @property
    def bot_permissions(self) -> int:
        """@everyone's permissions (the name from when bots had no roles): clear CHANGE_NICKNAME for 403s."""
        return self.everyone.permissions

    @bot_permissions.setter
    def bot_permissions(self, permissions: int) -> None:
        self.edit_role(self.everyone, permissions=permissions)

    def create_role(self, name: str, *, permissions: int = 0) -> SimRole:
        """A role (GUILD_ROLE_CREATE); give it with :meth:`add_role` or ``member.add_role``."""
        role = SimRole(new_snowflake(), name, permissions, position=len(self.roles))
        self.roles[role.id] = role
        self.links.events.role_created(self, role)
        return role

    def edit_role(self, role: SimRole, *, permissions: int) -> None:
        role.permissions = permissions
        self.links.events.role_updated(self, role)

    def add_role(self, user: SimUser | SimMember, role: SimRole) -> None:
        """Give a member or bot of this guild a role (GUILD_MEMBER_UPDATE)."""
        membership = self.memberships[user.id]
        if role.id != self.id and role.id not in membership.roles:
            membership.roles.append(role.id)
            self.links.events.member_updated(self, user.id)

    def remove_role(self, user: SimUser | SimMember, role: SimRole) -> None:
        membership = self.memberships[user.id]
        if role.id in membership.roles:
            membership.roles.remove(role.id)
            self.links.events.member_updated(self, user.id)

    def permissions_of(self, user_id: int) -> int:
        """A member's guild-wide permissions (owner: all; @everyone plus their roles)."""
        membership = self.memberships.get(user_id)
        roles = [self.roles[r].permissions for r in (membership.roles if membership else []) if r in self.roles]
        return base_permissions(self.everyone.permissions, roles, owner=user_id == self.owner_id)

    # --- channels and members ----------------------------------------------------------------------------------

    def create_text_channel(self, name: str) -> SimChannel:
        return self._add_channel(name, TEXT_CHANNEL)

    def create_voice_channel(self, name: str) -> SimChannel:
        return self._add_channel(name, VOICE_CHANNEL)

    def _add_channel(self, name: str, kind: int) -> SimChannel:
        channel = SimChannel(id=new_snowflake(), guild=self, name=name, type=kind, position=len(self.channels))
        self.channels[channel.id] = channel
        self.links.events.channel_created(channel)
        return channel

    def add_member(self, name: str, *, global_name: str | None = None) -> SimMember:
        """A simulated person in this guild (they can join voice, speak, type, invoke slash commands)."""
        user = SimUser(id=new_snowflake(), name=name, global_name=global_name)
        self.memberships[user.id] = Membership(user=user, joined_at=snowflake_time_iso(user.id))
        member = SimMember(user=user, guild=self, index=len(self.members))
        self.members[user.id] = member
        self.links.events.member_added(member)
        return member

    def add_bot(self, bot: SimBot) -> None:
        if bot not in self.bots:
            self.bots.append(bot)
            self.memberships[bot.id] = Membership(user=bot, joined_at=snowflake_time_iso(new_snowflake()))

    def bot_nickname(self, bot: SimBot) -> str | None:
        membership = self.memberships.get(bot.id)
        return membership.nick if membership else None

    def voice_channel_of(self, user_id: int) -> int | None:
        state = self.voice_states.get(user_id)
        return state.channel_id if state else None


@dataclass(eq=False)
class SimMember:
    """A simulated person in a guild. ``index`` (order of creation) picks the tone: 300 Hz, 400 Hz, 500 Hz, ..."""

    user: SimUser
    guild: SimGuild
    index: int
    received_audio: dict[int, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    undecryptable: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    sent_frames: list[bytes] = field(default_factory=list)
    channel: SimChannel | None = None
    dave: SimulatedDaveMember | None = None  # while in a DAVE call (set by the voice server)
    encoder: ToneEncoder | None = None  # made on the first speak(), so a member who never speaks needs no libopus
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"member:{self.guild.name}:{self.index}")

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def tone_hz(self) -> float:
        return tone_for(self.index)

    @property
    def dave_session(self) -> Any:
        """The member's ``davey.DaveSession`` while in a DAVE call (None otherwise)."""
        return self.dave.session if self.dave is not None else None

    async def join_voice(self, channel: SimChannel) -> None:
        await self.guild.links.members.join_voice(self, channel)

    async def move_voice(self, channel: SimChannel) -> None:
        await self.guild.links.members.join_voice(self, channel)

    async def leave_voice(self) -> None:
        await self.guild.links.members.leave_voice(self)

    async def speak(self, seconds: float = 1.0, *, realtime: bool = True, silence_frames: int | None = None
                    ) -> list[bytes]:
        """Send ``seconds`` of this member's tone as 20 ms Opus frames; returns the plaintext frames sent.

        ``realtime`` paces frames every 20 ms as a real client does; otherwise they go out back to back (with a
        yield every few frames). ``silence_frames`` ``F8 FF FE`` frames follow, as real clients send five when they
        stop talking (default: the simulator's ``trailing_silence_frames``; not in the returned frames). Waits for
        the member's DAVE session first when the call uses DAVE.
        """
        return await self.guild.links.members.speak(self, seconds, realtime=realtime, silence_frames=silence_frames)

    def encrypt_frame(self, frame: bytes) -> bytes:
        if self.dave is not None and self.dave.ready:
            return bytes(self.dave.encrypt_opus(frame))
        return frame  # alone in the call, or mid re-key: what a client without keys sends

    def receive_frame(self, sender_id: int, payload: bytes) -> None:
        """A frame another participant sent (DAVE layer intact): decrypt it the way a real client would."""
        if self.dave is None or self.dave.session is None:
            self.received_audio[sender_id].append(payload)
            return
        try:
            plain = self.dave.decrypt(sender_id, payload)
        except (ValueError, RuntimeError):
            self.undecryptable[sender_id] += 1
            return
        self.received_audio[sender_id].append(bytes(plain))

    def add_role(self, role: SimRole) -> None:
        self.guild.add_role(self, role)

    def remove_role(self, role: SimRole) -> None:
        self.guild.remove_role(self, role)

    async def send_message(self, channel: SimChannel, content: str) -> dict[str, Any]:
        """Post a message as this member; bots in the guild get MESSAGE_CREATE."""
        if channel.guild is not self.guild:
            raise ValueError(f"{channel.name} is not in {self.guild.name}")
        return await self.guild.links.members.send_message(self, channel, content)

    async def invoke_slash_command(
        self, bot: SimBot, name: str, options: dict[str, Any] | None = None, *, channel: SimChannel
    ) -> SimInteraction:
        """Invoke ``/name`` of ``bot`` in ``channel``; await ``.wait_response()`` on the result for the answer."""
        return await self.guild.links.members.invoke_slash_command(self, bot, name, options or {}, channel)


@dataclass(eq=False)
class SimInteraction:
    """An interaction the simulator sent to a bot; await :meth:`wait_response` for the bot's first answer."""

    id: int
    token: str
    bot: SimBot
    user: SimUser
    channel: SimChannel
    command: str
    options: dict[str, Any]
    responded: bool = False
    original_message_id: int | None = None
    responses: list[InteractionResponse] = field(default_factory=list)
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_response(self, timeout: float = 10.0) -> InteractionResponse:
        await asyncio.wait_for(self.answered.wait(), timeout)
        return self.responses[0]


# --- what scenario methods ask of the running simulator ----------------------------------------------------------


class GuildEvents(Protocol):
    """Changes made through the scenario API that connected bots must hear about."""

    def channel_created(self, channel: SimChannel) -> None: ...

    def member_added(self, member: SimMember) -> None: ...

    def member_updated(self, guild: SimGuild, user_id: int) -> None: ...

    def channel_updated(self, channel: SimChannel) -> None: ...

    def role_created(self, guild: SimGuild, role: SimRole) -> None: ...

    def role_updated(self, guild: SimGuild, role: SimRole) -> None: ...


class MemberActions(Protocol):
    """What a simulated member does in the world: voice, speech, messages, slash commands."""

    async def join_voice(self, member: SimMember, channel: SimChannel) -> None: ...

    async def leave_voice(self, member: SimMember) -> None: ...

    async def speak(self, member: SimMember, seconds: float, *, realtime: bool, silence_frames: int | None
                    ) -> list[bytes]: ...

    async def send_message(self, member: SimMember, channel: SimChannel, content: str) -> dict[str, Any]: ...

    async def invoke_slash_command(self, member: SimMember, bot: SimBot, name: str, options: dict[str, Any],
                                   channel: SimChannel) -> SimInteraction: ...


class CallControls(Protocol):
    """DAVE faults and waits on a voice channel's call."""

    async def force_dave_epoch_change(self, channel_id: int) -> None: ...

    async def send_forged_dave_proposal(self, channel_id: int, user_id: int) -> None: ...

    def corrupt_next_dave_commit(self, user_id: int) -> None: ...

    async def wait_dave_settled(self, channel_id: int, timeout: float) -> None: ...


@dataclass(frozen=True)
class SceneLinks:
    """How a guild's objects reach the running simulator (given to :class:`SimGuild` by the facade)."""

    events: GuildEvents
    members: MemberActions
    calls: CallControls
