"""Reading a request: JSON bodies, multipart forms with files, user names, flags and the request id.

Whatever a client sends, reading it either succeeds with valid text or raises ``RequestError`` (4xx with
the reason): text is made valid here, at the edge (lone surrogates become U+FFFD, control characters other
than line breaks and tabs are dropped), so nothing downstream meets a string it cannot encode.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from adapters.web.errors import RequestError
from bot.core.model import User

REQUEST_ID_HEADER = "X-Request-Id"  # one per user action, the same on a retry: the service acts once
MAX_FILES = 8
MAX_FIELD_CHARS = 20_000

_USER_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_FLAGS = {"true": True, "1": True, "false": False, "0": False}
_MULTIPART_ERRORS = (
    ValueError,
    LookupError,
    HttpProcessingError,
    ClientPayloadError,
    asyncio.IncompleteReadError,
)


def clean_text(value: str) -> str:
    """``value`` as text any encoder accepts: lone surrogates replaced, stray control characters dropped."""
    value = _SURROGATE_RE.sub("\ufffd", value).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub("", value)


def size_text(n: int) -> str:
    return f"{n / (1024 * 1024):g} MiB" if n >= 1024 * 1024 else f"{n / 1024:g} KiB"


def flag(value: Any) -> bool | None:
    """A JSON boolean, or one of the strings "true", "false", "1", "0"; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _FLAGS.get(value)
    return None


def user_from(fields: Mapping[str, Any]) -> User:
    name = str(fields.get("user", "")).strip().lower()
    if not _USER_RE.match(name):
        raise RequestError(400, "pick a user name: 1-32 lowercase letters, digits, . _ -")
    approver = str(fields.get("approver", "")).lower() in ("1", "true", "yes", "on")
    return User(id=name, name=name, is_approver=approver)


def request_id(request: web.Request) -> str | None:
    """The client's id for this action (``X-Request-Id``), passed to the service as the event id."""
    value = request.headers.get(REQUEST_ID_HEADER)
    if value is None or value == "":
        return None
    if not _REQUEST_ID_RE.match(value):
        raise RequestError(400, f"{REQUEST_ID_HEADER} must be 1-128 letters, digits, '_', '.', ':' or '-'")
    return value


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError:  # not JSON, or not UTF-8
        body = None
    if not isinstance(body, dict):
        raise RequestError(400, "expected a JSON object")
    return body


@dataclass
class Form:
    fields: dict[str, str]
    files: dict[str, bytes]


async def read_form(request: web.Request, max_upload_bytes: int) -> Form:
    """A JSON body, or multipart with fields and files (each under ``max_upload_bytes``); text cleaned."""
    if not request.content_type.startswith("multipart/"):
        body = await json_body(request)
        return Form(
            {clean_text(str(k)): clean_text(str(v)) if v is not None else "" for k, v in body.items()}, {}
        )
    try:
        return await _multipart(request, max_upload_bytes)
    except _MULTIPART_ERRORS as exc:
        raise RequestError(
            400, f"unreadable multipart body: {clean_text(str(exc)) or type(exc).__name__}"
        ) from exc


async def _multipart(request: web.Request, max_upload_bytes: int) -> Form:
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise RequestError(400, "nested multipart is not supported")
        filename = part.filename
        if filename and len(files) >= MAX_FILES:
            raise RequestError(413, f"at most {MAX_FILES} attachments per message")
        limit = max_upload_bytes if filename else MAX_FIELD_CHARS * 4
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > limit:
                if filename:
                    raise RequestError(
                        413, f"{clean_text(filename)} is larger than the {size_text(max_upload_bytes)} limit"
                    )
                raise RequestError(400, "text field too long")
        if filename:
            name = clean_text(Path(filename.replace("\\", "/")).name) or "attachment"
            base, n = name, 2
            while name in files:
                name = f"{n}-{base}"
                n += 1
            files[name] = bytes(data)
        else:
            value = clean_text(bytes(data).decode(part.get_charset("utf-8"), "replace"))
            if len(value) > MAX_FIELD_CHARS:
                raise RequestError(400, "text field too long")
            fields[clean_text(part.name or "")] = value
    return Form(fields, files)
