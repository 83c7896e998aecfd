"""The use cases: load the campaign → apply the event (pure core) → compare-and-set save → perform effects.

The effects are saved with the campaign in the same atomic write (its outbox) and performed after it,
so a replica that lost a race never enqueues or posts, and one that stopped after the save leaves them
for the next replica (see bot.usecases.effects). Adapters call the ``handle_*`` methods; the loops call
``apply_result``, ``close_due_rounds``, ``deliver_stale_effects``, ``fire_due_schedules`` and
``relay_progress``. No state is kept in memory between calls.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot import uploads
from bot.core import grammar, machine, voting
from bot.core.buttons import command_for, parse_action_id
from bot.core.commands import (
    Command,
    CommandError,
    Draft,
    ScheduleAdd,
    ScheduleList,
    ScheduleRemove,
)
from bot.core.effects import Effect, Enqueue, Reply
from bot.core.events import CloseRound, CommandEvent, Event, ResultEvent, Tally
from bot.core.model import TERMINAL_STAGES, Campaign, ThreadRef, User
from bot.jobs import JobClient
from bot.ports import Presenter
from bot.state.campaigns import CampaignNotFound, CampaignStore
from bot.state.codec import as_str
from bot.state.deadlines import DeadlineStore
from bot.state.idempotency import SeenStore
from bot.state.messages import MessageIndex
from bot.state.quota import QuotaStore
from bot.state.retention import DEFAULT_RETENTION_SECONDS
from bot.state.schedules import ScheduleStore
from bot.state.votes import VoteStore
from bot.usecases import channel, models
from bot.usecases.effects import DEFAULT_SWEEP_AFTER_SECONDS, EffectRunner, durable
from bot.usecases.schedules import ScheduleDesk
from engine import api
from engine.api import JobKind, Progress, Result
from engine.artifacts import ArtifactStore

log = logging.getLogger(__name__)
R = TypeVar("R")

_GONE = "This campaign no longer exists (finished campaigns are kept for a limited time)."
_VERBS = {
    JobKind.DRAFT: "Drafting",
    JobKind.VARIATION: "Making variations",
    JobKind.REFINE: "Refining",
    JobKind.IMG2IMG: "Drafting",
    JobKind.INPAINT: "Inpainting",
    JobKind.OUTPAINT: "Outpainting",
    JobKind.UPSCALE: "Upscaling",
    JobKind.RESTORE_FACES: "Restoring faces",
}


def new_campaign_id() -> str:
    return secrets.token_hex(8)


def _images(effects: list[Effect]) -> int:
    return sum(len(e.job.seeds) for e in effects if isinstance(e, Enqueue))


def _replies(effects: list[Effect]) -> list[str]:
    return [e.text for e in effects if isinstance(e, Reply)]


def _on_lane(effects: list[Effect], lane: str) -> list[Effect]:
    if lane == "interactive":
        return effects
    return [
        Enqueue(job=e.job.model_copy(update={"lane": lane})) if isinstance(e, Enqueue) else e for e in effects
    ]


class CampaignService:
    def __init__(
        self,
        redis: Redis,
        artifacts: ArtifactStore,
        presenters: Mapping[str, Presenter],
        *,
        clock: Callable[[], float] = time.time,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        default_model: str = "",
        quota_images_per_day: int | None = None,
    ) -> None:
        self.redis = redis
        self.artifacts = artifacts
        self.presenters = presenters
        self.clock = clock
        self.retention_seconds = retention_seconds
        self.default_model = default_model
        self.quota_images_per_day = quota_images_per_day
        self.campaigns = CampaignStore(redis, retention_seconds=retention_seconds)
        self.votes = VoteStore(redis)
        self.deadlines = DeadlineStore(redis)
        self.messages = MessageIndex(redis)
        self.seen = SeenStore(redis)
        self.quota = QuotaStore(redis)
        self.jobs = JobClient(redis)
        self.effects = EffectRunner(redis, presenters, self.campaigns, seen_seconds=retention_seconds)
        self.schedules = ScheduleDesk(ScheduleStore(redis), presenters.keys(), self._scheduled_draft)

    # --- what users do --------------------------------------------------------------------------

    async def handle_text(
        self,
        platform: str,
        channel_id: str,
        thread_id: str | None,
        user: User,
        text: str,
        attachments: Mapping[str, bytes] = {},
        event_id: str | None = None,
    ) -> list[str]:
        parsed = grammar.parse(text)
        if isinstance(parsed, CommandError):
            if event_id is not None and not await self.seen.claim(platform, event_id):
                return []
            return [parsed.text()]
        return await self.handle_command(platform, channel_id, thread_id, user, parsed, attachments, event_id)

    async def handle_command(
        self,
        platform: str,
        channel_id: str,
        thread_id: str | None,
        user: User,
        command: Command,
        attachments: Mapping[str, bytes] = {},
        event_id: str | None = None,
    ) -> list[str]:
        return await self._once(
            platform,
            event_id,
            lambda: self._command(platform, channel_id, thread_id, user, command, attachments, event_id),
            [],
        )

    async def _command(
        self,
        platform: str,
        channel_id: str,
        thread_id: str | None,
        user: User,
        command: Command,
        attachments: Mapping[str, bytes],
        event_id: str | None,
    ) -> list[str]:
        try:
            command = uploads.ImageResolver(self.artifacts, attachments).command(command)
        except uploads.UploadError as exc:
            return [str(exc)]
        draft = command.draft if isinstance(command, ScheduleAdd) else command
        if isinstance(draft, Draft):
            answer = await models.unknown_model_answer(self.redis, draft.model, self.clock())
            if answer is not None:
                return [answer]
        campaign = None
        if thread_id is not None:
            campaign = await self.campaigns.for_thread(
                ThreadRef(platform=platform, channel_id=channel_id, thread_id=thread_id)
            )
        if isinstance(command, ScheduleAdd | ScheduleList | ScheduleRemove):
            if campaign is not None:
                return [machine.SCHEDULE_TEXT]
            return [await self.schedules.handle(platform, channel_id, user, command, self.clock())]
        if campaign is not None and isinstance(command, Draft) and campaign.stage in TERMINAL_STAGES:
            campaign = None  # a cancelled or failed campaign's thread: a new /draft starts afresh
        if campaign is None:
            if isinstance(command, Draft):
                return await self._start_campaign(platform, channel_id, user, command, event_id)
            listed = None
            if isinstance(command, channel.NEEDS_CAMPAIGNS):
                listed = await self.campaigns.in_channel(platform, channel_id)
            return [channel.answer(command, listed)]
        return await self._apply(campaign.id, CommandEvent(user=user, command=command), user=user)

    async def handle_reaction(
        self,
        platform: str,
        message_id: str,
        emoji: str,
        user: User,
        added: bool,
        event_id: str | None = None,
    ) -> str | None:
        if user.is_bot:
            return None
        return await self._once(
            platform, event_id, lambda: self._reaction(platform, message_id, emoji, user, added), None
        )

    async def _reaction(
        self, platform: str, message_id: str, emoji: str, user: User, added: bool
    ) -> str | None:
        ref = await self.messages.lookup(platform, message_id)
        if ref is None:
            return None
        campaign_id, round_no = ref
        campaign = await self.campaigns.load(campaign_id)
        rnd = voting.find_round(campaign, round_no) if campaign is not None else None
        if campaign is None or rnd is None:
            return None
        number = voting.vote_for_emoji(emoji, rnd)
        if number is None:
            return None
        if not added:
            if rnd.open:
                await self.votes.remove(campaign_id, round_no, number, user.id)
            return None
        refusal = voting.check_vote(campaign, round_no, number, user)
        if refusal is not None:
            return refusal
        await self.votes.add(campaign_id, round_no, number, user.id, self.clock())
        if rnd.quorum:  # also on a repeated vote: the attempt that stored it may have stopped before closing
            tally = await self.votes.tally(campaign_id, round_no, rnd.candidates)
            if voting.quorum_reached(tally, rnd.quorum):
                await self._apply(
                    campaign_id,
                    CloseRound(round_no=round_no, reason="quorum", tally=tally),
                    post_replies=True,
                )
        return None

    async def handle_action(
        self, platform: str, action_id: str, user: User, event_id: str | None = None
    ) -> list[str]:
        parsed = parse_action_id(action_id)
        if parsed is None:
            return ["That button isn't one of this bot's buttons."]
        return await self._once(platform, event_id, lambda: self._action(platform, *parsed, user), [])

    async def _action(
        self, platform: str, action: str, campaign_id: str, number: int, arg: str, user: User
    ) -> list[str]:
        campaign = await self.campaigns.load(campaign_id)
        if campaign is None or campaign.thread.platform != platform:
            return [_GONE]
        command = command_for(campaign, action, number, arg)
        if command is None:
            return [f"The button action '{action}' is not supported any more."]
        return await self._apply(campaign_id, CommandEvent(user=user, command=command), user=user)

    # --- what the engine and the clock do -------------------------------------------------------

    async def apply_result(self, result: Result) -> None:
        """Apply an engine result once, even when it is delivered twice or to two replicas."""
        if await self.seen.is_seen("result", result.job_id):
            return
        try:
            await self._apply(result.campaign_id, ResultEvent(result=result), post_replies=True)
        except CampaignNotFound:
            log.info("result %s for a campaign that no longer exists", result.job_id)
        await self.seen.mark("result", result.job_id, ttl_seconds=self.retention_seconds)

    async def close_due_rounds(self, now: float) -> int:
        """Close every round whose deadline passed; each round is closed by exactly one replica."""
        closed = 0
        for campaign_id, round_no in await self.deadlines.due(now):
            if not await self.deadlines.claim(campaign_id, round_no):
                continue
            deadline_lost = True
            try:
                campaign = await self.campaigns.load(campaign_id)
                rnd = voting.find_round(campaign, round_no) if campaign is not None else None
                if rnd is None:
                    deadline_lost = False
                    continue
                tally = await self.votes.tally(campaign_id, round_no, rnd.candidates)
                await self._apply(
                    campaign_id,
                    CloseRound(round_no=round_no, reason="deadline", tally=tally),
                    post_replies=True,
                )
                deadline_lost = False
                closed += 1
            except CampaignNotFound:
                deadline_lost = False
            finally:
                if deadline_lost:  # put it back so a replica retries
                    await self.deadlines.set(campaign_id, round_no, now)
        return closed

    async def deliver_stale_effects(self, now: float, older_than: float = DEFAULT_SWEEP_AFTER_SECONDS) -> int:
        """Perform saved effects that no replica performed within ``older_than`` seconds."""
        return await self.effects.sweep(now, older_than)

    async def fire_due_schedules(self, now: float) -> int:
        """Open a campaign thread for each schedule that is due; returns how many were opened."""
        return await self.schedules.fire_due(now)

    async def _scheduled_draft(self, platform: str, channel_id: str, owner: User, draft: Draft) -> list[str]:
        return await self._start_campaign(platform, channel_id, owner, draft, None, lane="scheduled")

    async def relay_progress(self, progress: Progress) -> None:
        campaign = await self.campaigns.load(progress.campaign_id)
        if campaign is None:
            return
        pending = campaign.pending.get(progress.job_id)
        if pending is None:  # finished or cancelled: its last steps arrive after the status moved on
            return
        verb = _VERBS.get(pending.kind, "Working")
        text = f"{verb}… step {progress.step}/{progress.total}"
        presenter = self.presenters.get(campaign.thread.platform)
        if presenter is not None:
            await presenter.update_status(campaign.thread, campaign.id, text)

    # --- reading --------------------------------------------------------------------------------

    async def campaign(self, campaign_id: str) -> Campaign | None:
        return await self.campaigns.load(campaign_id)

    async def campaign_for_thread(self, thread: ThreadRef) -> Campaign | None:
        return await self.campaigns.for_thread(thread)

    async def campaigns_in_channel(self, platform: str, channel_id: str) -> list[Campaign]:
        return await self.campaigns.in_channel(platform, channel_id)

    async def tally(self, campaign_id: str, round_no: int) -> Tally:
        campaign = await self.campaigns.load(campaign_id)
        rnd = voting.find_round(campaign, round_no) if campaign is not None else None
        return {} if rnd is None else await self.votes.tally(campaign_id, round_no, rnd.candidates)

    async def vote_counts(self, campaign_id: str, round_no: int) -> dict[int, int]:
        campaign = await self.campaigns.load(campaign_id)
        rnd = voting.find_round(campaign, round_no) if campaign is not None else None
        return {} if rnd is None else await self.votes.counts(campaign_id, round_no, rnd.candidates)

    async def engine_stats(self) -> dict[str, object]:
        lanes: dict[str, dict[str, int]] = {}
        for lane in api.LANES:
            lanes[lane] = await self._lane_stats(api.jobs_stream(lane))
        now = self.clock()
        beats = await models.live_beats(self.redis, now)
        for worker_id in set(await self.redis.hkeys(api.WORKERS_KEY)) - set(beats):  # type: ignore[misc]
            await self.redis.hdel(api.WORKERS_KEY, worker_id)  # died without saying goodbye
        workers: dict[str, object] = {as_str(k): beat.model_dump() for k, beat in beats.items()}
        counters: dict[str, float] = {}
        for name, raw in (await self.redis.hgetall(api.STATS_KEY)).items():  # type: ignore[misc]
            counters[as_str(name)] = float(raw)
        return {"lanes": lanes, "workers": workers, "counters": counters}

    async def _lane_stats(self, stream: str) -> dict[str, int]:
        length = int(await self.redis.xlen(stream))
        pending = 0
        waiting = length
        try:
            groups = await self.redis.xinfo_groups(stream)
        except ResponseError:  # no stream yet
            groups = []
        for group in groups:
            if as_str(group["name"]) != api.ENGINE_GROUP:
                continue
            pending = int(group["pending"])
            waiting = max(0, length - pending)  # handled entries are deleted on ack
        return {"length": length, "waiting": waiting, "pending": pending}

    def read_artifact(self, key: str) -> bytes:
        return self.artifacts.get(key)

    async def _once(
        self, platform: str, event_id: str | None, work: Callable[[], Awaitable[R]], duplicate: R
    ) -> R:
        """Handle a platform event once; a failed attempt is forgotten so the platform's retry is handled."""
        if event_id is not None and not await self.seen.claim(platform, event_id):
            return duplicate
        try:
            return await work()
        except BaseException:
            if event_id is not None:
                await self.seen.release(platform, event_id)
            raise

    # --- the load → apply → save → perform cycle ------------------------------------------------

    def _presenter(self, platform: str) -> Presenter:
        try:
            return self.presenters[platform]
        except KeyError:
            raise KeyError(f"no presenter for platform {platform!r}") from None

    async def _quota_used(self, user: User | None, now: float) -> int:
        if user is None or self.quota_images_per_day is None:
            return 0
        return await self.quota.used(user.id, now)

    def _step(self, campaign: Campaign, event: Event, now: float, used: int) -> tuple[Campaign, list[Effect]]:
        new, effects = machine.apply(campaign, event, now)
        if isinstance(event, CommandEvent):
            effects = _on_lane(effects, event.lane)
        limit = self.quota_images_per_day
        asked = _images(effects)
        if limit is not None and isinstance(event, CommandEvent) and asked and used + asked > limit:
            left = max(limit - used, 0)
            text = (
                f"That would make {asked} images, and you have {left} of your {limit} images for today left. "
                "The quota resets at 00:00 UTC."
            )
            return campaign, [Reply(text=text, error=True)]
        return new, effects

    async def _apply(
        self, campaign_id: str, event: Event, *, user: User | None = None, post_replies: bool = False
    ) -> list[str]:
        now = self.clock()
        used = await self._quota_used(user, now)
        campaign, effects, saved = await self.campaigns.update_with_effects(
            campaign_id,
            lambda c: self._step(c, event, now, used),
            lambda effects: durable(campaign_id, effects, post_replies),
            now,
        )
        if user is not None and self.quota_images_per_day is not None and _images(effects):
            await self.quota.add(user.id, _images(effects), now)
        if not saved:
            await self.effects.perform_unsaved(campaign, durable(campaign_id, effects, post_replies))
        await self.effects.deliver(campaign)  # this write's effects, and any an earlier replica left
        return _replies(effects)

    async def _start_campaign(
        self,
        platform: str,
        channel_id: str,
        user: User,
        draft: Draft,
        event_id: str | None,
        lane: str = "interactive",
    ) -> list[str]:
        presenter = self._presenter(platform)
        now = self.clock()
        used = await self._quota_used(user, now)
        campaign_id = new_campaign_id()
        # A dry run in a placeholder thread: a refused /draft opens no thread.
        probe = ThreadRef(platform=platform, channel_id=channel_id, thread_id="")
        _, effects = self._step(
            self._new(campaign_id, probe, user, now),
            CommandEvent(user=user, command=draft, thread=probe, lane=lane),
            now,
            used,
        )
        if not any(isinstance(e, Enqueue) for e in effects):
            return _replies(effects)
        thread = await presenter.open_thread(channel_id, title=draft.prompt[:80], source_message_id=event_id)
        campaign, effects = self._step(
            self._new(campaign_id, thread, user, now),
            CommandEvent(user=user, command=draft, thread=thread, lane=lane),
            now,
            used,
        )
        await self.campaigns.create(campaign, durable(campaign.id, effects, False), now)
        if self.quota_images_per_day is not None:
            await self.quota.add(user.id, _images(effects), now)
        await self.effects.deliver(campaign)
        return _replies(effects)

    def _new(self, campaign_id: str, thread: ThreadRef, user: User, now: float) -> Campaign:
        campaign = machine.new_campaign(campaign_id, thread, user, now)
        if self.default_model and not campaign.settings.model:
            campaign.settings.model = self.default_model
        return campaign


__all__ = ["CampaignService", "new_campaign_id"]
