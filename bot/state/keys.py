"""Every Redis key name the bot uses. Engine-owned names (streams, cancel keys) live in engine.api."""

from __future__ import annotations

from engine import api

PREFIX = "dl"

DEADLINES = f"{PREFIX}:deadlines"  # sorted set: "{campaign}:{round}" -> deadline (unix time)
RESULTS_GROUP = api.BOT_GROUP
PROGRESS_PATTERN = api.progress_channel("*")


def campaign(campaign_id: str) -> str:
    """The campaign document (JSON with a version)."""
    return f"{PREFIX}:campaign:{campaign_id}"


def campaign_messages(campaign_id: str) -> str:
    """Set of the message index keys a campaign owns (so retention can expire them)."""
    return f"{PREFIX}:campaign:{campaign_id}:messages"


def thread(platform: str, channel_id: str, thread_id: str) -> str:
    return f"{PREFIX}:thread:{platform}:{channel_id}:{thread_id}"


def channel(platform: str, channel_id: str) -> str:
    """Sorted set of campaign ids in a channel, by creation time."""
    return f"{PREFIX}:channel:{platform}:{channel_id}"


def message(platform: str, message_id: str) -> str:
    """A grid message -> "{campaign}:{round}", so reactions on it count as votes."""
    return f"{PREFIX}:msg:{platform}:{message_id}"


def votes(campaign_id: str, round_no: int, number: int) -> str:
    """Sorted set: user id -> time of the user's vote."""
    return f"{PREFIX}:votes:{campaign_id}:{round_no}:{number}"


def deadline_member(campaign_id: str, round_no: int) -> str:
    return f"{campaign_id}:{round_no}"


def parse_deadline_member(member: str) -> tuple[str, int] | None:
    campaign_id, _, round_no = member.rpartition(":")
    if not campaign_id or not round_no.isdigit():
        return None
    return campaign_id, int(round_no)


def seen(source: str, event_id: str) -> str:
    """Idempotency marker for a retried platform event or a twice-delivered result."""
    return f"{PREFIX}:seen:{source}:{event_id}"


def quota(user_id: str, day: str) -> str:
    """Images a user asked for on one UTC day (YYYYMMDD)."""
    return f"{PREFIX}:quota:{user_id}:{day}"


def lock(name: str) -> str:
    return f"{PREFIX}:lock:{name}"
