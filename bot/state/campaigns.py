"""Campaign documents in Redis: JSON with a version, written by compare-and-set.

Every write goes through one Lua script that compares the stored version with the one the writer read,
so two bot replicas never overwrite each other's changes. The same script stores the write's effects in
the campaign's outbox (a key in the document's Cluster slot), so a saved change never loses its posts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from redis.asyncio import Redis

from bot.core.effects import Effect
from bot.core.model import Campaign, ThreadRef
from bot.state import keys, outbox, retention
from bot.state.codec import as_str
from bot.state.live_index import LiveIndex, is_live

T = TypeVar("T")

# KEYS[1] document, KEYS[2] its outbox; ARGV: expected version, new document, ttl seconds (0: keep
# forever), then outbox field/value pairs
_CAS = """
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if tonumber(cjson.decode(cur)['version']) ~= tonumber(ARGV[1]) then return 0 end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[2])
end
if #ARGV > 3 then redis.call('HSET', KEYS[2], unpack(ARGV, 4)) end
return 1
"""

# KEYS[1] document, KEYS[2] its outbox; ARGV: document, then outbox field/value pairs
_CREATE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return 0 end
if #ARGV > 1 then redis.call('HSET', KEYS[2], unpack(ARGV, 2)) end
return 1
"""

# what a channel listing or a channel's /status reads, however long the channel's history
NEWEST_IN_CHANNEL = 25

EffectsOf = Callable[[T], Sequence[Effect]]


class CampaignNotFound(LookupError):
    pass


class CampaignExists(RuntimeError):
    pass


class UpdateConflict(RuntimeError):
    """The document kept changing under us for ``max_attempts`` tries."""


class CampaignStore:
    def __init__(
        self,
        redis: Redis,
        *,
        retention_seconds: int = retention.DEFAULT_RETENTION_SECONDS,
        max_attempts: int = 200,
    ) -> None:
        self.redis = redis
        self.retention_seconds = retention_seconds
        self.max_attempts = max_attempts
        self._cas = redis.register_script(_CAS)
        self._create = redis.register_script(_CREATE)
        self.outbox = outbox.OutboxStore(redis)
        self.live = LiveIndex(redis)

    async def load(self, campaign_id: str) -> Campaign | None:
        raw = await self.redis.get(keys.campaign(campaign_id))
        return None if raw is None else Campaign.model_validate_json(raw)

    async def load_many(self, campaign_ids: list[str]) -> list[Campaign | None]:
        if not campaign_ids:
            return []
        raws = await self.redis.mget([keys.campaign(cid) for cid in campaign_ids])
        return [None if raw is None else Campaign.model_validate_json(raw) for raw in raws]

    async def create(self, campaign: Campaign, effects: Sequence[Effect] = (), now: float = 0.0) -> None:
        """Store a new campaign (with its first effects in its outbox) and index it by thread and channel;
        fails if the id is taken."""
        pairs = outbox.encode(campaign.id, campaign.version, now, effects)
        if pairs:
            await self.outbox.register(campaign.id, now)
        created = await self._create(
            keys=[keys.campaign(campaign.id), keys.outbox(campaign.id)],
            args=[campaign.model_dump_json(), *pairs],
        )
        if not created:
            raise CampaignExists(campaign.id)
        t = campaign.thread
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.thread(t.platform, t.channel_id, t.thread_id), campaign.id)
            pipe.zadd(keys.channel(t.platform, t.channel_id), {campaign.id: campaign.created_at})
            await pipe.execute()
        await self.live.note(None, campaign)

    async def update(
        self, campaign_id: str, fn: Callable[[Campaign], tuple[Campaign, T]]
    ) -> tuple[Campaign, T]:
        """Read, transform, compare-and-set; ``fn`` is re-run on the fresh document after a conflict.

        ``fn`` must be pure. When it returns the document unchanged, nothing is written.
        """
        campaign, out, _ = await self.update_with_effects(campaign_id, fn)
        return campaign, out

    async def update_with_effects(
        self,
        campaign_id: str,
        fn: Callable[[Campaign], tuple[Campaign, T]],
        effects_of: EffectsOf[T] | None = None,
        now: float = 0.0,
    ) -> tuple[Campaign, T, bool]:
        """``update``, also storing ``effects_of(out)`` in the campaign's outbox in the same atomic write.

        The flag says whether a write happened (an unchanged document stores no effects).
        """
        for _ in range(self.max_attempts):
            old = await self.load(campaign_id)
            if old is None:
                raise CampaignNotFound(campaign_id)
            new, out = fn(old.model_copy(deep=True))
            if new == old:
                return old, out, False
            new = new.model_copy(update={"version": old.version + 1})
            finished = retention.is_finished(new)
            ttl = self.retention_seconds if finished else 0
            pairs = outbox.encode(campaign_id, new.version, now, effects_of(out) if effects_of else ())
            if pairs:
                await self.outbox.register(campaign_id, now)
            status = await self._cas(
                keys=[keys.campaign(campaign_id), keys.outbox(campaign_id)],
                args=[old.version, new.model_dump_json(), ttl, *pairs],
            )
            if status == -1:
                raise CampaignNotFound(campaign_id)
            if status == 1:
                if is_live(old) != is_live(new):
                    await self.live.note(old, new)
                if finished:
                    await retention.expire_owned(self.redis, new, self.retention_seconds)
                elif retention.is_finished(old):
                    await retention.persist_owned(self.redis, new)
                return new, out, True
        raise UpdateConflict(campaign_id)

    async def id_for_thread(self, thread: ThreadRef) -> str | None:
        raw = await self.redis.get(keys.thread(thread.platform, thread.channel_id, thread.thread_id))
        return None if raw is None else as_str(raw)

    async def for_thread(self, thread: ThreadRef) -> Campaign | None:
        campaign_id = await self.id_for_thread(thread)
        return None if campaign_id is None else await self.load(campaign_id)

    async def in_channel(self, platform: str, channel_id: str, limit: int | None = None) -> list[Campaign]:
        """The channel's newest ``limit`` campaigns (all of them for None), newest first.

        With a limit (``NEWEST_IN_CHANNEL`` for listings and /status) only that many documents are
        read, through the channel's sorted set, so the cost does not grow with the channel's history.
        Ids whose document expired are dropped from the index on the way.
        """
        index = keys.channel(platform, channel_id)
        found: list[Campaign] = []
        start = 0
        while limit is None or len(found) < limit:
            stop = -1 if limit is None else start + (limit - len(found)) - 1
            ids = [as_str(m) for m in await self.redis.zrevrange(index, start, stop)]
            if not ids:
                break
            loaded = await self.load_many(ids)
            gone = [cid for cid, c in zip(ids, loaded, strict=True) if c is None]
            if gone:
                await self.redis.zrem(index, *gone)
            found += [c for c in loaded if c is not None]
            if limit is None:
                break
            start += len(ids) - len(gone)
        return found

    async def count_in_channel(self, platform: str, channel_id: str) -> int:
        """How many campaigns the channel's index holds (expired ones count until a listing drops them)."""
        return int(await self.redis.zcard(keys.channel(platform, channel_id)))

    async def live_in_channel(self, platform: str, channel_id: str) -> list[Campaign]:
        """The channel's campaigns that are neither cancelled nor failed, newest first, read through the
        live index: the cost follows the live campaigns, not the channel's history."""
        if not await self.live.is_built(platform, channel_id):
            await self.live.rebuild(platform, channel_id, await self.in_channel(platform, channel_id))
        ids = await self.live.ids(platform, channel_id)
        loaded = await self.load_many(ids)
        stale = [cid for cid, c in zip(ids, loaded, strict=True) if c is None or not is_live(c)]
        await self.live.drop(platform, channel_id, stale)
        return [c for c in loaded if c is not None and is_live(c)]
