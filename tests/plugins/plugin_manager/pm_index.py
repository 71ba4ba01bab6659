"""Tiny wheels built in the test and a PEP 503 simple index serving them on
loopback (``/simple/<name>/`` pages linking ``/files/<wheel>``)."""

from __future__ import annotations

import base64
import hashlib
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def build_wheel(
    folder: Path, name: str, version: str, files: dict[str, str], requires: list[str]
) -> Path:
    """A pure-Python wheel of distribution ``name`` holding ``files``."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    contents = {
        **files,
        f"{info}/METADATA": "\n".join(metadata) + "\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/top_level.txt": "\n".join(sorted({p.split("/")[0] for p in files}))
        + "\n",
    }
    record = []
    for path, text in contents.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = "\n".join(record) + "\n"
    wheel = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in contents.items():
            zf.writestr(path, text)
    return wheel


@contextmanager
def simple_index(wheels: list[Path], store: bytes = b"[]") -> Iterator[str]:
    """Serve ``wheels`` as a PEP 503 index, and ``store`` as a plugin store index
    at ``/store.json``; yields the ``/simple/`` URL."""
    by_project: dict[str, list[Path]] = {}
    for wheel in wheels:
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        by_project.setdefault(project, []).append(wheel)
    files = {w.name: w for w in wheels}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = [p for p in self.path.split("/") if p]
            body: bytes | None = None
            kind = "text/html"
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in by_project:
                links = "".join(
                    f'<a href="/files/{w.name}">{w.name}</a><br>'
                    for w in by_project[parts[1]]
                )
                body = f"<html><body>{links}</body></html>".encode()
            elif parts == ["store.json"]:
                body, kind = store, "application/json"
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in files:
                body = files[parts[1]].read_bytes()
                kind = "application/octet-stream"
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
