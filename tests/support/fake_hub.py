"""A Hugging Face Hub and a release-file host on 127.0.0.1, enough of the HTTP API for huggingface_hub:
model info (``/api/models/{repo}/revision/{rev}``), the recursive tree listing, ``HEAD``/``GET``
``/{repo}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag``/``X-Linked-Etag``/``X-Linked-Size`` and
Range requests, and release files at ``/{owner}/{repo}/releases/download/{tag}/{file}``.

It answers like the real one where it matters: 404 with ``X-Error-Code`` for unknown repos, revisions and
files, 206 with ``Content-Range`` for a satisfiable Range and 416 otherwise. Faults for tests: serve
corrupted bytes for a path, or cut the connection after N bytes of a path's first GET."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".ckpt", ".msgpack", ".onnx")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    range: str | None
    key: str | None = None  # the file key of a file request


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    releases: dict[str, bytes] = field(default_factory=dict)
    # faults, by file key: "owner/repo/path/in/repo" for hub files, the URL path for release files
    corrupt: set[str] = field(default_factory=set)  # served with flipped bytes
    cut_once: dict[str, int] = field(default_factory=dict)  # bytes sent before the first GET is cut
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    # --- content -----------------------------------------------------------------------------

    def add_repo(self, repo_id: str, folder: Path, rename: dict[str, str] | None = None) -> None:
        """Serves every file under ``folder`` (``rename`` maps a file's path to its path in the repo)."""
        rename = rename or {}
        files = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                rel = path.relative_to(folder).as_posix()
                files[rename.get(rel, rel)] = path.read_bytes()
        digest = hashlib.sha1(repo_id.encode())
        for name, data in sorted(files.items()):
            digest.update(name.encode() + hashlib.sha256(data).digest())
        self.repos[repo_id] = Repo(files, digest.hexdigest())

    def add_release(self, url_path: str, data: bytes) -> None:
        self.releases[url_path.strip("/")] = data

    # --- server ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def gets(self, key: str) -> list[Request]:
        """The GET requests of one file, by its key."""
        return [r for r in self.requests if r.method == "GET" and r.key == key]


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    # --- routing -----------------------------------------------------------------------------

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        query = parse_qs(url.query)
        key: str | None = None
        if match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/[^/]+/(.+)", path):
            key = f"{match.group(1)}/{match.group(2)}"
        elif path.strip("/") in self.fake.releases:
            key = path.strip("/")
        self.fake.requests.append(Request(self.command, path, self.headers.get("Range"), key))
        if match := re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path):
            self._model_info(match.group(1), match.group(2) or "main")
        elif match := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(?:/(.*))?", path):
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            self._tree(match.group(1), match.group(2), match.group(3) or "", recursive)
        elif match := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            self._resolve(match.group(1), match.group(2), match.group(3), head)
        elif key is not None:
            data = self.fake.releases[key]
            self._send_bytes(key, data, {"ETag": f'"{hashlib.sha256(data).hexdigest()}"'}, head)
        else:
            self._error(404, "", "Not found")

    def _repo(self, repo_id: str, revision: str) -> Repo | None:
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", "Repository not found")
            return None
        if revision not in ("main", repo.commit):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def _model_info(self, repo_id: str, revision: str) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        siblings = [{"rfilename": name} for name in sorted(repo.files)]
        body = {"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False, "siblings": siblings}
        self._json(body)

    def _tree(self, repo_id: str, revision: str, folder: str, recursive: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        entries: dict[str, dict[str, object]] = {}
        for name, data in sorted(repo.files.items()):
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :].split("/")
            for depth in range(1, len(rest)):  # the folders on the way
                sub = prefix + "/".join(rest[:depth])
                if recursive or depth == 1:
                    entries.setdefault(sub, {"type": "directory", "oid": "0" * 40, "size": 0, "path": sub})
            if recursive or len(rest) == 1:
                entry: dict[str, object] = {
                    "type": "file",
                    "oid": git_blob_id(data),
                    "size": len(data),
                    "path": name,
                }
                if is_lfs(name):
                    entry["lfs"] = {
                        "oid": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "pointerSize": 134,
                    }
                entries[name] = entry
        if prefix and not entries:
            self._error(404, "EntryNotFound", f"{folder} does not exist")
            return
        self._json(list(entries.values()))

    def _resolve(self, repo_id: str, revision: str, name: str, head: bool) -> None:
        repo = self._repo(repo_id, revision)
        if repo is None:
            return
        data = repo.files.get(name)
        if data is None:
            self._error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": repo.commit})
            return
        headers = {"X-Repo-Commit": repo.commit}
        if is_lfs(name):
            sha = hashlib.sha256(data).hexdigest()
            headers.update({"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data))})
        else:
            headers["ETag"] = f'"{git_blob_id(data)}"'
        self._send_bytes(f"{repo_id}/{name}", data, headers, head)

    # --- responses ---------------------------------------------------------------------------

    def _send_bytes(self, key: str, data: bytes, headers: dict[str, str], head: bool) -> None:
        if key in self.fake.corrupt:
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        start, end, status = 0, len(data) - 1, 200
        requested = self.headers.get("Range")
        match = _RANGE.fullmatch(requested or "")
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), len(data) - 1) if match.group(2) else len(data) - 1
            if start >= len(data) or start > end:
                self._error(416, "", "Range not satisfiable", {"Content-Range": f"bytes */{len(data)}"})
                return
            status = 206
        body = data[start : end + 1]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if head:
            return
        cut = self.fake.cut_once.pop(key, None)
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def _json(self, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _error(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
        raw = json.dumps({"error": message}).encode()
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)
