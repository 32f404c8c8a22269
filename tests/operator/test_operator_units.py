"""Pure parts of the control path: names, ids, settings, claims and the bot pool (no cluster needed)."""

from __future__ import annotations

import asyncio
import json

from pandora_operator.botpool import BotPool
from pandora_operator.claims import Claims, PersistedClaim
from pandora_operator.config import OperatorConfig
from pandora_operator.model import RecordingKey, pod_name, recording_id_for


def test_recording_id_is_numeric_stable_and_fits_int64():
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert recording_id_for(uid) == recording_id_for(uid)
    assert recording_id_for(uid).isdigit()
    assert int(recording_id_for("ffffffff-ffff-ffff-ffff-ffffffffffff")) < 2**63
    assert recording_id_for(uid) != recording_id_for("1f8fad5b-d9cb-469f-a165-70867728950e")


def test_each_attempt_has_its_own_pod_name_within_label_limits():
    assert pod_name("standup", 0) == "standup-rec-0"
    assert len(pod_name("x" * 50, 999)) <= 63


def test_config_reads_resources_and_env_from_the_environment():
    config = OperatorConfig.from_env(
        {"PANDORA_RECORDER_RESOURCES": json.dumps({"limits": {"memory": "1Gi"}}), "PANDORA_STOP_GRACE_SECONDS": "9"}
    )
    assert config.resources == {"limits": {"memory": "1Gi"}}
    assert config.stop_grace_seconds == 9
    assert config.location(None, None, "42") == "dapr://pandora-recordings/recordings/42/"


def test_claims_rebuilt_from_statuses_keep_bots_and_channels_taken():
    first, second, third = (RecordingKey("ns", name) for name in ("a", "b", "c"))
    claims = Claims()
    claims.seed([PersistedClaim(first, "g", "chan-1", "alpha")])
    claims.seed([PersistedClaim(second, "g", "chan-1", "beta")])  # only the first seed counts
    assert claims.claim_channel("chan-1", second) == first
    assert not claims.claim_bot("g", "alpha", second)
    assert claims.claim_bot("other-guild", "alpha", second)
    claims.release(first)
    assert claims.claim_channel("chan-1", third) == third
    assert claims.claim_bot("g", "alpha", third)


def test_bot_pool_picks_a_free_bot_and_says_who_holds_the_busy_ones():
    async def keys(namespace: str, name: str) -> list[str]:
        return ["beta", "alpha"]

    async def scenario():
        pool, claims = BotPool("pandora-bots", keys), Claims()
        chosen = [await pool.choose(claims, RecordingKey("ns", n), "g", None) for n in ("a", "b", "c")]
        return chosen

    first, second, third = asyncio.run(scenario())
    assert (first.bot, second.bot, third.bot) == ("alpha", "beta", None)
    assert "alpha (ns/a)" in third.reason and "beta (ns/b)" in third.reason


def test_extra_recorder_env_can_never_carry_a_token():
    config = OperatorConfig.from_env(
        {"PANDORA_RECORDER_ENV": json.dumps({"PANDORA_TOKEN": "literal", "PANDORA_DISCORD_CA_FILE": "/ca.pem"})}
    )
    assert config.recorder_env == {"PANDORA_DISCORD_CA_FILE": "/ca.pem"}
