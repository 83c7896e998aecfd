"""The service adapters and loops call: one method per thing that can happen, each a use case.

Adapters call the ``handle_*`` methods; the loops call ``apply_result``, ``close_due_rounds``,
``deliver_stale_effects``, ``fire_due_schedules``, ``forget_silent_workers`` and ``relay_progress``.
Each use case lives in ``bot.usecases`` and goes through the load → apply → save → perform cycle
(``bot.usecases.cycle``). A platform event is handled once per ``event_id``, here and only here; no
state is kept in memory between calls.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from redis.asyncio import Redis

from bot.core import grammar, phrasing
from bot.core.buttons import parse_action_id
from bot.core.commands import Command, CommandError, Draft
from bot.core.events import Tally
from bot.core.model import Campaign, ThreadRef, User
from bot.ports import Presenter
from bot.state.campaigns import NEWEST_IN_CHANNEL
from bot.state.connection import RedisHealth, health_of
from bot.state.retention import DEFAULT_RETENTION_SECONDS
from bot.state.schedules import ScheduleStore
from bot.usecases import buttons, engine_results, queries, reactions, rounds
from bot.usecases.commands import Typed, run_command
from bot.usecases.context import UseCaseContext
from bot.usecases.cycle import new_campaign_id, start_campaign
from bot.usecases.delivery import DEFAULT_SWEEP_AFTER_SECONDS
from bot.usecases.schedules import ScheduleDesk
from bot.usecases.standing import SharedReads, StandingRefresher
from engine.api import Progress, Result
from engine.artifacts import ArtifactStore

R = TypeVar("R")


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
        self.ctx = UseCaseContext.build(
            redis,
            artifacts,
            presenters,
            clock=clock,
            retention_seconds=retention_seconds,
            default_model=default_model,
            quota_images_per_day=quota_images_per_day,
        )
        self.redis = redis
        self.redis_health: RedisHealth = health_of(redis) or RedisHealth()
        self.clock = clock
        self.presenters = presenters
        self.campaigns = self.ctx.campaigns
        self.votes = self.ctx.votes
        self.messages = self.ctx.messages
        self.schedules = ScheduleDesk(ScheduleStore(redis), presenters.keys(), self._scheduled_draft)
        self.standing = StandingRefresher(lambda c, r: reactions.refresh_standing(self.ctx, c, r))
        self.voted_campaigns = SharedReads(self.ctx.campaigns.load)

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
            if event_id is not None and not await self.ctx.seen.claim(platform, event_id):
                return []
            place = phrasing.for_thread(platform) if thread_id else phrasing.for_channel(platform)
            return [place.text(parsed.text())]
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
            lambda: run_command(
                self.ctx, self.schedules, Typed(platform, channel_id, thread_id, user, command, attachments)
            ),
            [],
        )

    async def handle_reaction(
        self,
        platform: str,
        message_id: str,
        emoji: str,
        user: User,
        added: bool,
        event_id: str | None = None,
    ) -> str | None:
        """A reaction is a state (this user's reaction on this message is there or not), so besides the
        platform's own event id (when it has one that names a single event) it is deduplicated by that state:
        the same add delivered twice (a retry, two replicas) counts once, while a vote taken back and given
        again counts again, and a late replay of an event already handled changes nothing."""
        if user.is_bot:
            return None
        state = f"reaction:{message_id}:{user.id}:{emoji}"
        mine, opposite = (f"{state}:added", f"{state}:removed")[:: 1 if added else -1]

        async def once_per_state() -> str | None:
            answer = await self._once(
                platform,
                mine,
                lambda: reactions.react(
                    self.ctx, self.standing, self.voted_campaigns, platform, message_id, emoji, user, added
                ),
                None,
            )
            await self.ctx.seen.release(platform, opposite)
            return answer

        return await self._once(platform, event_id, once_per_state, None)

    async def handle_action(
        self, platform: str, action_id: str, user: User, event_id: str | None = None
    ) -> list[str]:
        parsed = parse_action_id(action_id)
        if parsed is None:
            return [buttons.NOT_OURS]
        return await self._once(
            platform, event_id, lambda: buttons.press(self.ctx, platform, *parsed, user), []
        )

    # --- what the engine and the clock do -------------------------------------------------------

    async def apply_result(self, result: Result) -> None:
        """Apply an engine result once, even when it is delivered twice or to two replicas."""
        if await self.ctx.seen.is_seen("result", result.job_id):
            return
        await engine_results.apply_result(self.ctx, result)
        await self.ctx.seen.mark("result", result.job_id, ttl_seconds=self.ctx.retention_seconds)

    async def relay_progress(self, progress: Progress, *, wait: bool = True) -> None:
        """Show a job's step on its campaign's status line, paced per campaign; the progress loop passes
        ``wait=False`` so one campaign's edits never hold up another's."""
        await engine_results.relay_progress(self.ctx, progress, wait=wait)

    async def close_due_rounds(self, now: float) -> int:
        """Close every round whose deadline passed; each round is closed by exactly one replica."""
        return await rounds.close_due_rounds(self.ctx, now)

    async def deliver_stale_effects(self, now: float, older_than: float = DEFAULT_SWEEP_AFTER_SECONDS) -> int:
        """Perform saved effects that no replica performed within ``older_than`` seconds."""
        return await self.ctx.effects.sweep(now, older_than)

    async def fire_due_schedules(self, now: float) -> int:
        """Open a campaign thread for each schedule that is due; returns how many were opened."""
        return await self.schedules.fire_due(now)

    async def forget_silent_workers(self, now: float) -> int:
        """Drop the heartbeats of engine workers that stopped without saying goodbye."""
        return await self.ctx.workers.forget_silent(now)

    async def _scheduled_draft(self, platform: str, channel_id: str, owner: User, draft: Draft) -> list[str]:
        return await start_campaign(self.ctx, platform, channel_id, owner, draft, lane="scheduled")

    # --- reading --------------------------------------------------------------------------------

    async def campaign(self, campaign_id: str) -> Campaign | None:
        return await self.ctx.campaigns.load(campaign_id)

    async def campaign_for_thread(self, thread: ThreadRef) -> Campaign | None:
        return await self.ctx.campaigns.for_thread(thread)

    async def campaigns_in_channel(self, platform: str, channel_id: str) -> list[Campaign]:
        """The channel's newest campaigns (``NEWEST_IN_CHANNEL`` of them), newest first."""
        return await self.ctx.campaigns.in_channel(platform, channel_id, NEWEST_IN_CHANNEL)

    async def tally(self, campaign_id: str, round_no: int) -> Tally:
        return await queries.tally(self.ctx, campaign_id, round_no)

    async def votes_of(self, campaign_id: str, round_no: int, numbers: list[int], user_id: str) -> set[int]:
        """Which of ``numbers`` ``user_id`` voted for in the round (one read, whatever the round's size)."""
        return await self.ctx.votes.voted_by(campaign_id, round_no, numbers, user_id)

    async def vote_counts(self, campaign_id: str, round_no: int) -> dict[int, int]:
        return await queries.vote_counts(self.ctx, campaign_id, round_no)

    async def engine_stats(self) -> dict[str, object]:
        """Queues, live workers and counters; a read: it never writes to Redis."""
        return await queries.engine_stats(self.redis, self.ctx.workers, self.clock(), self.redis_health)

    def read_artifact(self, key: str) -> bytes:
        return self.ctx.artifacts.get(key)

    async def _once(
        self, platform: str, event_id: str | None, work: Callable[[], Awaitable[R]], duplicate: R
    ) -> R:
        """Handle a platform event once; a failed attempt is forgotten so the platform's retry is handled."""
        if event_id is not None and not await self.ctx.seen.claim(platform, event_id):
            return duplicate
        try:
            return await work()
        except BaseException:
            if event_id is not None:
                await self.ctx.seen.release(platform, event_id)
            raise


__all__ = ["CampaignService", "new_campaign_id"]
