"""A tiny loopback HTTP backend for the gossip system tests.

Run as a process: python3 http_backend.py ADDRESS PORT
It answers GET /health with 200 "ok" (any other path: 404) until it is killed,
and prints "ready" on stdout once it listens. Stopping the process is how a
test makes the backend fail (connection refused).
"""
import http.server
import socket
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        code, body = (200, b"ok\n") if self.path == "/health" else (404, b"no\n")
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.HTTPServer):
    allow_reuse_address = True

    def __init__(self, address, port):
        self.address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        super().__init__((address, port), Handler)


def main():
    server = Server(sys.argv[1], int(sys.argv[2]))
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
