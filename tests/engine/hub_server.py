"""A small Hub-like HTTP server on 127.0.0.1 for download tests: the file-list API and `resolve` URLs with
HTTP Range, serving a real tiny model folder. It can drop a connection part-way, serve damaged bytes, or
want a token (a gated model)."""

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REVISION = "fedcba9876543210fedcba9876543210fedcba98"


@dataclass
class Hub:
    repo: str
    files: dict  # name -> bytes
    gated_token: str | None = None  # when set, every request must carry it
    drop_after: dict = field(default_factory=dict)  # name -> bytes sent before the connection drops (once)
    corrupt: set = field(default_factory=set)  # names served with one byte changed
    requests: list = field(default_factory=list)  # (path, Range header, Authorization header)
    url: str = ""

    def listing(self) -> dict:
        siblings = []
        for name, data in self.files.items():
            row = {"rfilename": name, "size": len(data)}
            if name.endswith(".safetensors"):
                row["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            siblings.append(row)
        siblings.append({"rfilename": "onnx/model.onnx", "size": 5})  # a format localtune does not fetch
        return {"id": self.repo, "sha": REVISION, "gated": self.gated_token is not None,
                "cardData": {"license": "apache-2.0"}, "siblings": siblings}


def serve(folder: Path, repo: str = "TinyOrg/tiny-llama-Instruct", **options):
    """Start a server for `folder`'s files; returns (Hub, stop())."""
    hub = Hub(repo, {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}, **options)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - the http.server name
            hub.requests.append((self.path, self.headers.get("Range"), self.headers.get("Authorization")))
            if hub.gated_token and self.headers.get("Authorization") != f"Bearer {hub.gated_token}":
                return self._send(401, b'{"error": "gated"}')
            api = f"/api/models/{hub.repo}/revision/"
            if self.path.startswith(api):
                return self._send(200, json.dumps(hub.listing()).encode(), "application/json")
            prefix = f"/{hub.repo}/resolve/{REVISION}/"
            if not self.path.startswith(prefix) or self.path[len(prefix):] not in hub.files:
                return self._send(404, b"not found")
            name = self.path[len(prefix):]
            data = hub.files[name]
            if name in hub.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start = 0
            if rng := self.headers.get("Range"):
                start = int(rng.removeprefix("bytes=").split("-")[0])
            body = data[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if name in hub.drop_after:
                self.wfile.write(body[: hub.drop_after.pop(name)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(body)

        def _send(self, code, body, kind="text/plain"):
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"

    def stop():
        server.shutdown()
        server.server_close()

    return hub, stop


def serve_redirect(target: str):
    """A second host that redirects every request to `target` (as the Hub sends file downloads to a CDN), and
    records the headers it got."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - the http.server name
            seen.append((self.path, self.headers.get("Range"), self.headers.get("Authorization")))
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop():
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", seen, stop
