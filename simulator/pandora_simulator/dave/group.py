"""The voice gateway's side of DAVE for one voice channel: the MLS delivery service and external sender.

``DaveChannelGroup`` is a transport-free state machine. The voice server calls ``connect``/``disconnect`` as
DAVE-capable participants come and go and ``receive`` for each client DAVE message (ops 23, 26, 28, 31); every
call returns the ``Outgoing`` messages to send, in order. The server owns framing and sequence numbers.

What it tracks, like Discord's gateway: the group id (the channel), the epoch, every member's MLS leaf index
(derived only from commits it accepted: removes blank a leaf, adds take the leftmost blank leaf or extend the
tree, RFC 9420 §7.7/§12.1), pending members' key packages, the in-flight proposals of the current epoch and who
received them, and the transition waiting for members to be ready.

A round, once the group exists: proposals (op 27) go to the members that confirmed the latest commit (op 23);
the first commit (op 28) that references exactly the proposals its sender got wins the epoch and is announced
(op 29, welcomes op 30) as soon as every member holds those proposals; then the next round starts. Members
that reset (op 31, or op 24 from the gateway) are removed and re-added with the key package they send next;
from the moment the gateway processes their op 31 they get only their welcome (op 30) and op 22 - an op 27 or
op 29 they receive after resetting was sent before the gateway knew (tests/simulator/dave/test_dave_member_reset.py).
Real clients' races (a member failing a commit while the gateway still counts it in) end in op 31 recovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from pandora.logging import get_logger

from . import mls, payloads
from .encoding import DecodeError, Reader

log = get_logger(__name__)

DAVE_PROTOCOL_VERSION = 1
# How long a gateway waits for op 23 before executing a transition anyway (DAVE: "or after a timeout"); the
# server calls ``execute_pending_transition`` when it expires.
TRANSITION_TIMEOUT_SECONDS = 2.0


class StaleCommit(mls.InvalidMessage):
    """A commit for another epoch than the group's (usually one that lost the race)."""


@dataclass(frozen=True)
class Outgoing:
    """One message for one participant. JSON ops (21, 22, 24) carry the ``d`` dict; binary ops (25, 27, 29, 30)
    carry the payload that follows the opcode byte (see ``payloads`` for layouts)."""

    user_id: int
    opcode: int
    payload: dict[str, Any] | bytes


@dataclass
class _Proposal:
    signed: mls.SignedProposal
    user_id: int  # who is added or removed
    leaf: int | None = None  # the leaf a remove empties
    key_package: mls.KeyPackage | None = None  # what an add brings in
    recipients: set[int] = field(default_factory=set)

    @property
    def is_add(self) -> bool:
        return self.key_package is not None


@dataclass
class _ChosenCommit:
    committer: int
    commit: mls.Commit
    welcome: mls.Welcome | None
    proposals: list[_Proposal]


@dataclass
class _Transition:
    transition_id: int
    waiting: set[int]  # members who have not yet sent op 23


class DaveChannelGroup:
    """DAVE protocol v1 for one voice channel, seen from the voice gateway.

    ``connect`` only participants whose identify had ``max_dave_protocol_version >= 1`` (mixed sessions that
    downgrade to transport-only encryption are not simulated). ``protocol_version`` is what op 4
    ``dave_protocol_version`` should announce.
    """

    def __init__(
        self,
        channel_id: int,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        *,
        protocol_version: int = DAVE_PROTOCOL_VERSION,
    ) -> None:
        self.channel_id = channel_id
        self.signing_key = signing_key or ec.generate_private_key(ec.SECP256R1())
        self.protocol_version = protocol_version
        self.external_sender_package = mls.external_sender(self.signing_key)
        self.epoch = 0  # epoch of the established group; 0 while no group is established
        self.transition_id = 0  # the last transition id announced by op 29/30
        self.rejected: list[str] = []  # why key packages or commits were refused, oldest first
        self._connected: list[int] = []
        self._leaves: list[int | None] = []  # leaf index -> user id
        self._key_packages: dict[int, mls.KeyPackage] = {}  # pending members' latest key packages
        # Key packages still to come per user: one answers each op 4 (before connect), op 24 with epoch 1 and
        # op 31. A key package is only proposed when none is due: an older one would get a useless welcome.
        self._key_packages_due: dict[int, int] = {}
        self._signature_keys: dict[int, bytes] = {}  # member -> leaf signature key it joined with
        self._stale: set[int] = set()  # members whose leaf must go (they reset their MLS state); re-added later
        self._confirmed: set[int] = set()  # members that sent op 23 for the latest commit: they hold its epoch
        self._chosen: _ChosenCommit | None = None  # this epoch's winning commit, until every member can take it
        self._proposals: list[_Proposal] = []  # in flight in the current epoch
        self._transition: _Transition | None = None

    # --- what the server and tests can read ---

    @property
    def established(self) -> bool:
        return self.epoch > 0

    @property
    def members(self) -> list[int]:
        """Users in the MLS group, in leaf order (as of the last accepted commit)."""
        return [user for user in self._leaves if user is not None]

    @property
    def connected(self) -> list[int]:
        return list(self._connected)

    def leaf_index(self, user_id: int) -> int | None:
        return self._leaves.index(user_id) if user_id in self._leaves else None

    @property
    def settled(self) -> bool:
        """Nothing in flight: every connected participant is in the group at the current epoch (or a lone
        participant waits for company), no proposals are outstanding and no transition awaits execution."""
        if self._transition is not None:
            return False
        if len(self._connected) <= 1:
            return not self.established
        if not self.established or self._proposals or self._chosen is not None:
            return False
        return sorted(self._active()) == sorted(self._connected)

    @property
    def pending_transition_id(self) -> int | None:
        """The transition announced but not yet executed (op 22), if any."""
        return self._transition.transition_id if self._transition else None

    # --- participants ---

    def connect(self, user_id: int) -> list[Outgoing]:
        """A DAVE-capable participant finished identify/select protocol (send after op 4)."""
        if user_id in self._connected:
            return []
        self._connected.append(user_id)
        self._key_packages_due[user_id] = 1  # the one answering op 4
        if user_id in self._leaves:  # back before its old leaf was removed: that leaf is stale now
            self._stale.add(user_id)
        out = [Outgoing(user_id, payloads.EXTERNAL_SENDER, self.external_sender_package)]
        if not self.established:
            # Initial group creation: a newcomer gets the adds already in flight for the other pending members.
            waiting = [p for p in self._proposals if p.is_add and p.user_id != user_id and p.user_id in self._connected]
            for proposal in waiting:
                proposal.recipients.add(user_id)
            if waiting:
                body = payloads.proposals_append([p.signed.message for p in waiting])
                out.append(Outgoing(user_id, payloads.PROPOSALS, body))
        return out + self._reconcile()

    def disconnect(self, user_id: int) -> list[Outgoing]:
        """A participant left the voice channel or its websocket closed."""
        if user_id not in self._connected:
            return []
        self._connected.remove(user_id)
        self._key_packages.pop(user_id, None)
        self._key_packages_due.pop(user_id, None)
        self._stale.discard(user_id)
        out = self._mark_ready(user_id, None)
        if not self._connected:
            self._reset_group()
            return out
        return out + self._reconcile()

    # --- client messages ---

    def receive(self, user_id: int, opcode: int, payload: bytes | dict[str, Any]) -> list[Outgoing]:
        """Handle a client DAVE message: ops 23 and 31 with their ``d`` dict, ops 26 and 28 with the bytes
        after the opcode byte. Unknown or unexpected messages are ignored (returns [])."""
        if user_id not in self._connected:
            return []
        if opcode == payloads.READY_FOR_TRANSITION and isinstance(payload, dict):
            transition_id = int(payload["transition_id"])
            return self._mark_ready(user_id, transition_id) + self._confirm(user_id, transition_id)
        if opcode == payloads.KEY_PACKAGE and isinstance(payload, bytes | bytearray):
            return self._on_key_package(user_id, bytes(payload))
        if opcode == payloads.COMMIT_WELCOME and isinstance(payload, bytes | bytearray):
            return self._on_commit_welcome(user_id, bytes(payload))
        if opcode == payloads.INVALID_COMMIT_WELCOME and isinstance(payload, dict):
            log.info(
                "dave invalid commit/welcome reported", user_id=user_id, transition_id=payload.get("transition_id")
            )
            self._key_packages_due[user_id] = self._key_packages_due.get(user_id, 0) + 1
            return self._member_reset(user_id)
        return []

    def _on_key_package(self, user_id: int, payload: bytes) -> list[Outgoing]:
        try:
            key_package = mls.parse_key_package_message(payload)
            if key_package.user_id != user_id:
                raise mls.InvalidMessage(f"key package is for user {key_package.user_id}")
        except mls.InvalidMessage as exc:
            return self._refuse(user_id, f"key package: {exc}")
        out: list[Outgoing] = []
        if user_id in self._leaves and user_id not in self._stale:
            self._stale.add(user_id)  # a member that sends a key package has reset its group state
            out += self._mark_ready(user_id, None)
        self._key_packages[user_id] = key_package
        self._key_packages_due[user_id] = max(self._key_packages_due.get(user_id, 0) - 1, 0)
        return out + self._reconcile()

    def _member_reset(self, user_id: int) -> list[Outgoing]:
        """The member dropped its MLS state (op 31, or a forced re-key): remove its leaf, re-add its next
        key package."""
        self._key_packages.pop(user_id, None)
        if user_id in self._leaves:
            self._stale.add(user_id)
        return self._mark_ready(user_id, None) + self._reconcile()

    # --- commits ---

    def _on_commit_welcome(self, user_id: int, payload: bytes) -> list[Outgoing]:
        try:
            commit, welcome, chosen = self._check_commit(user_id, payload)
        except StaleCommit as exc:  # lost the race for this epoch: routine
            self.rejected.append(f"user {user_id}: commit: {exc}")
            log.debug("dave commit for a past epoch ignored", user_id=user_id, reason=str(exc))
            return []
        except (mls.InvalidMessage, DecodeError) as exc:
            return self._refuse(user_id, f"commit: {exc}")
        if self._chosen is not None:
            self.rejected.append(f"user {user_id}: commit: epoch {self.epoch} already has its commit")
            return []
        self._chosen = _ChosenCommit(user_id, commit, welcome, chosen)
        return self._release()

    def _release(self) -> list[Outgoing]:
        """Broadcast the chosen commit once every member it goes to holds the proposals it references.

        A member holds them once it confirmed the previous commit (op 23) and got the proposals sent since;
        the gateway waits for that rather than announce a commit a slow member could not yet process.
        """
        chosen = self._chosen
        if chosen is None:
            return []
        if self.established:
            for user in self._active():
                if user not in self._confirmed or any(user not in p.recipients for p in chosen.proposals):
                    return []
        self._chosen = None
        return self._apply(chosen)

    def _apply(self, chosen_commit: _ChosenCommit) -> list[Outgoing]:
        user_id, commit, welcome = chosen_commit.committer, chosen_commit.commit, chosen_commit.welcome
        chosen = chosen_commit.proposals
        out = self._execute_transition()
        senders = [user_id] if not self.established else self._active()
        if not self.established:
            self._leaves = [user_id]
            own = self._key_packages.pop(user_id, None)
            self._signature_keys = {user_id: own.leaf.signature_key} if own else {}
        # RFC 9420 §12.3: removes are applied before adds; each add takes the leftmost blank leaf.
        for proposal in chosen:
            if not proposal.is_add and proposal.leaf is not None:
                self._leaves[proposal.leaf] = None
                self._stale.discard(proposal.user_id)
        added: list[mls.KeyPackage] = []
        for proposal in chosen:
            key_package = proposal.key_package
            if key_package is None:
                continue
            self._place(proposal.user_id)
            self._signature_keys[proposal.user_id] = key_package.leaf.signature_key
            if self._key_packages.get(proposal.user_id) is key_package and proposal.user_id in self._connected:
                del self._key_packages[proposal.user_id]  # consumed: the welcome is on its way
                added.append(key_package)
            else:
                self._stale.add(proposal.user_id)  # left or reset since: its leaf goes in the next round
        while self._leaves and self._leaves[-1] is None:
            self._leaves.pop()
        self.epoch += 1
        self.transition_id = self.transition_id % 0xFFFF + 1
        self._proposals = []
        log.info("dave commit accepted", committer=user_id, epoch=self.epoch, transition_id=self.transition_id)
        announce = payloads.with_transition(self.transition_id, commit.raw)
        out += [Outgoing(u, payloads.ANNOUNCE_COMMIT_TRANSITION, announce) for u in senders if u in self._leaves]
        for key_package in added:
            assert welcome is not None
            body = payloads.with_transition(self.transition_id, welcome.for_member(key_package.ref))
            out.append(Outgoing(key_package.user_id, payloads.WELCOME, body))
        self._transition = _Transition(self.transition_id, set(self._active()))
        self._confirmed = set()
        return out + self._reconcile()

    def _check_commit(self, user_id: int, payload: bytes) -> tuple[mls.Commit, mls.Welcome | None, list[_Proposal]]:
        """Voice gateway commit validity (DAVE "Voice Gateway Commit Validity"); raises InvalidMessage."""
        reader = Reader(payload)
        commit = mls.read_commit(reader)
        welcome = mls.read_welcome(reader) if reader.remaining else None
        if reader.remaining:
            raise mls.InvalidMessage("trailing bytes after the welcome")
        if commit.group_id != mls.group_id(self.channel_id):
            raise mls.InvalidMessage("commit is for another group")
        if commit.epoch != self.epoch:
            raise StaleCommit(f"commit is for epoch {commit.epoch}, group is at {self.epoch}")
        expected_leaf = self.leaf_index(user_id) if self.established else 0
        if user_id in self._stale or expected_leaf is None or commit.committer_leaf != expected_leaf:
            raise mls.InvalidMessage("committer is not a current member at that leaf")
        if commit.has_inline_proposals:
            raise mls.InvalidMessage("commit carries inline proposals")
        if not commit.proposal_refs:
            raise mls.InvalidMessage("commit references no proposals")
        by_ref = {p.signed.ref: p for p in self._proposals if user_id in p.recipients}
        if len(set(commit.proposal_refs)) != len(commit.proposal_refs) or set(commit.proposal_refs) != set(by_ref):
            raise mls.InvalidMessage("commit does not reference exactly the proposals sent to the committer")
        if commit.path_leaf is not None:
            known_key = self._signature_keys.get(user_id, commit.path_leaf.signature_key)
            if commit.path_leaf.identity != mls.user_identity(user_id) or commit.path_leaf.signature_key != known_key:
                raise mls.InvalidMessage("commit changes the committer's credential or signature key")
        chosen = [by_ref[ref] for ref in commit.proposal_refs]
        for proposal in chosen:
            if proposal.key_package is None:
                continue
            if welcome is None or proposal.key_package.ref not in welcome.secrets:
                raise mls.InvalidMessage(f"welcome has no secrets for added user {proposal.user_id}")
        return commit, welcome, chosen

    def _place(self, user_id: int) -> None:
        for index, occupant in enumerate(self._leaves):
            if occupant is None:
                self._leaves[index] = user_id
                return
        self._leaves.append(user_id)

    # --- transitions ---

    def _mark_ready(self, user_id: int, transition_id: int | None) -> list[Outgoing]:
        """Op 23 from ``user_id`` (or, with None, stop waiting for it); executes the transition when all are ready."""
        if self._transition is None:
            return []
        if transition_id is not None and transition_id != self._transition.transition_id:
            return []
        self._transition.waiting.discard(user_id)
        return [] if self._transition.waiting else self._execute_transition()

    def execute_pending_transition(self) -> list[Outgoing]:
        """The server's ready-timeout expired: send op 22 for the announced transition now, and treat members
        that have not confirmed the latest commit as if they had (they get this epoch's proposals)."""
        out = self._execute_transition()
        for user in self._active():
            out += self._confirm(user, self.transition_id)
        return out

    def _confirm(self, user_id: int, transition_id: int) -> list[Outgoing]:
        """A member processed the latest commit or welcome: from now on it gets this epoch's proposals,
        starting with those already in flight.

        Until then it gets none: a member that failed the commit or welcome has reset (its op 31 may still be
        on the way), davey raises on proposals for an epoch it does not hold, and discord.py 2.7.1 lets that
        error end its voice websocket loop.
        """
        if transition_id != self.transition_id or user_id not in self._active() or user_id in self._confirmed:
            return []
        self._confirmed.add(user_id)
        missed = [p for p in self._proposals if user_id not in p.recipients]
        for proposal in missed:
            proposal.recipients.add(user_id)
        out = []
        if missed:
            body = payloads.proposals_append([p.signed.message for p in missed])
            out.append(Outgoing(user_id, payloads.PROPOSALS, body))
        return out + self._release()

    def _execute_transition(self) -> list[Outgoing]:
        if self._transition is None:
            return []
        body = {"transition_id": self._transition.transition_id}
        self._transition = None
        return [Outgoing(u, payloads.EXECUTE_TRANSITION, dict(body)) for u in self._active()]

    # --- faults ---

    def force_epoch_change(self, user_id: int | None = None, *, recreate: bool = False) -> list[Outgoing]:
        """Test fault: make the group move to new epochs while members stay connected.

        Default: one member (``user_id``, or the one at the highest leaf) is told to start over (op 24 with
        ``epoch = 1``); it resets and sends a new key package, the others commit its removal and its re-add.
        ``recreate=True``: every participant gets op 24 ``epoch = 1`` and the group is created afresh.
        """
        prepare = {"protocol_version": self.protocol_version, "epoch": 1}
        if recreate:
            self._reset_group()
            self._key_packages.clear()
            for user in self._connected:
                self._key_packages_due[user] = self._key_packages_due.get(user, 0) + 1
            return [Outgoing(u, payloads.PREPARE_EPOCH, dict(prepare)) for u in self._connected]
        active = self._active()
        if not active:
            raise ValueError("no established group to re-key")
        target = user_id if user_id is not None else max(active, key=self._leaves.index)
        if target not in active:
            raise ValueError(f"user {target} is not an active group member")
        self._key_packages_due[target] = self._key_packages_due.get(target, 0) + 1
        return [Outgoing(target, payloads.PREPARE_EPOCH, prepare), *self._member_reset(target)]

    def forged_proposal(self, user_id: int) -> Outgoing:
        """Test fault: an op 27 for ``user_id`` proposing to remove its own leaf, signed with a key that is not the
        external sender's. davey refuses it (``ValueError ... InvalidSignature``); the group state is untouched.

        Caution: discord.py 2.7.1 does not catch that error, so its voice websocket loop ends; send this to
        simulated members only unless that is the behaviour under test.
        """
        leaf = self.leaf_index(user_id)
        if leaf is None:
            raise ValueError(f"user {user_id} has no leaf to target")
        impostor = ec.generate_private_key(ec.SECP256R1())
        forged = mls.external_proposal(impostor, self.channel_id, self.epoch, mls.remove_proposal(leaf))
        return Outgoing(user_id, payloads.PROPOSALS, payloads.proposals_append([forged.message]))

    # --- internals ---

    def _active(self) -> list[int]:
        """Members that hold the current group state: in the tree, connected, not reset."""
        return [u for u in self._leaves if u is not None and u in self._connected and u not in self._stale]

    def _reset_group(self) -> None:
        self.epoch = 0
        self._leaves = []
        self._stale.clear()
        self._confirmed.clear()
        self._chosen = None
        self._proposals = []
        self._transition = None

    def _sole_member_reset(self, user_id: int) -> list[Outgoing]:
        """DAVE "Sole member reset": no single member keeps an established group."""
        self._reset_group()
        self._key_packages.clear()
        self._key_packages_due[user_id] = self._key_packages_due.get(user_id, 0) + 1
        return [
            Outgoing(user_id, payloads.PREPARE_EPOCH, {"protocol_version": self.protocol_version, "epoch": 1}),
            Outgoing(
                user_id, payloads.PREPARE_TRANSITION, {"protocol_version": self.protocol_version, "transition_id": 0}
            ),
        ]

    def _reconcile(self) -> list[Outgoing]:
        """Propose what the group still needs (removes for gone or reset members, adds for pending key packages)
        and send the new proposals, batched into one op 27 per recipient.

        Nothing is ever revoked: davey raises on a revoke for a proposal it does not hold (a member that has
        just reset), and discord.py 2.7.1 lets that error end its voice websocket loop. A departed user's add
        is committed and its leaf removed in the next round instead. And because davey 0.1.7 leaves the
        welcome out of a commit when the latest op 27 had no add, removes wait while an add is in flight
        unless they travel with a new add.
        """
        if self.established and len(self._connected) == 1 and self._active() == self._connected:
            return self._sole_member_reset(self._connected[0])
        if self.established and not self._active():
            self._reset_group()  # nobody holds the group any more: start initial group creation again
        if self._chosen is not None:
            return self._release()  # no new proposals until this epoch's commit is out
        committers = set(self._active() if self.established else self._connected)
        if not any(p.recipients & committers for p in self._proposals):
            self._proposals = []  # nobody left who could commit these
        adds: list[_Proposal] = []
        in_flight = {p.user_id for p in self._proposals if p.is_add}
        for user in self._connected:
            key_package = self._key_packages.get(user)
            is_member = user in self._leaves and user not in self._stale
            if key_package is None or is_member or user in in_flight or self._key_packages_due.get(user, 0):
                continue
            adds.append(_Proposal(self._sign(mls.add_proposal(key_package.raw)), user_id=user, key_package=key_package))
        removes: list[_Proposal] = []
        if self.established and (adds or not in_flight):
            removing = {p.leaf for p in self._proposals if not p.is_add}
            for leaf, occupant in enumerate(self._leaves):
                if occupant is None or leaf in removing:
                    continue
                if occupant not in self._connected or occupant in self._stale:
                    removes.append(_Proposal(self._sign(mls.remove_proposal(leaf)), user_id=occupant, leaf=leaf))
        batches: dict[int, list[bytes]] = {}
        for proposal in removes + adds:
            # Established: the members commit. Initial creation: every other pending member may commit.
            others = [u for u in self._connected if u != proposal.user_id]
            recipients = [u for u in self._active() if u in self._confirmed] if self.established else others
            proposal.recipients.update(recipients)
            for user in recipients:
                batches.setdefault(user, []).append(proposal.signed.message)
        self._proposals += removes + adds
        return [Outgoing(u, payloads.PROPOSALS, payloads.proposals_append(msgs)) for u, msgs in batches.items()]

    def _sign(self, proposal: bytes) -> mls.SignedProposal:
        return mls.external_proposal(self.signing_key, self.channel_id, self.epoch, proposal)

    def _refuse(self, user_id: int, reason: str) -> list[Outgoing]:
        log.warning("dave message refused", user_id=user_id, reason=reason)
        self.rejected.append(f"user {user_id}: {reason}")
        return []
