"""What Slack documents and the fake enforces: the scope each Web API method and event needs, the
rate-limit tier of the methods the bot calls, and the Block Kit limits of a message."""

from __future__ import annotations

from typing import Any

# the bot token scope each Web API method needs (None: any valid token)
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "reactions.add": "reactions:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "files.info": "files:read",
    "users.info": "users:read",
}
# reading a file's url_private needs files:read too
FILE_DOWNLOAD_SCOPE = "files:read"
# a slash command needs the app's `commands` scope
COMMANDS_SCOPE = "commands"
# the scope an app needs to receive each event it subscribes to (message: in public channels)
EVENT_SCOPES: dict[str, str] = {
    "message.channels": "channels:history",
    "app_mention": "app_mentions:read",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
}
# an app-level token (xapp-) opens Socket Mode connections with this scope
APP_TOKEN_SCOPE = "connections:write"
ALL_BOT_SCOPES: frozenset[str] = frozenset(
    {s for s in METHOD_SCOPES.values() if s} | set(EVENT_SCOPES.values()) | {COMMANDS_SCOPE}
)

# Tier 3: about 50 calls per minute per method and workspace
TIER3_METHODS: tuple[str, ...] = ("chat.update", "reactions.add")
TIER3_PER_MINUTE = 50

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_TEXT = 40_000
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75


def event_subscription(event: dict[str, Any]) -> str:
    """The subscription name an event arrives under (``message`` in a public channel → message.channels)."""
    kind = str(event.get("type", ""))
    if kind == "message":
        return "message.channels"
    return kind


def blocks_problem(blocks: list[dict[str, Any]]) -> str | None:
    """Why Slack would refuse these blocks (``invalid_blocks``), or None."""
    if len(blocks) > MAX_BLOCKS:
        return f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"
    for i, block in enumerate(blocks):
        if block.get("type") == "section":
            text = str((block.get("text") or {}).get("text", ""))
            if len(text) > MAX_SECTION_TEXT:
                where = f"/blocks/{i}/text/text"
                return f"must be less than {MAX_SECTION_TEXT + 1} characters [json-pointer:{where}]"
        if block.get("type") == "actions":
            elements = block.get("elements") or []
            if len(elements) > MAX_ACTIONS_ELEMENTS:
                return (
                    f"no more than {MAX_ACTIONS_ELEMENTS} items allowed [json-pointer:/blocks/{i}/elements]"
                )
            for j, el in enumerate(elements):
                label = str((el.get("text") or {}).get("text", ""))
                if len(label) > MAX_BUTTON_TEXT:
                    return (
                        f"must be less than {MAX_BUTTON_TEXT + 1} characters "
                        f"[json-pointer:/blocks/{i}/elements/{j}/text/text]"
                    )
    return None
