"""The one cycle every campaign change goes through: load → apply (pure core) → save with an outbox → perform.

The effects are saved with the campaign in the same atomic write (its outbox) and performed after it,
so a replica that lost a race never enqueues or posts, and one that stopped after the save leaves them
for the next replica (see bot.usecases.delivery).
"""

from __future__ import annotations

import secrets

from bot.core import machine
from bot.core.commands import Draft
from bot.core.effects import Effect, Enqueue, Reply
from bot.core.events import CommandEvent, Event
from bot.core.model import Campaign, ThreadRef, User
from bot.usecases.context import UseCaseContext
from bot.usecases.delivery import durable

INTERACTIVE_LANE = "interactive"


def new_campaign_id() -> str:
    return secrets.token_hex(8)


def images_asked(effects: list[Effect]) -> int:
    return sum(len(e.job.seeds) for e in effects if isinstance(e, Enqueue))


def replies(effects: list[Effect]) -> list[str]:
    return [e.text for e in effects if isinstance(e, Reply)]


def _on_lane(effects: list[Effect], lane: str) -> list[Effect]:
    if lane == INTERACTIVE_LANE:
        return effects
    return [
        Enqueue(job=e.job.model_copy(update={"lane": lane})) if isinstance(e, Enqueue) else e for e in effects
    ]


async def quota_used(ctx: UseCaseContext, user: User | None, now: float) -> int:
    if user is None or ctx.quota_images_per_day is None:
        return 0
    return await ctx.quota.used(user.id, now)


def step(
    ctx: UseCaseContext, campaign: Campaign, event: Event, now: float, used: int
) -> tuple[Campaign, list[Effect]]:
    """The core's transition, on the command's lane, refused when it would exceed the user's quota."""
    new, effects = machine.apply(campaign, event, now)
    if isinstance(event, CommandEvent):
        effects = _on_lane(effects, event.lane)
    limit = ctx.quota_images_per_day
    asked = images_asked(effects)
    if limit is not None and isinstance(event, CommandEvent) and asked and used + asked > limit:
        left = max(limit - used, 0)
        text = (
            f"That would make {asked} images, and you have {left} of your {limit} images for today left. "
            "The quota resets at 00:00 UTC."
        )
        return campaign, [Reply(text=text, error=True)]
    return new, effects


async def apply_event(
    ctx: UseCaseContext,
    campaign_id: str,
    event: Event,
    *,
    user: User | None = None,
    post_replies: bool = False,
) -> list[str]:
    """Apply ``event`` to a saved campaign; returns the replies meant for the person who acted."""
    now = ctx.clock()
    used = await quota_used(ctx, user, now)
    campaign, effects, saved = await ctx.campaigns.update_with_effects(
        campaign_id,
        lambda c: step(ctx, c, event, now, used),
        lambda effects: durable(campaign_id, effects, post_replies),
        now,
    )
    if user is not None and ctx.quota_images_per_day is not None and images_asked(effects):
        await ctx.quota.add(user.id, images_asked(effects), now)
    if not saved:
        await ctx.effects.perform_unsaved(campaign, durable(campaign_id, effects, post_replies))
    await ctx.effects.deliver(campaign)  # this write's effects, and any an earlier replica left
    return replies(effects)


async def start_campaign(
    ctx: UseCaseContext,
    platform: str,
    channel_id: str,
    user: User,
    draft: Draft,
    lane: str = INTERACTIVE_LANE,
) -> list[str]:
    """A /draft outside a campaign: opens a thread and starts a campaign in it, unless it is refused."""
    presenter = ctx.presenter(platform)
    now = ctx.clock()
    used = await quota_used(ctx, user, now)
    campaign_id = new_campaign_id()

    def draft_in(thread: ThreadRef) -> tuple[Campaign, list[Effect]]:
        event = CommandEvent(user=user, command=draft, thread=thread, lane=lane)
        return step(ctx, new_campaign(ctx, campaign_id, thread, user, now), event, now, used)

    # A dry run in a placeholder thread: a refused /draft opens no thread.
    _, effects = draft_in(ThreadRef(platform=platform, channel_id=channel_id, thread_id=""))
    if not any(isinstance(e, Enqueue) for e in effects):
        return replies(effects)
    campaign, effects = draft_in(await presenter.open_thread(channel_id, title=draft.prompt[:80]))
    await ctx.campaigns.create(campaign, durable(campaign.id, effects, False), now)
    if ctx.quota_images_per_day is not None:
        await ctx.quota.add(user.id, images_asked(effects), now)
    await ctx.effects.deliver(campaign)
    return replies(effects)


def new_campaign(
    ctx: UseCaseContext, campaign_id: str, thread: ThreadRef, user: User, now: float
) -> Campaign:
    campaign = machine.new_campaign(campaign_id, thread, user, now)
    if ctx.default_model and not campaign.settings.model:
        campaign.settings.model = ctx.default_model
    return campaign
