"""A participant of a real LiveKit room, joined through LiveKit's own Python
real-time SDK (never through Estrade's code), driven by a test over stdin
and stdout, one JSON object a line.

Commands (stdin):
  {"do": "connect", "url": "ws://...", "token": "..."}
  {"do": "publish", "kind": "camera" | "microphone", "name"?: "..."}   synthetic video / a tone
  {"do": "unpublish", "kind": "microphone"}
  {"do": "disconnect"}
Events (stdout), each with "event":
  ready, connected, failed {step, error}, published {kind, sid},
  unpublished {kind}, subscribed {from, kind}, track_gone {from, kind},
  frames {from, kind, count} (media really flowing: after 10 frames, then every 500),
  attributes {of, attributes}, permissions {can_publish, sources},
  disconnected {reason}

Media never leaves the machine: the test hands a loopback URL, runs in a
network namespace with only loopback, and checks separately that every ICE
server LiveKit hands a client is on this machine (tests/src/signal.rs).
"""

import asyncio
import json
import math
import sys

from livekit import rtc

WIDTH, HEIGHT, RATE = 64, 48, 48000


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def kind_of(publication):
    return {
        rtc.TrackSource.SOURCE_CAMERA: "camera",
        rtc.TrackSource.SOURCE_MICROPHONE: "microphone",
    }.get(publication.source, "other")


class Bot:
    def __init__(self):
        self.room = rtc.Room()
        self.tracks = {}
        self.feeders = {}
        room = self.room

        @room.on("track_subscribed")
        def _subscribed(track, publication, participant):
            kind = kind_of(publication)
            emit("subscribed", **{"from": participant.identity, "kind": kind})
            asyncio.ensure_future(self.count_frames(track, participant.identity, kind))

        @room.on("track_unsubscribed")
        def _unsubscribed(track, publication, participant):
            emit("track_gone", **{"from": participant.identity, "kind": kind_of(publication)})

        @room.on("participant_attributes_changed")
        def _attributes(changed, participant):
            emit("attributes", of=participant.identity, attributes=dict(participant.attributes))

        @room.on("participant_permissions_changed")
        def _permissions(participant, permissions):
            if participant.identity == room.local_participant.identity:
                emit("permissions", can_publish=permissions.can_publish,
                     sources=[int(s) for s in permissions.can_publish_sources])

        @room.on("local_track_unpublished")
        def _local_unpublished(publication, *_):
            emit("unpublished", kind=kind_of(publication))

        @room.on("disconnected")
        def _disconnected(reason):
            emit("disconnected", reason=str(reason))

    async def count_frames(self, track, identity, kind):
        stream = rtc.VideoStream(track) if kind == "camera" else rtc.AudioStream(track)
        count = 0
        async for _ in stream:
            count += 1
            if count == 10 or count % 500 == 0:
                emit("frames", **{"from": identity, "kind": kind, "count": count})

    async def feed_video(self, source):
        # A warm orange, so pictures of the class show a picture.
        frame = rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, bytearray([230, 120, 30, 255]) * (WIDTH * HEIGHT))
        while True:
            source.capture_frame(frame)
            await asyncio.sleep(1 / 15)

    async def feed_audio(self, source):
        samples = RATE // 100
        n = 0
        while True:
            frame = rtc.AudioFrame.create(RATE, 1, samples)
            data = frame.data
            for i in range(samples):
                data[i] = int(8000 * math.sin(2 * math.pi * 440 * (n + i) / RATE))
            n += samples
            await source.capture_frame(frame)

    async def handle(self, command):
        do = command["do"]
        if do == "connect":
            try:
                await self.room.connect(command["url"], command["token"],
                                        options=rtc.RoomOptions(auto_subscribe=True))
            except Exception as error:  # noqa: BLE001 - reported to the test
                emit("failed", step="connect", error=str(error))
                return
            emit("connected", identity=self.room.local_participant.identity,
                 remote=[p.identity for p in self.room.remote_participants.values()])
        elif do == "publish":
            kind = command["kind"]
            if kind == "camera":
                source = rtc.VideoSource(WIDTH, HEIGHT)
                track = rtc.LocalVideoTrack.create_video_track(command.get("name", kind), source)
                options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA)
                feed = self.feed_video(source)
            else:
                source = rtc.AudioSource(RATE, 1)
                track = rtc.LocalAudioTrack.create_audio_track(command.get("name", kind), source)
                options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
                feed = self.feed_audio(source)
            try:
                publication = await asyncio.wait_for(
                    self.room.local_participant.publish_track(track, options), 10)
            except Exception as error:  # noqa: BLE001 - reported to the test
                feed.close()
                emit("failed", step="publish", kind=kind, error=str(error) or type(error).__name__)
                return
            self.tracks[kind] = publication.sid
            self.feeders[kind] = asyncio.ensure_future(feed)
            emit("published", kind=kind, sid=publication.sid)
        elif do == "unpublish":
            kind = command["kind"]
            sid = self.tracks.pop(kind, None)
            if sid is not None:
                await self.room.local_participant.unpublish_track(sid)
            feeder = self.feeders.pop(kind, None)
            if feeder is not None:
                feeder.cancel()
        elif do == "disconnect":
            await self.room.disconnect()


async def main():
    bot = Bot()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit("ready")
    while True:
        line = await reader.readline()
        if not line:
            break
        await bot.handle(json.loads(line))
    await bot.room.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
