"""A local stand-in for the Hugging Face Hub: a real HTTP server on 127.0.0.1.

It serves files under the Hub's URL layout,
``/{repo_id}/resolve/{revision}/{path}``, answering like the Hub does for
large files: a redirect to the content (``/blobs/<sha256>``), which the
client follows, with the Hub's metadata headers (``X-Repo-Commit``,
``X-Linked-Etag``, ``X-Linked-Size``) that ``huggingface_hub`` reads on
``HEAD``. Every request path is recorded, so tests can assert what was asked
for, and that nothing was.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HubServer:
    """Serve ``files`` (URL path to bytes) in a background thread.

    Use as a context manager; :attr:`endpoint` is the value for
    ``HF_ENDPOINT`` and :attr:`requests` lists the paths requested.
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self._blobs: dict[str, bytes] = {}
        self._cuts: dict[str, int | None] = {}

    def serve(self, repo_id, revision, path, content: bytes, cut: int | None = None):
        """Publish ``content`` as ``path`` of ``repo_id`` at ``revision``.

        With ``cut``, the connection drops after that many bytes (the
        announced length stays the full one), as in an interrupted download.
        """
        sha256 = hashlib.sha256(content).hexdigest()
        self._blobs[f"/blobs/{sha256}"] = content
        self._cuts[f"/blobs/{sha256}"] = cut
        self.files[f"/{repo_id}/resolve/{revision}/{path}"] = (sha256, revision)

    def __enter__(self) -> HubServer:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                self._answer(body=True)

            def do_HEAD(self):  # noqa: N802
                self._answer(body=False)

            def _answer(self, body):
                hub.requests.append(self.path)
                if self.path in hub.files:
                    sha256, revision = hub.files[self.path]
                    self.send_response(302)
                    self._metadata(sha256, revision)
                    self.send_header("Location", f"/blobs/{sha256}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path in hub._blobs:
                    content = hub._blobs[self.path]
                    sha256 = self.path.rsplit("/", 1)[1]
                    revisions = [r for s, r in hub.files.values() if s == sha256]
                    self.send_response(200)
                    self._metadata(sha256, revisions[-1])
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    if body:
                        self.wfile.write(content[: hub._cuts[self.path]])
                else:
                    self.send_error(404, "Entry not found")

            def _metadata(self, sha256, revision):
                self.send_header("X-Repo-Commit", revision)
                self.send_header("X-Linked-Etag", f'"{sha256}"')
                self.send_header("ETag", f'"{sha256}"')
                size = len(hub._blobs[f"/blobs/{sha256}"])
                self.send_header("X-Linked-Size", str(size))

            def log_message(self, *args):  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def downloads(self) -> list[str]:
        """The requested ``resolve`` paths (not the redirects' targets)."""
        return [path for path in self.requests if "/resolve/" in path]


def closed_port() -> int:
    """A port of 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
