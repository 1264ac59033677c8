"""An LMS's webhook receiver on loopback, for tests/tests/outbound.rs.

Every POST to /hook/<name> is checked with the Standard Webhooks reference
verifier (PyPI `standardwebhooks`, pinned in requirements.txt) against the
secret the test registered for <name>, and recorded. How it answers is
scripted per name, one step per request, the last step repeating:

  ok         200
  fail       500
  drop       close the connection without answering
  hang       hold the request for 60 s without answering
  redirect   307 to /hook/<name>-moved

The test drives it over HTTP on the same port:

  PUT /script/<name>   {"secret": "whsec_…", "steps": ["fail", "ok"]}
  GET /received/<name> [{"webhook_id", "verified", "error", "body", "answered"}…]

It prints its port on stdout once listening.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

lock = threading.Lock()
scripts = {}  # name -> {"secret": str, "steps": [str], "seen": int}
received = {}  # name -> [record]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_PUT(self):
        name = self.path.removeprefix("/script/")
        script = json.loads(self.body())
        with lock:
            scripts[name] = {"secret": script["secret"], "steps": script["steps"], "seen": 0}
            received.setdefault(name, [])
        self.reply(204)

    def do_GET(self):
        name = self.path.removeprefix("/received/")
        with lock:
            body = json.dumps(received.get(name, [])).encode()
        self.reply(200, body, [("Content-Type", "application/json")])

    def do_POST(self):
        name = self.path.removeprefix("/hook/")
        body = self.body()
        with lock:
            script = scripts.get(name)
            record = {
                "webhook_id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
                "verified": False,
                "error": None,
                "body": None,
                "answered": None,
            }
            received.setdefault(name, []).append(record)
            if script is None:
                step = "fail"
            else:
                steps = script["steps"]
                step = steps[min(script["seen"], len(steps) - 1)]
                script["seen"] += 1
        if script is not None:
            try:
                record["body"] = Webhook(script["secret"]).verify(body, dict(self.headers))
                record["verified"] = True
            except WebhookVerificationError as e:
                record["error"] = str(e)
        record["answered"] = step
        if step == "ok":
            self.reply(200, b"thanks")
        elif step == "fail":
            self.reply(500, b"no")
        elif step == "redirect":
            self.reply(307, headers=[("Location", f"/hook/{name}-moved")])
        elif step == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
        elif step == "hang":
            time.sleep(60)
            self.close_connection = True


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
