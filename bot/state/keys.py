"""Every Redis key name the bot uses. Engine-owned names (streams, worker heartbeats, counters, cancel
keys) live in engine.api and engine.queue."""

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


def live_campaigns(platform: str, channel_id: str) -> str:
    """Sorted set of a channel's campaigns that are not cancelled or failed, by creation time."""
    return f"{PREFIX}:live:{platform}:{channel_id}"


def live_campaigns_built(platform: str, channel_id: str) -> str:
    """Set once the channel's live index has been built from its whole history."""
    return f"{PREFIX}:live-built:{platform}:{channel_id}"


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


def outbox(campaign_id: str) -> str:
    """Hash of a campaign's effects not yet performed: effect id -> entry JSON.

    The hash tag is the campaign document's own key, so both live in one Cluster slot and the
    compare-and-set script writes them together.
    """
    return "{" + campaign(campaign_id) + "}:outbox"


OUTBOXES = f"{PREFIX}:outboxes"  # sorted set: campaign id -> when effects were last stored for it


def outbox_lease(campaign_id: str) -> str:
    """Held by the one replica performing a campaign's stored effects."""
    return lock(f"outbox:{campaign_id}")


SCHEDULES = f"{PREFIX}:schedules"  # sorted set: schedule id -> next fire time (unix time)


def schedule(schedule_id: str) -> str:
    """A schedule (JSON)."""
    return f"{PREFIX}:schedule:{schedule_id}"


def channel_schedules(platform: str, channel_id: str) -> str:
    """Set of the schedule ids of one channel."""
    return f"{PREFIX}:schedules:{platform}:{channel_id}"


def status_message(platform: str, campaign_id: str) -> str:
    """Hash: the platform message id of a campaign's status line and the text it shows, so it is edited
    in place from any replica."""
    return f"{PREFIX}:status:{platform}:{campaign_id}"


def status_lease(platform: str, campaign_id: str) -> str:
    """Held by the one replica posting a campaign's first status line."""
    return lock(f"status:{platform}:{campaign_id}")


def post_log(effect_id: str) -> str:
    """Hash: the parts of one post already shown (part name -> platform id), so a retried post resumes
    where it stopped instead of showing anything twice."""
    return f"{PREFIX}:post:{effect_id}"


def edit_pace(platform: str, campaign_id: str) -> str:
    """Set (PX) after a campaign's status line is edited: progress edits wait until it expires, on every
    replica."""
    return f"{PREFIX}:pace:{platform}:{campaign_id}"


def edit_budget(platform: str, scope: str) -> str:
    """Sorted set of recent status edits on one platform scope (a workspace, a channel), by time."""
    return f"{PREFIX}:budget:{platform}:{scope}"
