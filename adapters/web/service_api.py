"""What the playground calls on ``bot.service.CampaignService``, and the settings its routes share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from adapters.web.presenter import WebPresenter
from bot.core.events import Tally
from bot.core.model import Campaign, ThreadRef, User


class CampaignServiceAPI(Protocol):
    """The playground's port: the part of ``CampaignService`` its routes may call, and nothing more.

    It repeats those signatures on purpose: mypy checks the real service against it where the wiring
    hands the service to ``WebApp``, and the routes cannot reach the rest of the service.
    """

    async def handle_text(
        self,
        platform: str,
        channel_id: str,
        thread_id: str | None,
        user: User,
        text: str,
        attachments: Mapping[str, bytes] = ...,
        event_id: str | None = ...,
    ) -> list[str]: ...

    async def handle_reaction(
        self, platform: str, message_id: str, emoji: str, user: User, added: bool, event_id: str | None = ...
    ) -> str | None: ...

    async def handle_action(
        self, platform: str, action_id: str, user: User, event_id: str | None = ...
    ) -> list[str]: ...

    async def campaign(self, campaign_id: str) -> Campaign | None: ...

    async def campaign_for_thread(self, thread: ThreadRef) -> Campaign | None: ...

    async def campaigns_in_channel(self, platform: str, channel_id: str) -> list[Campaign]: ...

    async def tally(self, campaign_id: str, round_no: int) -> Tally: ...

    async def vote_counts(self, campaign_id: str, round_no: int) -> dict[int, int]: ...

    async def votes_of(
        self, campaign_id: str, round_no: int, numbers: list[int], user_id: str
    ) -> set[int]: ...

    async def engine_stats(self) -> dict[str, object]: ...

    def read_artifact(self, key: str) -> bytes: ...


@dataclass
class WebContext:
    """What every route module works with."""

    service: CampaignServiceAPI
    presenter: WebPresenter
    max_upload_bytes: int
