import json

from pandora_recorder.frames import Speaker
from pandora_recorder.raw import RawRecordingWriter, RecordingInfo, file_name
from pandora_recorder.raw.format import parse_users
from pandora_recorder.raw.ogg import read_pages
from pandora_recorder.sinks import LocalFolderSink


def test_track_one_header1_is_byte_identical_to_the_reference(tmp_path, fixtures_dir, make_frame, speaker_of):
    reference = (fixtures_dir / "872660673.ogg.header1").read_bytes()
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=872660673) as writer:
        writer.submit(make_frame(101, arrival=writer.start_monotonic + 0.1))
        writer.submit(make_frame(202, arrival=writer.start_monotonic + 0.2))
    header1 = (tmp_path / "872660673.ogg.header1").read_bytes()
    first = next(read_pages(header1))
    assert header1[: first.size] == reference
    assert [p.serial for p in read_pages(header1)] == [1, 2]


def test_header2_is_an_opustags_page_with_sequence_one(tmp_path, fixtures_dir, make_frame, speaker_of):
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=5) as writer:
        writer.submit(make_frame(101, arrival=writer.start_monotonic + 0.1))
    (page,) = read_pages((tmp_path / "5.ogg.header2").read_bytes())
    (reference,) = read_pages((fixtures_dir / "872660673.ogg.header2").read_bytes())
    assert (page.flags, page.granule, page.serial, page.sequence) == (0, 0, 1, 1)
    assert (reference.flags, reference.granule, reference.serial, reference.sequence) == (0, 0, 1, 1)
    tags = page.packets[0]
    vendor_length = int.from_bytes(tags[8:12], "little")
    assert tags[:8] == b"OpusTags"
    assert tags[12 + vendor_length : 16 + vendor_length] == b"\0\0\0\0"  # no comments


def test_users_and_info_hold_both_peers_fields(tmp_path, fixtures_dir, make_frame, speaker_of):
    requester = Speaker(id=42, name="Ann", username="anuser", discriminator="4334")
    info = RecordingInfo(
        guild_id=7, guild_name="Guild", channel_id=8, channel_name="Général", requester=requester, client_id=9
    )
    sink = LocalFolderSink(tmp_path)
    with RawRecordingWriter(sink, speaker_of, recording_id=77, info=info) as writer:
        writer.submit(make_frame(202, arrival=writer.start_monotonic + 0.1))
        writer.submit(make_frame(101, arrival=writer.start_monotonic + 0.2))
    users_text = (tmp_path / file_name(77, "users")).read_bytes()
    assert users_text.startswith(b'"0":{}\n,"1":')
    users = json.loads("{" + users_text.decode() + "}")
    assert set(users) == {"0", "1", "2"}
    assert users["1"] == {
        "id": "202", "name": "Bob", "discrim": "0", "username": "bob", "discriminator": "0",
        "globalName": "BOB", "bot": False, "avatarUrl": None,
    }
    assert users["2"]["username"] == "alice"
    # The reference users file parses the same way.
    reference = parse_users((fixtures_dir / "872660673.ogg.users").read_bytes())
    assert reference[1]["name"] == "Rythm"

    info_json = json.loads((tmp_path / file_name(77, "info")).read_text())
    reference_info = json.loads((fixtures_dir / "872660673.ogg.info").read_text())
    assert set(reference_info) <= set(info_json)
    assert info_json["format"] == 1
    assert info_json["channel"] == "Général" and info_json["channelExtra"] == {"name": "Général", "id": "8", "type": 2}
    assert info_json["guildExtra"] == {"name": "Guild", "id": "7", "icon": None}
    assert info_json["requester"] == "anuser#4334" and info_json["requesterId"] == "42"
    assert set(info_json["requesterExtra"]) == {"username", "globalName", "discriminator", "avatar"}
    assert info_json["clientId"] == "9"
    assert info_json["startTime"].endswith("Z") and len(info_json["startTime"]) == len(reference_info["startTime"])
