"""DiffusersRunner: the StageRunner that runs batches of compatible jobs through the real pipelines."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from engine.api import Job, JobKind, LoraSpec
from engine.compile import BUCKETS
from engine.oom import run_splitting
from engine.presets import DEFAULT_STRENGTH, FALLBACK, SPEED_LORA_NAME, SPEED_LORAS, Resolved, resolve
from engine.registry import ModelRegistry
from engine.runner import BadInput, Cancelled, JobOutput, RunContext
from engine.stages.common import Prepared, load_refs, run_batch
from engine.stages.draft import AestheticScorer, draft_mode, draft_pipeline, prepare_draft
from engine.stages.edit import prepare_inpaint, prepare_outpaint
from engine.stages.img2img import prepare_img2img
from engine.stages.upscale import find_faces, run_post

POST_KINDS = (JobKind.UPSCALE, JobKind.RESTORE_FACES)
SOURCE_SIZED = (JobKind.INPAINT, JobKind.OUTPAINT)  # size comes from the source image


class DiffusersRunner:
    def __init__(
        self,
        registry: ModelRegistry,
        *,
        max_faces: int = 8,
        default_model: str | None = None,
        max_batch: int = 8,
        speed_loras: Mapping[str, Path] | None = None,
    ) -> None:
        self.registry = registry
        # family -> few-step LoRA file, beyond the hub ones of engine.presets.SPEED_LORAS found in the cache
        self.speed_loras = dict(speed_loras or {})
        self._speed_files: dict[str, Path | None] = {}
        self.max_faces = max_faces
        self.default_model = default_model
        self.max_batch = max_batch
        self._scorers: dict[str, AestheticScorer | None] = {}
        self.load_seconds = 0.0  # loading models, LoRAs, adapters and post models: charged to no job
        self.compile_seconds = 0.0

    def overhead_seconds(self) -> tuple[float, float]:
        """Seconds spent so far loading and compiling (the worker meters them apart from the jobs)."""
        return self.load_seconds, self.compile_seconds

    @contextmanager
    def _loading(self) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.load_seconds += time.monotonic() - started

    def warm_up(self) -> None:
        """Load the default model's draft pipeline; with compile on, run one draft per batch bucket up to
        ``max_batch`` so compiling (and CUDA graph capture) happens now rather than in a user's job."""
        if not self.default_model:
            return
        job = Job(job_id="warm-up", campaign_id="warm-up", kind=JobKind.DRAFT, model=self.default_model)
        res = self.resolved(job)
        with self._loading():
            self._activate_loras(job, res)
            draft_pipeline(self.registry, job, res)
        if self.registry.compile_mode == "off":
            return
        started = time.monotonic()
        load_before = self.load_seconds
        for size in [b for b in BUCKETS if b <= self.max_batch] or [1]:
            seeds = list(range(size))
            warm = job.model_copy(update={"job_id": f"warm-up-{size}", "prompt": "warm-up", "seeds": seeds})
            self.run([warm], RunContext(load_artifact=_no_artifacts))
        self.compile_seconds += time.monotonic() - started - (self.load_seconds - load_before)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.registry.available())

    # --- batching ------------------------------------------------------------------------------

    def resolved(self, job: Job) -> Resolved:
        if job.kind == JobKind.REFINE and job.preset in ("draft", "draft-dpm"):
            job = job.model_copy(update={"preset": "final"})
        family = self.registry.family(job.model)
        res = resolve(job, family)
        if res.speed_lora and self.speed_lora_file(family) is None:
            res = resolve(job.model_copy(update={"preset": FALLBACK.get(job.preset, "draft-dpm")}), family)
        return res

    def speed_lora_file(self, family: str) -> Path | None:
        """The family's few-step LoRA on this machine (given, or in the hub cache), or None."""
        if family not in self._speed_files:
            found: Path | None = self.speed_loras.get(family)
            if found is None and family in SPEED_LORAS:
                from huggingface_hub import try_to_load_from_cache

                cached = try_to_load_from_cache(*SPEED_LORAS[family])
                found = Path(cached) if isinstance(cached, str) else None
            self._speed_files[family] = found if found is not None and found.is_file() else None
        return self._speed_files[family]

    def _activate_loras(self, job: Job, res: Resolved) -> None:
        """The job's LoRAs, plus the preset's few-step LoRA at full weight."""
        loras, extra = list(job.loras), {}
        speed = self.speed_lora_file(self.registry.family(job.model)) if res.speed_lora else None
        if speed is not None:
            loras.append(LoraSpec(name=SPEED_LORA_NAME, weight=1.0))
            extra[SPEED_LORA_NAME] = speed
        self.registry.apply_loras(job.model, loras, extra)

    def strength(self, job: Job) -> float | None:
        if job.kind in (JobKind.DRAFT, *POST_KINDS) and not (job.kind == JobKind.DRAFT and job.init_image):
            return None
        return job.strength if job.strength is not None else DEFAULT_STRENGTH.get(job.kind.value, 0.6)

    def group_key(self, job: Job) -> tuple[object, ...]:
        if job.kind in POST_KINDS:
            return ("post", job.kind.value, job.scale, job.face_restore)
        try:
            res = self.resolved(job)
        except (BadInput, KeyError):
            return ("invalid", job.job_id)
        size = None if job.kind in SOURCE_SIZED else (res.width, res.height)
        return (
            "diffusion",
            job.model,
            job.kind.value,
            draft_mode(job) if job.kind == JobKind.DRAFT else "",
            size,
            res.steps,
            res.guidance,
            res.scheduler,
            res.tiny_vae,
            self.strength(job),
            tuple((lora.name, lora.weight) for lora in job.loras),
            tuple(job.style_refs),
            job.character_ref,
            job.style_weight if (job.style_refs or job.character_ref) else None,
            job.control_kind if job.control_image else None,
        )

    # --- running -------------------------------------------------------------------------------

    def run(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        if ctx.is_cancelled():
            raise Cancelled("cancelled before start")
        groups: dict[tuple[object, ...], list[Job]] = {}
        for job in jobs:
            groups.setdefault(self.group_key(job), []).append(job)
        done: dict[str, JobOutput] = {}
        for group in groups.values():
            for out in self._run_group(group, ctx):
                done[out.job_id] = out
        return [done[job.job_id] for job in jobs]

    def _run_group(self, jobs: list[Job], ctx: RunContext) -> list[JobOutput]:
        if jobs[0].kind in POST_KINDS:
            return [self._guard(job, partial(self._run_post, job, ctx)) for job in jobs]
        try:
            res = self.resolved(jobs[0])
            family = self.registry.family(jobs[0].model)
        except BadInput as exc:
            return [JobOutput(job_id=job.job_id, error=str(exc)) for job in jobs]
        prepared: list[Prepared] = []
        errors: dict[str, JobOutput] = {}
        for job in jobs:
            try:
                prepared.append(self._prepare(job, res, family, ctx))
            except BadInput as exc:
                errors[job.job_id] = JobOutput(job_id=job.job_id, error=str(exc))
        outputs: list[JobOutput] = []
        by_size: dict[tuple[int, int], list[Prepared]] = {}
        for item in prepared:
            by_size.setdefault((item.width, item.height), []).append(item)
        for items in by_size.values():
            try:
                outputs.extend(self._diffuse(items, res, ctx))
            except BadInput as exc:
                outputs.extend(JobOutput(job_id=item.job.job_id, error=str(exc)) for item in items)
        outputs.extend(errors.values())
        return outputs

    def _prepare(self, job: Job, res: Resolved, family: str, ctx: RunContext) -> Prepared:
        if not job.seeds:
            raise BadInput("A job needs at least one seed.")
        if job.kind == JobKind.DRAFT:
            return prepare_draft(job, res, ctx)
        if job.kind in (JobKind.VARIATION, JobKind.IMG2IMG, JobKind.REFINE):
            return prepare_img2img(job, res, ctx)
        if job.kind == JobKind.INPAINT:
            restorer = self.registry.face_restorer(self.max_faces) if job.mask and job.mask.faces else None
            return prepare_inpaint(job, family, ctx, lambda img: find_faces(restorer, img))
        if job.kind == JobKind.OUTPAINT:
            return prepare_outpaint(job, family, ctx)
        raise BadInput(f"Unsupported job kind {job.kind.value!r}.")

    def _diffuse(self, items: list[Prepared], res: Resolved, ctx: RunContext) -> list[JobOutput]:
        first = items[0].job
        refs = load_refs(first, ctx)
        with self._loading():
            self._activate_loras(first, res)
            if first.kind == JobKind.DRAFT:
                pipe = draft_pipeline(self.registry, first, res)
            elif first.kind in (JobKind.INPAINT, JobKind.OUTPAINT):
                pipe = self.registry.pipeline(first.model, "inpaint")
            else:
                pipe = self.registry.pipeline(first.model, "img2img")
            self.registry.set_ip_adapter(first.model, pipe, first.style_weight if refs else None)
        kwargs: dict[str, object] = {}
        strength = self.strength(first)
        if strength is not None:
            kwargs["strength"] = strength

        scorer = self._scorer(first.model) if first.kind == JobKind.DRAFT else None
        score = scorer.scores if scorer is not None else None

        def call(part: list[Prepared]) -> list[JobOutput]:
            return run_batch(self.registry, pipe, part, res, ctx, refs, first.style_weight, score, **kwargs)

        return run_splitting(items, call)

    def _scorer(self, model: str | None) -> AestheticScorer | None:
        """The model's draft scorer: the CLIP image encoder beside its local IP-Adapter, loaded once;
        None (drafts go unscored) where the model has none."""
        name = model or self.default_model or ""
        if name not in self._scorers:
            self._scorers[name] = None
            try:
                ip = self.registry.spec(name).ip_adapter
            except (BadInput, KeyError, ValueError):
                ip = None
            folder = Path(ip.source) / ip.subfolder / "image_encoder" if ip is not None else None
            if folder is not None and folder.is_dir():
                with self._loading():
                    self._scorers[name] = AestheticScorer.load(folder, device=self.registry.device)
        return self._scorers[name]

    def _run_post(self, job: Job, ctx: RunContext) -> JobOutput:
        wants_faces = job.kind == JobKind.RESTORE_FACES or job.face_restore
        with self._loading():
            restorer = self.registry.face_restorer(self.max_faces) if wants_faces else None
            upscaler = self.registry.upscaler() if job.kind == JobKind.UPSCALE else None
        return run_post(job, ctx, upscaler, restorer)

    @staticmethod
    def _guard(job: Job, fn: Callable[[], JobOutput]) -> JobOutput:
        try:
            return fn()
        except BadInput as exc:
            return JobOutput(job_id=job.job_id, error=str(exc))


def _no_artifacts(key: str) -> bytes:
    raise BadInput("a warm-up job reads no images")
