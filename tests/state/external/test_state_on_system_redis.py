"""The core state tests (campaign compare-and-set, votes, deadlines, idempotency, outbox, job and result
streams with their consumer groups) run unchanged against Debian's redis-server over TCP: the
``redis_server`` fixture of this folder replaces the bundled server."""

from __future__ import annotations

import redis.asyncio as aioredis

from tests.state.external.conftest import SystemRedis
from tests.state.test_campaigns import (
    test_a_conflicting_write_makes_update_retry_on_the_fresh_document,
    test_a_finished_campaign_does_not_expire_the_thread_of_its_successor,
    test_channel_listing_newest_first_and_drops_expired,
    test_concurrent_updates_from_two_clients_lose_nothing,
    test_create_load_and_indexes,
    test_finished_campaigns_expire_with_their_keys_and_revive_without,
    test_update_bumps_the_version_and_skips_unchanged_writes,
)
from tests.state.test_channel_reads import (
    test_listing_and_live_campaigns_cost_the_same_for_30_or_500_campaigns,
    test_the_live_index_follows_stage_changes_and_heals,
)
from tests.state.test_jobs import (
    test_a_dead_replicas_pending_results_are_claimed,
    test_enqueue_and_cancel,
    test_results_are_acknowledged_only_after_the_handler_succeeded,
    test_unreadable_entries_are_dropped_and_the_iterator_acks_after_the_body,
)
from tests.state.test_outbox import (
    test_an_outbox_is_forgotten_only_when_empty_and_not_registered_again,
    test_effects_are_stored_with_the_write_that_won_and_not_with_a_lost_attempt,
)
from tests.state.test_redis_connection import (
    test_a_burst_larger_than_the_pool_waits_for_connections_and_loses_nothing,
    test_a_pool_exhausted_past_its_wait_raises_busy,
)
from tests.state.test_votes_deadlines_seen import (
    test_a_due_round_is_claimed_by_exactly_one_replica,
    test_a_repeated_vote_keeps_the_first_time_and_unvote_removes_it,
    test_an_event_is_claimed_once_until_released,
    test_message_index_and_quota,
)


async def test_the_server_is_debians_redis_7_reached_over_tcp(
    redis_server: SystemRedis, redis: aioredis.Redis
) -> None:
    assert redis_server.version().startswith("7.")
    assert redis.connection_pool.connection_kwargs.get("port") == redis_server.port
    assert await redis.ping()


__all__ = [
    "test_a_burst_larger_than_the_pool_waits_for_connections_and_loses_nothing",
    "test_a_conflicting_write_makes_update_retry_on_the_fresh_document",
    "test_a_dead_replicas_pending_results_are_claimed",
    "test_a_due_round_is_claimed_by_exactly_one_replica",
    "test_a_finished_campaign_does_not_expire_the_thread_of_its_successor",
    "test_a_pool_exhausted_past_its_wait_raises_busy",
    "test_a_repeated_vote_keeps_the_first_time_and_unvote_removes_it",
    "test_an_event_is_claimed_once_until_released",
    "test_an_outbox_is_forgotten_only_when_empty_and_not_registered_again",
    "test_channel_listing_newest_first_and_drops_expired",
    "test_concurrent_updates_from_two_clients_lose_nothing",
    "test_create_load_and_indexes",
    "test_effects_are_stored_with_the_write_that_won_and_not_with_a_lost_attempt",
    "test_enqueue_and_cancel",
    "test_finished_campaigns_expire_with_their_keys_and_revive_without",
    "test_listing_and_live_campaigns_cost_the_same_for_30_or_500_campaigns",
    "test_message_index_and_quota",
    "test_results_are_acknowledged_only_after_the_handler_succeeded",
    "test_the_live_index_follows_stage_changes_and_heals",
    "test_unreadable_entries_are_dropped_and_the_iterator_acks_after_the_body",
    "test_update_bumps_the_version_and_skips_unchanged_writes",
]
