"""Performing a campaign's stored effects: jobs, deadlines, posts and status edits.

The status line of a campaign is one platform message: which one (and the text it shows) is kept in
Redis (``bot.state.status``), so any replica edits it and presenters only post and edit messages.

A transition's effects are saved with the campaign (its outbox) and performed afterwards, in order, by
one replica at a time (a short lease). Each performed effect leaves the outbox; one that a crash
interrupted is performed by the next replica that touches the campaign, or by the periodic sweep.
A post is a sequence of parts recorded in a post log (``bot.state.post_log``) as each succeeds: a failed
post is tried again by the sweep, up to ``MAX_POST_TRIES`` times, and resumes at the first part not shown,
so nothing is shown twice. A post given up on is said in its thread in one short line. Status edits go
through ``bot.usecases.status_edits``: per campaign, coalesced, within each platform's budget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from bot.core.effects import (
    CancelJobs,
    CloseVoting,
    Effect,
    Enqueue,
    OpenVoting,
    Post,
    Reply,
    UpdateStatus,
)
from bot.core.messages import Message, MessageKind
from bot.core.model import Campaign
from bot.keyed_locks import KeyedLocks
from bot.ports import MessageGone, Presenter
from bot.state import keys
from bot.state.campaigns import CampaignStore
from bot.state.deadlines import DeadlineStore
from bot.state.idempotency import SeenStore
from bot.state.locks import Leases
from bot.state.message_index import MessageIndex
from bot.state.outbox import OutboxEntry, OutboxStore
from bot.state.post_log import POSTED, MemoryPostLog, RedisPostLog
from bot.state.status import StatusStore
from bot.usecases.jobs import JobClient
from bot.usecases.status_edits import DEFAULT_PACE_SECONDS, StatusEdits, StillWanted, Timebase

log = logging.getLogger(__name__)

LEASE_MS = 30_000
MAX_POST_TRIES = 5
DEFAULT_SWEEP_AFTER_SECONDS = 30.0
STATUS_LEASE_MS = 10_000  # posting a campaign's first status line
STATUS_LEASE_TRIES = 40
STATUS_LEASE_WAIT_SECONDS = 0.05
_EFFECT = "effect"  # idempotency source for effect ids


def durable(campaign_id: str, effects: Sequence[Effect], post_replies: bool) -> list[Effect]:
    """What must still happen after the save: everything but the replies to the person who acted,
    which are returned to them (or posted in the thread when ``post_replies``)."""
    out: list[Effect] = []
    for effect in effects:
        if isinstance(effect, Reply):
            if post_replies:
                message = Message(kind=MessageKind.TEXT, campaign_id=campaign_id, text=effect.text)
                out.append(Post(message=message))
            continue
        out.append(effect)
    return out


class EffectRunner:
    def __init__(
        self,
        redis: Redis,
        presenters: Mapping[str, Presenter],
        campaigns: CampaignStore,
        *,
        seen_seconds: int,
        pace_seconds: float = DEFAULT_PACE_SECONDS,
        timebase: Timebase | None = None,
    ) -> None:
        self.presenters = presenters
        self.campaigns = campaigns
        self.outbox: OutboxStore = campaigns.outbox
        self.leases = Leases(redis)
        self.jobs = JobClient(redis)
        self.deadlines = DeadlineStore(redis)
        self.messages = MessageIndex(redis)
        self.seen = SeenStore(redis, ttl_seconds=seen_seconds)
        self.statuses = StatusStore(redis)
        self.redis = redis
        self._status_order = KeyedLocks()  # (platform, campaign) -> one status change at a time here
        self.status_edits = StatusEdits(
            redis, self._show_status, self._status_order, pace_seconds=pace_seconds, timebase=timebase
        )

    async def deliver(self, campaign: Campaign) -> None:
        """Perform the campaign's stored effects, oldest first; a replica holding the lease already does
        them (and looks again after releasing it), so this one returns."""
        lease = keys.outbox_lease(campaign.id)
        while await self.outbox.pending_ids(campaign.id):
            token = await self.leases.acquire(lease, LEASE_MS)
            if token is None:
                return
            try:
                tried = await self._drain(campaign)
            finally:
                await self.leases.release(lease, token)
            if not (await self.outbox.pending_ids(campaign.id) - tried):
                return  # what is left failed this time: the sweep tries it again

    async def sweep(self, now: float, older_than: float = DEFAULT_SWEEP_AFTER_SECONDS) -> int:
        """Perform effects stored more than ``older_than`` seconds ago that nobody came back to."""
        touched = 0
        for campaign_id, at in await self.outbox.stale(now - older_than):
            if await self.outbox.settle(campaign_id, at):
                continue
            campaign = await self.campaigns.load(campaign_id)
            if campaign is None:
                log.info("dropping the stored effects of campaign %s, which no longer exists", campaign_id)
                await self.outbox.drop(campaign_id)
                continue
            await self.deliver(campaign)
            await self.outbox.settle(campaign_id, at)
            touched += 1
        return touched

    async def perform_unsaved(self, campaign: Campaign, effects: Sequence[Effect]) -> None:
        """Effects of a transition that changed nothing to save (so nothing was stored)."""
        for effect in effects:
            await self._perform(campaign, effect, None)

    async def _drain(self, campaign: Campaign) -> set[str]:
        tried: set[str] = set()
        for entry in await self.outbox.pending(campaign.id):
            tried.add(entry.id)
            if await self._perform_entry(campaign, entry):
                await self.outbox.done(campaign.id, entry.id)
        return tried

    async def _perform_entry(self, campaign: Campaign, entry: OutboxEntry) -> bool:
        """True when the entry is finished with (done, or given up on)."""
        try:
            effect = entry.decoded()
        except ValueError:
            log.error("dropping an unreadable stored effect %s", entry.id)
            return True
        if isinstance(effect, Enqueue):
            if not await self.seen.is_seen(_EFFECT, entry.id):
                await self.jobs.enqueue(effect.job)
                await self.seen.mark(_EFFECT, entry.id)
            return True
        return await self._perform(campaign, effect, entry.id)

    async def _perform(self, campaign: Campaign, effect: Effect, entry_id: str | None) -> bool:
        if isinstance(effect, Enqueue):
            await self.jobs.enqueue(effect.job)
        elif isinstance(effect, CancelJobs):
            await self.jobs.cancel(effect.job_ids)
        elif isinstance(effect, OpenVoting):
            await self.deadlines.set(campaign.id, effect.round_no, effect.deadline)
        elif isinstance(effect, CloseVoting):
            await self.deadlines.remove(campaign.id, effect.round_no)
        elif isinstance(effect, Reply):
            message = Message(kind=MessageKind.TEXT, campaign_id=campaign.id, text=effect.text)
            return await self._post(campaign, message, entry_id)
        elif isinstance(effect, Post):
            return await self._post(campaign, effect.message, entry_id)
        elif isinstance(effect, UpdateStatus):
            await self.show_status(campaign, effect.text)
        return True

    def _presenter(self, campaign: Campaign) -> Presenter | None:
        presenter = self.presenters.get(campaign.thread.platform)
        if presenter is None:
            log.error("no presenter for platform %s; campaign %s", campaign.thread.platform, campaign.id)
        return presenter

    async def show_status(self, campaign: Campaign, text: str) -> None:
        """Show ``text`` as the campaign's one status line (a stage change): edited in place, posted the
        first time; when the platform's budget says wait, the campaign's own edit task shows it."""
        presenter = self._presenter(campaign)
        if presenter is not None:
            await self.status_edits.show(presenter, campaign, text)

    async def show_progress(
        self,
        campaign: Campaign,
        text: str,
        still_wanted: StillWanted | None = None,
        *,
        wait: bool = False,
    ) -> None:
        """Step progress on the status line, coalesced and paced per campaign (see ``StatusEdits``)."""
        presenter = self._presenter(campaign)
        if presenter is not None:
            await self.status_edits.offer(presenter, campaign, text, still_wanted=still_wanted, wait=wait)

    async def _show_status(self, presenter: Presenter, campaign: Campaign, text: str) -> None:
        platform, thread = campaign.thread.platform, campaign.thread
        for _ in range(STATUS_LEASE_TRIES):
            line = await self.statuses.get(platform, campaign.id)
            if line is not None:
                if line.text == text:
                    return
                try:
                    await presenter.edit_status(thread, line.message_id, text)
                except MessageGone:
                    log.info("the status line of campaign %s is gone; posting a new one", campaign.id)
                    await self.statuses.forget(platform, campaign.id)
                else:
                    await self.statuses.shown(platform, campaign.id, text)
                    return
            lease = self.statuses.lease(platform, campaign.id)
            token = await self.leases.acquire(lease, STATUS_LEASE_MS)
            if token is None:  # another replica is posting the line: edit theirs once it is recorded
                await asyncio.sleep(STATUS_LEASE_WAIT_SECONDS)
                continue
            try:
                if await self.statuses.get(platform, campaign.id) is None:
                    posted = await presenter.post_status(thread, text)
                    await self.statuses.claim(platform, campaign.id, posted, text)
                    return
            finally:
                await self.leases.release(lease, token)
        log.warning("gave up showing a status line for campaign %s", campaign.id)

    async def _post(self, campaign: Campaign, message: Message, entry_id: str | None) -> bool:
        """True when the post is finished with: shown, or given up on (and said so)."""
        presenter = self._presenter(campaign)
        if presenter is None:
            return True
        platform, round_no = campaign.thread.platform, message.round_no
        post_log: RedisPostLog | MemoryPostLog
        if entry_id is None:
            post_log = MemoryPostLog(
                self.redis,
                platform=platform,
                campaign_id=campaign.id,
                round_no=round_no,
                grid_index=message.grid_index,
            )
        else:
            post_log = RedisPostLog(
                self.redis,
                entry_id,
                platform=platform,
                campaign_id=campaign.id,
                round_no=round_no,
                ttl_seconds=self.seen.ttl_seconds,
                grid_index=message.grid_index,
            )
            if await post_log.done(POSTED) is not None or await self.seen.is_seen(_EFFECT, entry_id):
                return True  # shown already
        try:
            message_id = await presenter.post(campaign.thread, message, post_log)
        except Exception as exc:
            log.warning("posting to %s failed for campaign %s: %s", platform, campaign.id, exc, exc_info=True)
            if entry_id is None:
                return True
            tries = await self.outbox.failed(campaign.id, entry_id)
            if tries < MAX_POST_TRIES:
                return False
            log.error("giving up on post %s of campaign %s after %d tries", entry_id, campaign.id, tries)
            await self._say_post_failed(presenter, campaign, message, partly=bool(await post_log.parts()))
            return True
        await post_log.record(POSTED, message_id)
        if message.kind is MessageKind.GRID:  # for presenters that do not name their vote target
            await post_log.vote_target(message_id)
        return True

    async def _say_post_failed(
        self, presenter: Presenter, campaign: Campaign, message: Message, *, partly: bool
    ) -> None:
        what = "the voting grid" if message.kind is MessageKind.GRID else "a message"
        tries = f"after {MAX_POST_TRIES} tries"
        text = (
            f"I couldn't finish posting {what} here {tries}: part of it is missing."
            if partly
            else f"I couldn't post {what} here {tries}; /status shows where the campaign is."
        )
        notice = Message(kind=MessageKind.TEXT, campaign_id=campaign.id, text=text)
        try:
            await presenter.post(campaign.thread, notice, MemoryPostLog())
        except Exception as exc:
            log.error("campaign %s: could not post %s nor say so in its thread (%s)", campaign.id, what, exc)
