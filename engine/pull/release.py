"""Release files over plain HTTP: into ``DEST.part``, resumed with a Range request after a cut, checked
against the pinned sha256, then moved into place."""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from engine.pull.errors import IntegrityError, PullError, Unreachable
from engine.pull.progress import Progress
from engine.pull.sources import ReleaseFile

CHUNK = 1 << 20
ATTEMPTS = 5
TIMEOUT_S = 30.0
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def release_advice(weights_dir: Path) -> str:
    return (
        f"no network? copy {weights_dir} from a machine that has the files, "
        "or set DRAFTLOOP_RELEASES_URL to a reachable mirror"
    )


def fetch_release(release: ReleaseFile, base_url: str, progress: Progress) -> Path:
    """The release file at its destination, verified; a complete file already there is kept."""
    dest = release.dest
    label = release.name
    if dest.is_file() and (release.sha256 is None or sha256_of(dest) == release.sha256):
        progress.done(label, dest.stat().st_size, "already there")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    url = f"{base_url}/{release.url_path}"
    for _ in range(ATTEMPTS):
        if _download_into(part, url, release, progress, dest.parent):
            break
    else:
        raise PullError(f"{label}: the connection to {urlsplit(url).netloc} kept dropping; run pull again")
    if release.size is not None and part.stat().st_size != release.size:
        got = part.stat().st_size
        part.unlink()
        raise IntegrityError(f"{label}: got {got} bytes from {url}, expected {release.size}; removed it")
    if release.sha256 is not None:
        actual = sha256_of(part)
        if actual != release.sha256:
            part.unlink()
            raise IntegrityError(
                f"{label}: sha256 mismatch for {url} (expected {release.sha256}, got {actual}); removed it"
            )
    os.replace(part, dest)
    progress.done(label, dest.stat().st_size, "sha256 ok" if release.sha256 else "unpinned")
    return dest


def _download_into(part: Path, url: str, release: ReleaseFile, progress: Progress, folder: Path) -> bool:
    """Appends the rest of the file to ``part``; True once the server sent all of it."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is not a prefix the server can continue
            part.unlink()
            return False
        if exc.code == 404:
            raise PullError(f"{release.name}: not found at {url} (HTTP 404)") from exc
        raise PullError(f"{release.name}: HTTP {exc.code} from {url}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise Unreachable(urlsplit(url).netloc, release_advice(folder)) from exc
    with response:
        total = _expected_total(response, have)
        if response.status == 200 and have:  # the server ignored the Range header: start over
            have = 0
        mode = "ab" if have else "wb"
        try:
            with part.open(mode) as out, progress.file(release.name, total, have) as counter:
                while block := response.read(CHUNK):
                    out.write(block)
                    counter.update(len(block))
        except (http.client.HTTPException, OSError):
            return False
    size = part.stat().st_size
    return total is None or size >= total


def _expected_total(response: http.client.HTTPResponse, have: int) -> int | None:
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            raise PullError(f"bad Content-Range from {response.geturl()}: resume refused")
        return int(match.group(3)) if match.group(3) != "*" else None
    length = response.headers.get("Content-Length")
    return int(length) if length is not None else None
