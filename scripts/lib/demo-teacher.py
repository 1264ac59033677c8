"""The demo class's teacher for `scripts/dev`: LiveKit's own Python SDK
(the participant of tests/sdk/bot.py) publishing a test picture and a soft
chime into the demo session that `estrade dev --summary FILE` describes, so
that a newcomer who opens the learner link sees and hears a class.

    python3 scripts/lib/demo-teacher.py SUMMARY.json
"""

import asyncio
import json
import math
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "sdk"))
import bot  # noqa: E402  (tests/sdk/bot.py)

from livekit import rtc  # noqa: E402


class DemoTeacher(bot.Bot):
    async def feed_audio(self, source):
        # A soft 440 Hz chime, 0.3 s every 2 s, rather than a steady tone.
        samples = bot.RATE // 100
        n = 0
        while True:
            frame = rtc.AudioFrame.create(bot.RATE, 1, samples)
            data = frame.data
            for i in range(samples):
                t = (n + i) / bot.RATE
                on = (t % 2.0) < 0.3
                data[i] = int(3000 * math.sin(2 * math.pi * 440 * t)) if on else 0
            n += samples
            await source.capture_frame(frame)


async def main(path):
    summary = json.load(open(path))
    request = urllib.request.Request(
        f"{summary['api']}/v1/sessions/{summary['session_id']}/publish-token",
        data=b"{}", method="POST",
        headers={"authorization": f"Bearer {summary['teacher_key']}",
                 "content-type": "application/json"})
    # The API answers a moment after the summary is written.
    for _ in range(100):
        try:
            publish = json.load(urllib.request.urlopen(request))
            break
        except OSError:
            await asyncio.sleep(0.1)
    else:
        raise SystemExit("demo teacher: the API did not answer")
    teacher = DemoTeacher()
    await teacher.handle({"do": "connect", "url": publish["livekit_url"], "token": publish["token"]})
    await teacher.handle({"do": "publish", "kind": "camera"})
    await teacher.handle({"do": "publish", "kind": "microphone"})
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.stdout = open(os.devnull, "w")  # bot.py reports on stdout; nobody reads it here
    asyncio.run(main(sys.argv[1]))
