"""Drives the LiveKit stand-in with LiveKit's official Python server SDK
(livekit-api, which speaks Twirp with protobuf bodies), verifies a webhook the
stand-in sent and the tokens our gateway minted.

Usage: python3 fidelity.py FIXTURE.json   (written by tests/tests/sdk_fidelity.rs)
Exits non-zero, naming the check, at the first failure.
"""

import asyncio
import json
import sys
import traceback
import urllib.error
import urllib.request

from livekit import api

FIXTURE = json.load(open(sys.argv[1]))
URL, KEY, SECRET = FIXTURE["url"], FIXTURE["api_key"], FIXTURE["api_secret"]
ROOM = "python-room"


def check(name, fn):
    try:
        result = fn()
        if asyncio.iscoroutine(result):
            asyncio.get_event_loop().run_until_complete(result)
        print(f"ok   {name}")
    except Exception:
        print(f"FAIL {name}:\n{traceback.format_exc()}", file=sys.stderr)
        sys.exit(1)


def stub(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{URL}{path}", data=data, method=method)
    req.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(req) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


async def expect_error(awaitable, status, code=None):
    try:
        await awaitable
    except api.TwirpError as e:
        assert e.status == status, f"status {e.status} != {status}: {e}"
        if code:
            assert e.code == code, f"code {e.code} != {code}"
        return
    raise AssertionError(f"expected a {status} error")


async def room_service():
    async with api.LiveKitAPI(URL, KEY, SECRET) as lk:
        room = await lk.room.create_room(api.CreateRoomRequest(name=ROOM, max_participants=4, empty_timeout=30))
        assert room.name == ROOM and room.max_participants == 4 and room.sid.startswith("RM_")
        listed = await lk.room.list_rooms(api.ListRoomsRequest(names=[ROOM]))
        assert [r.name for r in listed.rooms] == [ROOM]

        token = (
            api.AccessToken(KEY, SECRET)
            .with_identity("c-python")
            .with_name("Python classroom")
            .with_grants(api.VideoGrants(room_join=True, room=ROOM, can_publish=False, can_subscribe=True))
            .to_jwt()
        )
        status, info = stub("POST", "/stub/participants", {"token": token})
        assert status == 201, info
        parts = await lk.room.list_participants(api.ListParticipantsRequest(room=ROOM))
        assert [p.identity for p in parts.participants] == ["c-python"]

        granted = await lk.room.update_participant(
            api.UpdateParticipantRequest(
                room=ROOM,
                identity="c-python",
                permission=api.ParticipantPermission(
                    can_publish=True,
                    can_subscribe=True,
                    can_publish_data=True,
                    can_publish_sources=[api.TrackSource.MICROPHONE],
                ),
            )
        )
        assert list(granted.permission.can_publish_sources) == [api.TrackSource.MICROPHONE]
        status, track = stub("POST", f"/stub/rooms/{ROOM}/participants/c-python/tracks", {"source": "microphone"})
        assert status == 201, track
        muted = await lk.room.mute_published_track(
            api.MuteRoomTrackRequest(room=ROOM, identity="c-python", track_sid=track["sid"], muted=True)
        )
        assert muted.track.muted

        revoked = await lk.room.update_participant(
            api.UpdateParticipantRequest(
                room=ROOM,
                identity="c-python",
                permission=api.ParticipantPermission(can_subscribe=True, can_publish_data=True),
            )
        )
        assert not revoked.permission.can_publish and len(revoked.tracks) == 0

        await lk.room.remove_participant(api.RoomParticipantIdentity(room=ROOM, identity="c-python"))
        await expect_error(
            lk.room.get_participant(api.RoomParticipantIdentity(room=ROOM, identity="c-python")), 404, "not_found"
        )
        await lk.room.delete_room(api.DeleteRoomRequest(room=ROOM))
        await expect_error(lk.room.delete_room(api.DeleteRoomRequest(room=ROOM)), 404, "not_found")

    async with api.LiveKitAPI(URL, KEY, "not-the-secret-not-the-secret-not-the") as forged:
        await expect_error(forged.room.list_rooms(api.ListRoomsRequest()), 401)


def webhook():
    receiver = api.WebhookReceiver(api.TokenVerifier(KEY, SECRET))
    body, auth = FIXTURE["webhook"]["body"], FIXTURE["webhook"]["authorization"]
    event = receiver.receive(body, auth)
    assert event.event == "room_started" and event.id.startswith("EV_")
    assert event.room.name == FIXTURE["room"]
    try:
        receiver.receive(body.replace(FIXTURE["room"], "other-room"), auth)
    except Exception:
        return
    raise AssertionError("an altered body was accepted")


def tokens():
    verifier = api.TokenVerifier(KEY, SECRET)

    def video(role):
        token = FIXTURE["tokens"][role]
        claims = verifier.verify(token["jwt"])
        assert claims.identity == token["identity"], role
        assert claims.video.room == FIXTURE["room"] and claims.video.room_join, role
        return claims.video

    teacher = video("teacher")
    assert teacher.can_publish and teacher.can_subscribe and teacher.can_publish_data
    assert teacher.can_publish_sources == ["camera", "microphone", "screen_share", "screen_share_audio"]
    for role in ("learner", "classroom"):
        v = video(role)
        assert v.can_publish is False and v.can_subscribe and v.can_publish_data, role
        assert not v.room_admin and not v.hidden, role
    observer = video("observer")
    assert observer.hidden and observer.can_subscribe and observer.can_publish is False


asyncio.set_event_loop(asyncio.new_event_loop())
check("RoomService over protobuf: rooms, participants, permissions, mute, errors", room_service)
check("WebhookReceiver accepts a webhook the stand-in sent, and refuses it altered", webhook)
check("TokenVerifier accepts the tokens our gateway minted, with the grants of each role", tokens)
print("python: all checks passed")
