"""DiffusersRunner: the StageRunner that runs batches of compatible jobs through the real pipelines."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from engine.api import Job, JobKind
from engine.presets import DEFAULT_STRENGTH, Resolved, resolve
from engine.registry import ModelRegistry
from engine.runner import BadInput, Cancelled, JobOutput, RunContext
from engine.stages.common import Prepared, load_refs, run_batch
from engine.stages.draft import draft_mode, draft_pipeline, prepare_draft
from engine.stages.edit import prepare_inpaint, prepare_outpaint
from engine.stages.img2img import prepare_img2img
from engine.stages.upscale import find_faces, run_post

POST_KINDS = (JobKind.UPSCALE, JobKind.RESTORE_FACES)
SOURCE_SIZED = (JobKind.INPAINT, JobKind.OUTPAINT)  # size comes from the source image


class DiffusersRunner:
    def __init__(self, registry: ModelRegistry, *, max_faces: int = 8) -> None:
        self.registry = registry
        self.max_faces = max_faces

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.registry.available())

    # --- batching ------------------------------------------------------------------------------

    def resolved(self, job: Job) -> Resolved:
        if job.kind == JobKind.REFINE and job.preset == "draft":
            job = job.model_copy(update={"preset": "final"})
        return resolve(job, self.registry.family(job.model))

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
        self.registry.apply_loras(first.model, first.loras)
        kwargs: dict[str, object] = {}
        if first.kind == JobKind.DRAFT:
            pipe = draft_pipeline(self.registry, first, res)
        elif first.kind in (JobKind.INPAINT, JobKind.OUTPAINT):
            pipe = self.registry.pipeline(first.model, "inpaint")
        else:
            pipe = self.registry.pipeline(first.model, "img2img")
        strength = self.strength(first)
        if strength is not None:
            kwargs["strength"] = strength
        refs = load_refs(first, ctx)
        return run_batch(self.registry, pipe, items, res, ctx, refs, first.style_weight, **kwargs)

    def _run_post(self, job: Job, ctx: RunContext) -> JobOutput:
        wants_faces = job.kind == JobKind.RESTORE_FACES or job.face_restore
        restorer = self.registry.face_restorer(self.max_faces) if wants_faces else None
        upscaler = self.registry.upscaler() if job.kind == JobKind.UPSCALE else None
        return run_post(job, ctx, upscaler, restorer)

    @staticmethod
    def _guard(job: Job, fn: Callable[[], JobOutput]) -> JobOutput:
        try:
            return fn()
        except BadInput as exc:
            return JobOutput(job_id=job.job_id, error=str(exc))
