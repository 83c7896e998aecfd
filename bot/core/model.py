"""The campaign document: stages, rounds, candidates with full lineage, the ledger.

Pure data. The campaign is stored in Redis as JSON with a version for compare-and-set writes.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from engine.api import JobKind, LoraSpec, MaskSpec


class Stage(enum.StrEnum):
    DRAFTING = "drafting"  # a round's drafts/variations are being made
    VOTING = "voting"  # the team votes on the latest grid
    PICKING = "picking"  # a round closed without winners: waiting for someone to pick or go on
    REFINING = "refining"  # the winners are being made at full quality
    EDITING = "editing"  # refined images are ready for post-edits, upscale or delivery
    INPAINTING = "inpainting"
    OUTPAINTING = "outpainting"
    RESTORING = "restoring"  # face restore
    UPSCALING = "upscaling"
    DONE = "done"  # delivered; upscale/faces of other candidates still allowed
    CANCELLED = "cancelled"
    FAILED = "failed"


TERMINAL_STAGES = frozenset({Stage.CANCELLED, Stage.FAILED})
WORKING_STAGES = frozenset(
    {Stage.DRAFTING, Stage.REFINING, Stage.INPAINTING, Stage.OUTPAINTING, Stage.RESTORING, Stage.UPSCALING}
)


class ThreadRef(BaseModel):
    """Where a campaign lives: one thread of one channel of one platform."""

    model_config = ConfigDict(frozen=True)
    platform: str  # "discord" | "slack" | "web"
    channel_id: str
    thread_id: str


class User(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    name: str = ""
    is_approver: bool = False  # holds the approver role on the platform
    is_bot: bool = False


class Settings(BaseModel):
    """Campaign defaults; a /draft's flags set them, later rounds inherit them."""

    prompt: str = ""
    negative: str = ""
    n: int = 8
    aspect: tuple[int, int] = (1, 1)
    preset: str = "draft"
    final_preset: str = "final"
    model: str = ""  # empty: the engine's default model
    steps: int | None = None
    guidance: float | None = None
    loras: list[LoraSpec] = Field(default_factory=list)
    style_refs: list[str] = Field(default_factory=list)
    style_weight: float = 0.6
    character_ref: str | None = None
    control_image: str | None = None
    control_kind: str | None = None
    vote_seconds: int = 30 * 60
    quorum: int | None = None
    top_k: int = 1
    budget_seconds: float | None = None  # device-seconds budget for the whole campaign
    # a round that closes with no votes advances its top-scored drafts instead of waiting for a pick
    advance_on_silence: bool = False


class Candidate(BaseModel):
    """One image. Numbers are campaign-wide (#1, #2, ...) so they stay valid across rounds."""

    number: int
    round_no: int
    stage: JobKind
    parent: int | None = None
    seed: int
    prompt: str
    negative: str = ""
    preset: str
    model: str
    loras: list[LoraSpec] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    mask: MaskSpec | None = None
    strength: float | None = None
    width: int = 0
    height: int = 0
    device_seconds: float = 0.0
    artifact: str = ""  # artifact key of the image; empty while pending
    job_id: str = ""
    score: float | None = None  # the engine's aesthetic estimate (drafts), a hint beside the team's votes


class Round(BaseModel):
    number: int
    kind: str  # "draft" | "variation" | "reroll"
    candidates: list[int] = Field(default_factory=list)  # numbers in grid order
    expected: int = 0  # images asked for
    open: bool = False  # voting open
    deadline: float | None = None
    quorum: int | None = None
    top_k: int = 1
    winners: list[int] = Field(default_factory=list)
    closed_by: str | None = None  # "deadline" | "quorum" | "select" | "superseded" | "cancel" | "scores"
    # the votes as last counted (candidate -> voters with the time of their vote), shown while it runs
    tally: dict[int, list[tuple[str, float]]] = Field(default_factory=dict)
    beside: int | None = None  # a branch: the round whose vote was open when this one was asked for
    # what made the round, so /reroll can repeat it
    parent: int | None = None  # variation rounds: the candidate varied
    init_image: str | None = None  # img2img rounds (--image) and variations: the source artifact
    strength: float | None = None


class PendingJob(BaseModel):
    job_id: str
    kind: JobKind
    stage: Stage  # the stage this job belongs to
    round_no: int | None = None
    parent: int | None = None
    expected: int = 1
    requested_by: str = ""
    created_at: float = 0.0
    # lineage fields copied onto each candidate the job produces
    prompt: str = ""
    negative: str = ""
    preset: str = "draft"
    model: str = ""
    loras: list[LoraSpec] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    mask: MaskSpec | None = None
    strength: float | None = None


class LedgerEntry(BaseModel):
    at: float
    job_id: str
    kind: JobKind
    user: str
    images: int
    device_seconds: float


class Campaign(BaseModel):
    id: str
    version: int = 0
    thread: ThreadRef
    owner: str
    created_at: float
    updated_at: float
    stage: Stage = Stage.DRAFTING
    settings: Settings = Field(default_factory=Settings)
    rounds: list[Round] = Field(default_factory=list)
    candidates: dict[int, Candidate] = Field(default_factory=dict)
    next_number: int = 1
    counter: int = 0  # jobs enqueued so far; job ids are f"{id}.j{counter}"
    pending: dict[str, PendingJob] = Field(default_factory=dict)
    applied_results: list[str] = Field(default_factory=list)  # job ids already applied
    ledger: list[LedgerEntry] = Field(default_factory=list)
    selected: list[int] = Field(default_factory=list)  # winners carried into refine / edits
    deliverables: list[int] = Field(default_factory=list)
    deliveries: int = 0  # /deliver packages posted, so each one is a new version with its own post
    failure: str | None = None
    finished_at: float | None = None

    @property
    def current_round(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None

    def spent_seconds(self) -> float:
        return sum(e.device_seconds for e in self.ledger)
