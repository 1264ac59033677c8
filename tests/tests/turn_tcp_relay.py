"""A TURN client for TCP relays (RFC 6062) and a stand-in for LiveKit's TCP
ports, for tests/tests/turn_443.rs.

coturn's own client cannot ask for a TCP relay to a chosen peer: with -T it
opens two TCP allocations and connects one to the other's relayed address,
ignoring -e and -r. This client does what a holder of a TURN credential
could do: allocate a TCP relay, CONNECT it to a peer address and port, bind
a second connection to it (CONNECTION-BIND) and talk to the peer through
it.

    python3 turn_tcp_relay.py connect SERVER PORT USERNAME PASSWORD PEER:PORT...
        prints one line per peer: "PEER:PORT allocate refused CODE REASON",
        "PEER:PORT connect refused CODE REASON" or
        "PEER:PORT connected, answered 'WHAT THE PEER SENT'"
    python3 turn_tcp_relay.py serve ADDRESS PORT...
        answers every TCP connection on each port with a one-line HTTP reply
"""

import hashlib
import hmac
import os
import socket
import struct
import sys
import threading
import zlib

MAGIC = 0x2112A442
ALLOCATE, CONNECT, CONNECTION_BIND = 0x003, 0x00A, 0x00B
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
XOR_PEER_ADDRESS, REALM, NONCE = 0x0012, 0x0014, 0x0015
REQUESTED_TRANSPORT, CONNECTION_ID, FINGERPRINT = 0x0019, 0x002A, 0x8028
TCP = 6


def attribute(kind, value):
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def xor_address(address):
    ip, port = address.rsplit(":", 1)
    packed = struct.unpack("!I", socket.inet_aton(ip))[0]
    return struct.pack("!BBHI", 0, 1, int(port) ^ (MAGIC >> 16), packed ^ MAGIC)


def message(method, attributes, key=None):
    """A request with MESSAGE-INTEGRITY (when a key is given) and FINGERPRINT."""
    tid = os.urandom(12)
    body = b"".join(attributes)

    def header(length):
        return struct.pack("!HHI", method, length, MAGIC) + tid

    if key is not None:
        mac = hmac.new(key, header(len(body) + 24) + body, hashlib.sha1).digest()
        body += attribute(MESSAGE_INTEGRITY, mac)
    crc = zlib.crc32(header(len(body) + 8) + body) ^ 0x5354554E
    body += attribute(FINGERPRINT, struct.pack("!I", crc))
    return header(len(body)) + body


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def response(sock):
    """(class, attributes) of the next STUN message: class 2 success, 3 error."""
    kind, length = struct.unpack("!HH", read_exact(sock, 20)[:4])
    body = read_exact(sock, length)
    attributes = {}
    while body:
        t, n = struct.unpack("!HH", body[:4])
        attributes.setdefault(t, body[4 : 4 + n])
        body = body[4 + n + (-n % 4) :]
    klass = ((kind >> 7) & 2) | ((kind >> 4) & 1)
    return klass, attributes


def error(attributes):
    value = attributes.get(ERROR_CODE, b"\0\0\0\0")
    code = (value[2] & 7) * 100 + value[3]
    return code, value[4:].decode(errors="replace")


class Client:
    def __init__(self, server, port, username, password):
        self.server, self.port = server, port
        self.username, self.password = username, password
        self.realm = self.nonce = None

    def connection(self):
        return socket.create_connection((self.server, self.port), timeout=10)

    def signed(self, method, attributes):
        if self.nonce is None:
            return message(method, attributes)
        key = hashlib.md5(
            f"{self.username}:{self.realm.decode()}:{self.password}".encode()
        ).digest()
        auth = [
            attribute(USERNAME, self.username.encode()),
            attribute(REALM, self.realm),
            attribute(NONCE, self.nonce),
        ]
        return message(method, attributes + auth, key)

    def request(self, sock, method, attributes):
        """Sends a request, signed with the realm and nonce the server gave
        (CONNECTION-BIND has one try: it must be signed at once); asks again
        when the server wants a (new) nonce (401, 438)."""
        for _ in range(3):
            sock.sendall(self.signed(method, attributes))
            klass, answer = response(sock)
            if klass == 2:
                return None, answer
            code, reason = error(answer)
            if code not in (401, 438) or NONCE not in answer:
                break
            self.realm, self.nonce = answer.get(REALM, self.realm), answer[NONCE]
        return (code, reason.rstrip("\0")), answer

    def relay_to(self, peer):
        with self.connection() as control:
            refused, _ = self.request(
                control, ALLOCATE, [attribute(REQUESTED_TRANSPORT, bytes([TCP, 0, 0, 0]))]
            )
            if refused:
                return "allocate refused %d %s" % refused
            refused, answer = self.request(
                control, CONNECT, [attribute(XOR_PEER_ADDRESS, xor_address(peer))]
            )
            if refused:
                return "connect refused %d %s" % refused
            with self.connection() as data:
                refused, _ = self.request(
                    data, CONNECTION_BIND, [attribute(CONNECTION_ID, answer[CONNECTION_ID])]
                )
                if refused:
                    return "connection-bind refused %d %s" % refused
                data.sendall(b"GET / HTTP/1.0\r\n\r\n")
                reply = b""
                try:
                    while chunk := data.recv(1024):
                        reply += chunk
                except ConnectionResetError:
                    pass  # coturn passes the peer's close on as a reset
                return "connected, answered " + repr(reply.decode(errors="replace"))


def serve(address, ports):
    def answer(listener, port):
        while True:
            conn, _ = listener.accept()
            try:
                with conn:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nLiveKit stand-in on %d\n" % port)
            except OSError:
                pass

    for port in ports:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, port))
        listener.listen(16)
        threading.Thread(target=answer, args=(listener, port), daemon=True).start()
    print("listening", flush=True)
    threading.Event().wait()


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2], [int(p) for p in sys.argv[3:]])
    server, port, username, password, *peers = sys.argv[2:]
    client = Client(server, int(port), username, password)
    for peer in peers:
        try:
            result = client.relay_to(peer)
        except (OSError, ConnectionError) as e:
            result = "failed %s" % e
        print(peer, result, flush=True)


if __name__ == "__main__":
    main()
