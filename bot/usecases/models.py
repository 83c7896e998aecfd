"""The models and LoRAs a team may use, from what live workers advertise: a mistyped ``--model``, an
unknown LoRA or a LoRA for another family is refused before anything is queued, naming what fits;
``/help models`` lists them; ``/settings model NAME`` in a channel sets the channel's default model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.core.commands import Command, Draft, Help, ScheduleAdd, SettingsCmd
from bot.core.model import TERMINAL_STAGES, Campaign
from bot.state.channel_models import ChannelModels
from bot.state.workers import WorkerBeats
from bot.usecases.context import UseCaseContext
from engine.api import LoraOffer, LoraSpec, lora_fits

HELP_TOPIC = "models"


@dataclass(frozen=True)
class Offered:
    """What the live workers serve, all of them together."""

    names: set[str] = field(default_factory=set)  # every name some worker knows
    families: dict[str, str] = field(default_factory=dict)  # name -> family, of the models on their disks
    loras: dict[str, LoraOffer] = field(default_factory=dict)
    defaults: set[str] = field(default_factory=set)  # the workers' own default models

    @property
    def empty(self) -> bool:
        return not self.names and not self.families

    def fitting_loras(self, model: str) -> list[str]:
        family = self.families.get(model)
        return sorted(n for n, lora in self.loras.items() if family is None or lora_fits(lora.family, family))


async def offered(workers: WorkerBeats, now: float) -> Offered:
    result = Offered()
    for beat in (await workers.live(now)).values():
        result.names.update(beat.models, beat.families)
        result.families.update(beat.families)
        result.loras.update({lora.name: lora for lora in beat.loras})
        result.defaults.add(beat.model)
    return result


def _is_path_or_hub_id(model: str) -> bool:
    return "/" in model or model.startswith((".", "~"))


def model_refusal(offer: Offered, model: str | None) -> str | None:
    """The refusal for a model name no live worker knows; None when it may be fine (paths and hub ids are
    left to the worker that loads them; with no live worker the job waits in the queue)."""
    if not model or _is_path_or_hub_id(model) or offer.empty or model in offer.names:
        return None
    names = sorted(offer.families or offer.names)
    return (
        f"--model: no worker knows '{model}'. Available: {', '.join(names)} "
        f"(or a diffusers folder or hub id). Example: `/draft a fox --model {names[0]}`"
    )


def lora_refusal(offer: Offered, model: str, loras: Sequence[LoraSpec]) -> str | None:
    """The refusal for a LoRA no worker has, or one trained for another family than ``model``'s."""
    if offer.empty or not loras:
        return None
    fitting = offer.fitting_loras(model)
    listed = ", ".join(fitting) or "none"
    for lora in loras:
        found = offer.loras.get(lora.name)
        if found is None:
            return f"--lora: no worker has a LoRA '{lora.name}'. LoRAs for {model}: {listed}"
        family = offer.families.get(model)
        if family is not None and not lora_fits(found.family, family):
            return (
                f"--lora: '{lora.name}' is for {found.family} models and '{model}' is {family}. "
                f"LoRAs for {model}: {listed}"
            )
    return None


async def draft_refusal(
    workers: WorkerBeats, model: str | None, default_model: str, loras: Sequence[LoraSpec], now: float
) -> str | None:
    """Why a draft with this ``--model`` (or the default) and these LoRAs can't run; None when it can."""
    offer = await offered(workers, now)
    return model_refusal(offer, model) or lora_refusal(offer, model or default_model, loras)


def models_text(offer: Offered, default_model: str) -> str:
    """``/help models``: each model with its family, the default marked, and each LoRA with its family and
    trigger words."""
    if offer.empty:
        return "No engine worker is running, so there is no list of models yet. Drafts wait in the queue."
    lines = ["Models (`/draft ... --model NAME`; `/settings model NAME` sets the default here):"]
    for name in sorted(offer.families or offer.names):
        family = offer.families.get(name, "")
        mark = " (default)" if name == default_model else ""
        lines.append(f"• {name}{mark}" + (f": {family}" if family else ""))
    if not offer.loras:
        lines.append("LoRAs: none (a worker's DRAFTLOOP_LORA_DIR holds them).")
        return "\n".join(lines)
    lines.append("LoRAs (`--lora NAME:0.8`):")
    for name, lora in sorted(offer.loras.items()):
        triggers = f"; trigger words: {', '.join(lora.triggers)}" if lora.triggers else ""
        lines.append(f"• {name}: {lora.family or 'any model'}{triggers}")
    return "\n".join(lines)


async def set_channel_model(
    channels: ChannelModels, workers: WorkerBeats, platform: str, channel_id: str, model: str, now: float
) -> str:
    """``/settings model NAME`` in a channel: the channel's new default, or why not; ``none`` clears it."""
    if model.lower() in ("none", "default"):
        await channels.set(platform, channel_id, None)
        return "This channel's drafts use the workers' default model again."
    refusal = model_refusal(await offered(workers, now), model)
    if refusal is not None:
        return refusal.replace("--model:", "/settings model:", 1).replace(
            "/draft a fox --model", "/settings model"
        )
    await channels.set(platform, channel_id, model)
    return f"New drafts in this channel use the model {model}. (`/settings model none` undoes it.)"


async def check_command(
    ctx: UseCaseContext, platform: str, channel_id: str, campaign: Campaign | None, command: Command
) -> tuple[str | None, Command]:
    """Before a command runs: answer ``/help models`` and a channel's ``/settings model``, refuse a model
    or LoRA no worker can serve, and give a new campaign its channel's default model. Returns the answer
    that ends the command (None: go on) and the command to go on with."""
    now = ctx.clock()
    channels = ChannelModels(ctx.redis)
    live = campaign if campaign is not None and campaign.stage not in TERMINAL_STAGES else None
    if isinstance(command, Help) and command.topic == HELP_TOPIC:
        default = (live.settings.model if live else None) or await channels.get(platform, channel_id)
        return models_text(await offered(ctx.workers, now), default or ctx.default_model), command
    wanted = getattr(command, "model", None) if isinstance(command, SettingsCmd) else None
    if isinstance(command, SettingsCmd) and wanted:
        if live is None and command.campaign is None:
            if command != SettingsCmd(model=wanted):
                return "In a channel, type `/settings model NAME` on its own.", command
            return await set_channel_model(channels, ctx.workers, platform, channel_id, wanted, now), command
        return model_refusal(await offered(ctx.workers, now), wanted), command
    draft = command.draft if isinstance(command, ScheduleAdd) else command
    if not isinstance(draft, Draft):
        return None, command
    channel_default = await channels.get(platform, channel_id)
    inherited = live.settings.model if live is not None else None
    default = inherited or channel_default or ctx.default_model
    refusal = await draft_refusal(ctx.workers, draft.model, default, draft.loras, now)
    if refusal is not None:
        return refusal, command
    if isinstance(command, Draft) and command.model is None and live is None and channel_default:
        command = command.model_copy(update={"model": channel_default})
    return None, command
