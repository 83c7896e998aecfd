"""Performing a campaign's stored effects: jobs, deadlines, posts and status edits.

A transition's effects are saved with the campaign (its outbox) and performed afterwards, in order, by
one replica at a time (a short lease). Each performed effect leaves the outbox; one that a crash
interrupted is performed by the next replica that touches the campaign, or by the periodic sweep.
A post is claimed by its effect id first, so it is shown at most once.
"""

from __future__ import annotations

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
from bot.jobs import JobClient
from bot.ports import Presenter
from bot.state import keys
from bot.state.campaigns import CampaignStore
from bot.state.deadlines import DeadlineStore
from bot.state.idempotency import SeenStore
from bot.state.locks import Leases
from bot.state.messages import MessageIndex
from bot.state.outbox import OutboxEntry, OutboxStore

log = logging.getLogger(__name__)

LEASE_MS = 30_000
MAX_POST_TRIES = 5
DEFAULT_SWEEP_AFTER_SECONDS = 30.0
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
    ) -> None:
        self.presenters = presenters
        self.campaigns = campaigns
        self.outbox: OutboxStore = campaigns.outbox
        self.leases = Leases(redis)
        self.jobs = JobClient(redis)
        self.deadlines = DeadlineStore(redis)
        self.messages = MessageIndex(redis)
        self.seen = SeenStore(redis, ttl_seconds=seen_seconds)

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
            await self._status(campaign, effect.text)
        return True

    def _presenter(self, campaign: Campaign) -> Presenter | None:
        presenter = self.presenters.get(campaign.thread.platform)
        if presenter is None:
            log.error("no presenter for platform %s; campaign %s", campaign.thread.platform, campaign.id)
        return presenter

    async def _status(self, campaign: Campaign, text: str) -> None:
        """A status edit that fails is not retried: a later edit replaces it anyway."""
        presenter = self._presenter(campaign)
        if presenter is None:
            return
        try:
            await presenter.update_status(campaign.thread, campaign.id, text)
        except Exception:
            log.exception("status edit on %s failed for campaign %s", campaign.thread.platform, campaign.id)

    async def _post(self, campaign: Campaign, message: Message, entry_id: str | None) -> bool:
        presenter = self._presenter(campaign)
        if presenter is None:
            return True
        if entry_id is not None and not await self.seen.claim(_EFFECT, entry_id):
            return True  # posted already
        try:
            message_id = await presenter.post(campaign.thread, message)
        except Exception:
            log.exception("posting to %s failed for campaign %s", campaign.thread.platform, campaign.id)
            if entry_id is None:
                return True
            await self.seen.release(_EFFECT, entry_id)
            if await self.outbox.failed(campaign.id, entry_id) >= MAX_POST_TRIES:
                log.error("giving up on post %s after %d tries", entry_id, MAX_POST_TRIES)
                return True
            return False
        except BaseException:
            if entry_id is not None:  # stopped while posting: the next replica posts it
                await self.seen.release(_EFFECT, entry_id)
            raise
        if message.kind is MessageKind.GRID and message.round_no is not None:
            await self.messages.record(campaign.thread.platform, message_id, campaign.id, message.round_no)
        return True
