"""Content-addressed image store on the filesystem (under the data dir by default).

It holds the images (PNG, each with its recipe in its text chunks) and the files made from them, such as
the zips ``/deliver`` packs; every file is named ``<sha256>.png`` whatever it holds, and readers tell the
kind by its first bytes. Stdlib only, so the bot can read and write artifacts without importing torch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.api import artifact_key


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise KeyError(f"not an artifact key: {key!r}")
        return self.root / key[:2] / f"{key}.png"

    def put(self, data: bytes) -> str:
        key = artifact_key(data)
        dest = self.path(key)
        if dest.exists():
            return key
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".part")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
        return key

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        try:
            return self.path(key).exists()
        except KeyError:
            return False
