"""``draftloop doctor``: what a worker can serve on this machine. The device, its precision and free
memory; each model of the catalog (or the one named) and each of its extras, present or missing with the
command that fixes it; the LoRA folder; the upscaler and face-restorer weights. Nothing is loaded."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from engine.api import lora_fits
from engine.catalog import KNOWN_MODELS, ModelSpec, default_post_spec, folder_spec, guess_family
from engine.loras import LoraFile, scan_lora_dir
from engine.model_catalog_file import catalog_path, load_catalog
from engine.pull.sources import LCM_LORAS, UPSCALERS, model_sources
from engine.pull.variants import local_folder
from engine.single_file import config_source, local_config_folder, missing_config_hint

TINY_NAMES = ("tiny-sd", "tiny-sdxl")


@dataclass(frozen=True)
class ModelPlaces:
    """Where a worker looks for its models (bot.config's settings of the same names)."""

    data_dir: Path = Path("data")
    model: str | None = None  # DRAFTLOOP_MODEL
    models_file: Path | None = None  # DRAFTLOOP_MODELS
    lora_dir: Path | None = None  # DRAFTLOOP_LORA_DIR
    weights_dir: Path | None = None  # DRAFTLOOP_WEIGHTS

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ModelPlaces:
        env = dict(os.environ if environ is None else environ)

        def path(name: str) -> Path | None:
            return Path(env[name]).expanduser() if env.get(name) else None

        return cls(
            data_dir=path("DRAFTLOOP_DATA_DIR") or Path("data"),
            model=env.get("DRAFTLOOP_MODEL") or None,
            models_file=path("DRAFTLOOP_MODELS"),
            lora_dir=path("DRAFTLOOP_LORA_DIR"),
            weights_dir=path("DRAFTLOOP_WEIGHTS"),
        )

    @property
    def tiny_dir(self) -> Path:
        return self.data_dir / "models"


@dataclass(frozen=True)
class Check:
    what: str  # "base model", "draft decoder", "canny ControlNet", ...
    where: str
    present: bool
    fix: str = ""


@dataclass
class ModelReport:
    name: str
    family: str
    checks: list[Check] = field(default_factory=list)

    @property
    def servable(self) -> bool:
        return self.checks[0].present if self.checks else False


@dataclass
class Report:
    device: str
    dtype: str
    free_memory: str
    default_model: str
    catalog: Path | None
    models: list[ModelReport]
    loras: list[LoraFile]
    post: list[Check]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and any(m.name == self.default_model and m.servable for m in self.models)


def pull_name_for(repo_id: str) -> str | None:
    """The ``models pull`` name that fetches ``repo_id`` (a base model or one of its extras)."""
    for name, spec in sorted(KNOWN_MODELS.items()):
        if any(source.repo_id == repo_id for source in model_sources(spec, LCM_LORAS.get(spec.family))):
            return name
    return None


def _fix(source: str) -> str:
    name = pull_name_for(source)
    if name is not None:
        return f"draftloop models pull {name}"
    if Path(source).expanduser().is_absolute() or source.startswith("."):
        return "the folder is missing: check the path in the catalog"
    return f"download {source} into the Hugging Face cache (or set DRAFTLOOP_ALLOW_DOWNLOAD=1)"


def _hub_check(what: str, source: str) -> Check:
    present = local_folder(source) is not None
    return Check(what, source, present, "" if present else _fix(source))


def model_checks(spec: ModelSpec) -> list[Check]:
    """The base weights first, then the draft decoder, IP-Adapter and ControlNets."""
    if spec.single_file:
        checkpoint = Path(spec.source)
        checks = [
            Check(
                "checkpoint",
                spec.source,
                checkpoint.is_file(),
                "" if checkpoint.is_file() else "no such file",
            )
        ]
        configs = config_source(spec) or "none"
        has_configs = local_config_folder(spec) is not None
        checks.append(
            Check("component configs", configs, has_configs, "" if has_configs else missing_config_hint(spec))
        )
    else:
        checks = [_hub_check("base model", spec.source)]
    if spec.draft_vae:
        checks.append(_hub_check("draft decoder", spec.draft_vae))
    if spec.ip_adapter:
        ip = spec.ip_adapter
        folder = local_folder(ip.source)
        present = folder is not None and (folder / ip.subfolder / ip.weight_name).is_file()
        checks.append(
            Check(
                "IP-Adapter",
                f"{ip.source} {ip.subfolder}/{ip.weight_name}",
                present,
                "" if present else _fix(ip.source),
            )
        )
    for kind, source in sorted(spec.controlnets.items()):
        checks.append(_hub_check(f"{kind} ControlNet", source))
    return checks


def _device() -> tuple[str, str, str]:
    from engine import devices

    device, dtype = devices.auto_device()
    if device == "cuda":
        import torch

        free, total = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        return (
            f"cuda ({name})",
            str(dtype).removeprefix("torch."),
            f"{free / 2**30:.1f} of {total / 2**30:.1f} GiB GPU",
        )
    try:
        free_ram = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{free_ram / 2**30:.1f} GiB RAM"
    except (ValueError, OSError):
        memory = "unknown"
    return device, str(dtype).removeprefix("torch."), memory


def _named_spec(name: str) -> ModelSpec:
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    found = folder_spec(Path(name).expanduser())
    return found or ModelSpec(name, guess_family(name))


def diagnose(places: ModelPlaces) -> Report:
    problems: list[str] = []
    catalog_file = catalog_path(places.models_file, places.data_dir)
    try:
        catalog = load_catalog(catalog_file)
    except ValueError as exc:
        problems.append(str(exc))
        catalog = load_catalog(None)
    specs: dict[str, ModelSpec] = dict(catalog.models)
    default = places.model or catalog.default
    models: list[ModelReport] = []
    if default is None:
        from engine.tiny import MARKER

        default = "tiny-sd"
        built = (places.tiny_dir / MARKER).exists()
        where = str(places.tiny_dir)
        for name in TINY_NAMES:
            fix = "" if built else "built on the worker's first start (or: draftloop models tiny)"
            models.append(ModelReport(name, name, [Check("tiny offline model", where, built, fix)]))
    elif default not in specs:
        specs[default] = _named_spec(default)
    for name, spec in specs.items():
        models.append(ModelReport(name, spec.family, model_checks(spec)))
    loras = list(scan_lora_dir(places.lora_dir).values())
    if places.lora_dir is not None and not places.lora_dir.expanduser().is_dir():
        problems.append(f"DRAFTLOOP_LORA_DIR {places.lora_dir} is not a folder")
    post = default_post_spec(places.weights_dir)
    post_checks = [
        Check(what, str(path), path.is_file(), "" if path.is_file() else f"draftloop models pull {UPSCALERS}")
        for what, path in (("upscaler", post.esrgan), ("face restorer", post.gfpgan))
    ]
    device, dtype, memory = _device()
    return Report(device, dtype, memory, default, catalog_file, models, loras, post_checks, problems)


def _line(check: Check) -> str:
    mark = "ok     " if check.present else "MISSING"
    fix = f"  -> {check.fix}" if check.fix else ""
    return f"    {mark} {check.what}: {check.where}{fix}"


def lora_line(lora: LoraFile, families: set[str]) -> str:
    family = lora.family or "any family"
    triggers = f"; triggers: {', '.join(lora.triggers)}" if lora.triggers else ""
    unused = (
        "" if any(lora_fits(lora.family, f) for f in families) or not families else "  (fits no model here)"
    )
    return f"  {lora.name:<16} {family}{triggers}{unused}"


def render(report: Report) -> str:
    lines = [
        f"device: {report.device}, {report.dtype}, free memory {report.free_memory}",
        f"catalog: {report.catalog or 'none (DRAFTLOOP_MODELS, or models.toml in the data dir)'}",
        f"default model: {report.default_model}",
        "models:",
    ]
    for model in report.models:
        state = "can serve" if model.servable else "CANNOT serve"
        lines.append(f"  {model.name} ({model.family}): {state}")
        lines.extend(_line(check) for check in model.checks)
    families = {m.family for m in report.models if m.servable}
    lines.append(f"LoRAs: {len(report.loras) or 'none'}")
    lines.extend(lora_line(lora, families) for lora in report.loras)
    lines.append("post-processing:")
    lines.extend(_line(check) for check in report.post)
    lines.extend(f"problem: {problem}" for problem in report.problems)
    lines.append(
        "ready: the default model can be served" if report.ok else "NOT READY: fix what is marked above"
    )
    return "\n".join(lines)


def doctor_main(places: ModelPlaces) -> int:
    """Print the report; 0 when the default model can be served, 1 otherwise."""
    report = diagnose(places)
    print(render(report))
    disk = shutil.disk_usage(places.data_dir if places.data_dir.exists() else Path.cwd())
    print(f"disk free under the data dir: {disk.free / 2**30:.1f} GiB")
    return 0 if report.ok else 1
