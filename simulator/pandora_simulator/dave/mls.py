"""The MLS (RFC 9420) messages the DAVE voice gateway writes and reads, for DAVE protocol version 1
(ciphersuite 2: DHKEMP256_AES128GCM_SHA256_P256, basic credentials).

Hand-written because no maintained Python MLS library exists; the gateway's share of MLS is small:
- write: the external-sender package (op 25) and external Add/Remove proposals (op 27) as signed PublicMessages;
- read: KeyPackages (op 26: who is it, is it signed), commits (op 28: which epoch, which proposal refs, who
  committed, where the message ends) and Welcomes (op 28/30: which KeyPackage each secret is for).
Signatures use the ``cryptography`` package: ECDSA P-256 with SHA-256, DER-encoded, as MLS ciphersuite 2 does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .encoding import DecodeError, Reader, opaque, u8, u16, u32, u64

MLS_10 = 1
CIPHERSUITE_P256 = 2
CREDENTIAL_BASIC = 1

WIRE_PUBLIC_MESSAGE = 1
WIRE_WELCOME = 3
WIRE_KEY_PACKAGE = 5

SENDER_MEMBER = 1
SENDER_EXTERNAL = 2

CONTENT_PROPOSAL = 2
CONTENT_COMMIT = 3

PROPOSAL_ADD = 1
PROPOSAL_REMOVE = 3

PROPOSAL_OR_REF_INLINE = 1
PROPOSAL_OR_REF_REFERENCE = 2

LEAF_SOURCE_KEY_PACKAGE = 1
LEAF_SOURCE_UPDATE = 2
LEAF_SOURCE_COMMIT = 3

GATEWAY_IDENTITY = b"pandora-simulator-voice-gateway"


class InvalidMessage(ValueError):
    """An MLS message the gateway refuses (malformed, wrong group or epoch, bad signature, ...)."""


# --- signatures and hashes (RFC 9420 §5.1.2, §5.2) ---


def sign_with_label(key: ec.EllipticCurvePrivateKey, label: str, content: bytes) -> bytes:
    return key.sign(_sign_content(label, content), ec.ECDSA(hashes.SHA256()))


def verify_with_label(public_key: bytes, label: str, content: bytes, signature: bytes) -> bool:
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
        key.verify(signature, _sign_content(label, content), ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def _sign_content(label: str, content: bytes) -> bytes:
    return opaque(b"MLS 1.0 " + label.encode()) + opaque(content)


def ref_hash(label: str, value: bytes) -> bytes:
    return hashlib.sha256(opaque(label.encode()) + opaque(value)).digest()


def public_key_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 65-byte uncompressed P-256 point MLS uses as a SignaturePublicKey."""
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def user_identity(user_id: int) -> bytes:
    """DAVE basic credentials carry the user's snowflake as a big-endian u64."""
    return u64(user_id)


def group_id(channel_id: int) -> bytes:
    """DAVE's MLS group id is the channel snowflake as a big-endian u64."""
    return u64(channel_id)


# --- what the gateway writes ---


def external_sender(key: ec.EllipticCurvePrivateKey, identity: bytes = GATEWAY_IDENTITY) -> bytes:
    """ExternalSender (RFC 9420 §12.1.8.1): signature_key<V> || Credential(basic, identity<V>)."""
    return opaque(public_key_bytes(key)) + u16(CREDENTIAL_BASIC) + opaque(identity)


def add_proposal(key_package: bytes) -> bytes:
    """Proposal{add, KeyPackage} -- ``key_package`` is the bare KeyPackage, not the MLSMessage around it."""
    return u16(PROPOSAL_ADD) + key_package


def remove_proposal(leaf_index: int) -> bytes:
    return u16(PROPOSAL_REMOVE) + u32(leaf_index)


@dataclass(frozen=True)
class SignedProposal:
    message: bytes  # the MLSMessage (PublicMessage) sent in op 27
    ref: bytes  # its ProposalRef, which commits cite and op 27 revokes name


def external_proposal(
    key: ec.EllipticCurvePrivateKey, channel_id: int, epoch: int, proposal: bytes, sender_index: int = 0
) -> SignedProposal:
    """An external proposal as a PublicMessage (RFC 9420 §6): sender external(sender_index), no membership tag."""
    content = (
        opaque(group_id(channel_id))
        + u64(epoch)
        + u8(SENDER_EXTERNAL)
        + u32(sender_index)
        + opaque(b"")  # authenticated_data
        + u8(CONTENT_PROPOSAL)
        + proposal
    )
    # FramedContentTBS for an external sender has no GroupContext.
    tbs = u16(MLS_10) + u16(WIRE_PUBLIC_MESSAGE) + content
    auth = opaque(sign_with_label(key, "FramedContentTBS", tbs))  # proposals carry no confirmation tag
    message = u16(MLS_10) + u16(WIRE_PUBLIC_MESSAGE) + content + auth
    authenticated_content = u16(WIRE_PUBLIC_MESSAGE) + content + auth
    return SignedProposal(message, ref_hash("MLS 1.0 Proposal Reference", authenticated_content))


# --- what the gateway reads ---


@dataclass(frozen=True)
class LeafNode:
    signature_key: bytes
    credential_type: int
    identity: bytes
    lifetime: tuple[int, int] | None  # (not_before, not_after) of a key package's leaf


def _read_leaf_node(r: Reader) -> tuple[LeafNode, bytes, bytes]:
    """Returns the leaf, its to-be-signed bytes and its signature."""
    start = r.offset
    r.opaque()  # encryption_key
    signature_key = r.opaque()
    credential_type = r.u16()
    if credential_type != CREDENTIAL_BASIC:
        raise InvalidMessage(f"credential type {credential_type} is not basic")
    identity = r.opaque()
    for _ in range(5):  # capabilities: versions, cipher_suites, extensions, proposals, credentials
        r.opaque()
    source = r.u8()
    lifetime = None
    if source == LEAF_SOURCE_KEY_PACKAGE:
        lifetime = (r.u64(), r.u64())
    elif source == LEAF_SOURCE_COMMIT:
        r.opaque()  # parent_hash
    elif source != LEAF_SOURCE_UPDATE:
        raise InvalidMessage(f"unknown leaf node source {source}")
    r.opaque()  # extensions
    tbs = r.data[start : r.offset]
    signature = r.opaque()
    return LeafNode(signature_key, credential_type, identity, lifetime), tbs, signature


@dataclass(frozen=True)
class KeyPackage:
    raw: bytes  # the bare KeyPackage (what an Add proposal carries)
    leaf: LeafNode
    ref: bytes  # KeyPackageRef, which Welcome secrets are addressed to

    @property
    def user_id(self) -> int:
        return int.from_bytes(self.leaf.identity, "big")


def parse_key_package_message(message: bytes) -> KeyPackage:
    """Parse and verify the KeyPackage of op 26 (both the KeyPackage and the leaf node signatures).

    The DAVE document says op 26 carries an MLSMessage, but davey (like libdave) sends the bare KeyPackage;
    both are accepted: the second u16 tells them apart (wire format 5 vs ciphersuite 2).
    """
    try:
        r = Reader(message)
        wrapped = message[2:4] == u16(WIRE_KEY_PACKAGE)
        if wrapped and (r.u16() != MLS_10 or r.u16() != WIRE_KEY_PACKAGE):
            raise InvalidMessage("not an MLS 1.0 KeyPackage message")
        start = r.offset
        if r.u16() != MLS_10:
            raise InvalidMessage("KeyPackage version is not MLS 1.0")
        if r.u16() != CIPHERSUITE_P256:
            raise InvalidMessage("KeyPackage ciphersuite is not DHKEMP256_AES128GCM_SHA256_P256")
        r.opaque()  # init_key
        leaf, leaf_tbs, leaf_signature = _read_leaf_node(r)
        r.opaque()  # extensions
        tbs = r.data[start : r.offset]
        signature = r.opaque()
        if r.remaining:
            raise InvalidMessage("trailing bytes after the KeyPackage")
    except DecodeError as exc:
        raise InvalidMessage(f"malformed KeyPackage: {exc}") from exc
    if len(leaf.identity) != 8:
        raise InvalidMessage("basic credential identity is not a u64 user id")
    if leaf.lifetime != (0, 2**64 - 1):
        raise InvalidMessage(f"key package lifetime {leaf.lifetime} is not the maximum span DAVE requires")
    if not verify_with_label(leaf.signature_key, "LeafNodeTBS", leaf_tbs, leaf_signature):
        raise InvalidMessage("KeyPackage leaf node signature does not verify")
    if not verify_with_label(leaf.signature_key, "KeyPackageTBS", tbs, signature):
        raise InvalidMessage("KeyPackage signature does not verify")
    raw = message[start:]
    return KeyPackage(raw, leaf, ref_hash("MLS 1.0 KeyPackage Reference", raw))


@dataclass(frozen=True)
class Commit:
    raw: bytes  # the commit MLSMessage, exactly as received
    group_id: bytes
    epoch: int
    committer_leaf: int
    proposal_refs: tuple[bytes, ...]
    has_inline_proposals: bool
    path_leaf: LeafNode | None  # the committer's new leaf node, when the commit has an UpdatePath


def read_commit(r: Reader) -> Commit:
    """Read one MLSMessage(PublicMessage(commit)) from ``r``, leaving ``r`` just after it."""
    start = r.offset
    try:
        if r.u16() != MLS_10 or r.u16() != WIRE_PUBLIC_MESSAGE:
            raise InvalidMessage("commit is not an MLS 1.0 PublicMessage")
        gid = r.opaque()
        epoch = r.u64()
        if r.u8() != SENDER_MEMBER:
            raise InvalidMessage("commit sender is not a member")
        leaf_index = r.u32()
        r.opaque()  # authenticated_data
        if r.u8() != CONTENT_COMMIT:
            raise InvalidMessage("message is not a commit")
        proposals = r.vector()
        refs: list[bytes] = []
        inline = False
        while proposals.remaining:
            kind = proposals.u8()
            if kind == PROPOSAL_OR_REF_REFERENCE:
                refs.append(proposals.opaque())
            else:
                inline = True  # never valid in DAVE; the rest of the vector need not be understood
                break
        path_leaf = None
        if r.u8() == 1:  # optional<UpdatePath>
            path_leaf, _, _ = _read_leaf_node(r)
            r.opaque()  # nodes
        r.opaque()  # signature
        r.opaque()  # confirmation_tag
        r.opaque()  # membership_tag (member sender)
    except DecodeError as exc:
        raise InvalidMessage(f"malformed commit: {exc}") from exc
    return Commit(r.data[start : r.offset], gid, epoch, leaf_index, tuple(refs), inline, path_leaf)


@dataclass(frozen=True)
class Welcome:
    wrapped: bool  # whether it came inside an MLSMessage (davey sends the bare Welcome, as DAVE 1.1.2 says)
    cipher_suite: int
    secrets: dict[bytes, bytes]  # KeyPackageRef -> the encoded EncryptedGroupSecrets for that member
    encrypted_group_info: bytes

    def for_member(self, key_package_ref: bytes) -> bytes:
        """The Welcome MLSMessage narrowed to one member's secrets, as the DAVE gateway sends in op 30."""
        header = u16(MLS_10) + u16(WIRE_WELCOME) if self.wrapped else b""
        return (
            header + u16(self.cipher_suite) + opaque(self.secrets[key_package_ref]) + opaque(self.encrypted_group_info)
        )


def read_welcome(r: Reader) -> Welcome:
    """Read a Welcome, bare or inside an MLSMessage, leaving ``r`` just after it."""
    try:
        wrapped = r.data[r.offset : r.offset + 4] == u16(MLS_10) + u16(WIRE_WELCOME)
        if wrapped:
            r.take(4)
        cipher_suite = r.u16()
        if cipher_suite != CIPHERSUITE_P256:
            raise InvalidMessage(f"Welcome ciphersuite {cipher_suite} is not DHKEMP256_AES128GCM_SHA256_P256")
        vec = r.vector()
        secrets: dict[bytes, bytes] = {}
        while vec.remaining:
            start = vec.offset
            ref = vec.opaque()  # new_member
            vec.opaque()  # kem_output
            vec.opaque()  # ciphertext
            secrets[ref] = vec.data[start : vec.offset]
        group_info = r.opaque()
    except DecodeError as exc:
        raise InvalidMessage(f"malformed Welcome: {exc}") from exc
    return Welcome(wrapped, cipher_suite, secrets, group_info)
