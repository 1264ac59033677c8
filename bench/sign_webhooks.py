"""Writes N webhook requests signed as LiveKit signs them (HS256 JWT with the
body's base64 SHA-256, 5-minute expiry), one per line: token, a tab, body.
Standard library only. Usage: sign_webhooks.py KEY SECRET N > FILE"""

import base64
import hashlib
import hmac
import json
import sys
import time

key, secret, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
now = int(time.time())
out = sys.stdout
for i in range(n):
    body = json.dumps(
        {
            "event": "participant_joined",
            "id": f"EV_bench{i:09d}",
            "createdAt": str(now),
            "room": {"sid": "RM_bench", "name": f"estrade-bench-{i % 200}"},
            "participant": {"sid": f"PA_{i:09d}", "identity": f"l-bench{i:09d}", "state": "ACTIVE",
                            "joinedAt": str(now), "joinedAtMs": str(now * 1000), "version": 1},
        },
        separators=(",", ":"),
    )
    sha = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    claims = b64url(json.dumps({"iss": key, "nbf": now, "exp": now + 300, "sha256": sha}).encode())
    signing_input = f"{header}.{claims}".encode()
    sig = b64url(hmac.new(secret, signing_input, hashlib.sha256).digest())
    out.write(f"{header}.{claims}.{sig}\t{body}\n")
