"""Training a timbral model from a prepared dataset: one loop, readable in one sitting.

``train(dataset, output)`` builds the preset's model, then repeats: draw a
batch of random windows, synthesise, multi-scale spectral loss, Adam step
with global-norm clipping and a continuously decaying learning rate. Every
``validation_every`` steps it measures the loss on the held-out windows;
every ``checkpoint_every`` steps it writes ``output/train/checkpoint.safetensors``
atomically. At the end it writes the model folder (config, weights,
statistics, model card) and a picture of the loss curve.

Reproducible: batch ``step`` on rank ``r`` is drawn from a generator seeded
with ``(seed, step, r)``, and the noise synth's torch generator likewise, so a
run resumed from a checkpoint continues exactly as an uninterrupted one.

Distributed data parallel: launched by ``torchrun --nproc_per_node=N``, each
rank trains on ``batch_size / N`` windows and gradients are averaged (gloo on
CPU, nccl on GPU); rank 0 writes every file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from ..data.dataset import TrainingData, dataset_size
from ..data.statistics import compute_dataset_statistics
from ..files import atomic_output, write_error
from ..processors.losses import SpectralLoss
from ..processors.synths import MAX_GAIN_DB
from ..models import DEFAULT_PRESET, PRESETS, Autoencoder, preset_config, save_model_folder
from ..models.config import reverb_of
from ..models.folder import CHECKPOINT_FILE
from ..models.warmstart import init_from as init_from_model
from ..validation import check_positive, check_seed, check_size
from .calibration import calibrate_level
from .checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint

CHECKPOINT = CHECKPOINT_FILE
METRICS = "metrics.jsonl"
MAX_VALIDATION_EXAMPLES = 64
MIN_VALIDATION_SECONDS = 0.5
#: Less training audio than this (seconds) gets a warning: the shipped models learned
#: from 5 minutes; a few seconds teach a handful of notes.
MIN_TRAINING_SECONDS = 60.0
#: A step whose loss exceeds the run's first by this factor (or is NaN or infinite)
#: means the run diverged (spectral losses start near 10-30 and fall).
DIVERGENCE_FACTOR = 100.0


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped :func:`train` after a whole step; its checkpoint is saved.

    Attributes: ``step`` (steps done) and ``checkpoint`` (its path).
    """

    def __init__(self, step: int, checkpoint: Path):
        super().__init__(f"stopped after step {step}; the checkpoint {checkpoint} is saved: "
                         f"train again with resume=True to continue")
        self.step, self.checkpoint = step, checkpoint


class TrainingDiverged(ValueError):
    """Training stopped: the loss became NaN, infinite or exploded, or the model's
    controls did; that step was not applied, the last checkpoint is kept."""


@dataclass
class TrainResult:
    """What a run did: its folder, steps, wall time (s) and final losses."""
    output: Path
    steps: int
    seconds: float
    train_loss: float
    validation_loss: float
    history: List[dict] = field(default_factory=list)


def _distributed() -> tuple:
    """(rank, world size, device), joining the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if world > 1 and not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if cuda else "gloo")
    return (dist.get_rank() if world > 1 else 0), world, device


def _features(batch: dict, device) -> dict:
    return {k: torch.from_numpy(np.ascontiguousarray(batch[k])).to(device)
            for k in ("f0_hz", "loudness_db")}


@contextmanager
def _stop_requests() -> Iterator[list]:
    """While training: Ctrl-C appends to the yielded list (the loop stops after
    the step it is in, with a checkpoint); a second Ctrl-C interrupts at once.
    Outside the main thread signals cannot be caught: Ctrl-C is left alone."""
    asked: list = []
    if threading.current_thread() is not threading.main_thread():
        yield asked
        return

    def handler(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, previous)


#: The most steps and windows per step a run takes (a batch is held in memory at once).
MAX_STEPS, MAX_BATCH = 10_000_000, 512
#: What a run writes in its ``train/`` folder.
RUN_FILES = (CHECKPOINT, METRICS, "ranks.json", "tensorboard")


def _unstarted(output: Path) -> bool:
    """Whether ``output`` holds only a run stopped before its first checkpoint:
    ``train/`` with nothing but a run's own files (metrics, logs), no checkpoint."""
    entries = list(output.iterdir()) if output.is_dir() else []
    run = output / "train"
    return (bool(entries) and all(p.name == "train" for p in entries) and run.is_dir()
            and all(p.name in RUN_FILES for p in run.iterdir())
            and not (run / CHECKPOINT).exists())


def _data_id(data: TrainingData) -> str:
    """A short name of a dataset's content (its items' ids): a resumed run on other data
    is told so."""
    ids = "".join(sorted(f["id"] for f in data.manifest["files"]))
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def _seed(*values: int) -> int:
    return int(np.random.SeedSequence(list(values)).generate_state(1)[0])


def validation_loss(model: Autoencoder, loss_fn: SpectralLoss, examples: List[dict],
                    device, batch_size: int = 16) -> float:
    """Mean spectral loss over ``examples`` (the same noise every time)."""
    generator_state = torch.get_rng_state()
    torch.manual_seed(0)
    total = 0.0
    by_length: dict = {}  # examples of one length batch together
    for e in examples:
        by_length.setdefault(len(e["audio"]), []).append(e)
    chunks = [group[i:i + batch_size] for group in by_length.values()
              for i in range(0, len(group), batch_size)]
    with torch.no_grad():
        for chunk in chunks:
            batch = {k: np.stack([e[k] for e in chunk]) for k in ("audio", "f0_hz", "loudness_db")}
            audio = model(_features(batch, device))["audio"]
            total += float(loss_fn(torch.from_numpy(batch["audio"]).to(device), audio)) * len(chunk)
    torch.set_rng_state(generator_state)
    return total / len(examples)


def _model_card(config: dict, data: TrainingData, result: TrainResult, n_parameters: int,
                gain_db: float) -> str:
    size = dataset_size(data.path)
    t = config["training"]
    started = (f", starting from the weights of `{config['init_from']}`"
               if config.get("init_from") else "")
    names = [" ".join(Path(f["source"]).name.split()).replace("|", "\\|")  # a table cell
             for f in data.manifest.get("files", [])]
    files = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    if abs(gain_db) < MAX_GAIN_DB - 0.005:
        level = ("the gain that makes the resynthesis of training windows as loud as they are "
                 "on note-on frames (the spectral loss leaves the harmonics of real "
                 "recordings a few dB low)")
    else:
        level = (f"the limit: the resynthesis stays {'quieter' if gain_db > 0 else 'louder'} "
                 f"than the training windows (an undertrained model?)")
    synths = " + ".join(node["processor"]["type"] for node in
                        config["processor_group"]["config"]["dag"]
                        if node["processor"]["type"] != "Add")
    return f"""# {config.get('name') or result.output.name}

A timbral DDSP autoencoder (f0 and loudness -> {synths}).

| | |
|---|---|
| preset | {config.get('preset', '')} ({n_parameters / 1e6:.2f} M parameters) |
| audio | {config['sample_rate']} Hz, {config['frame_rate']} Hz frames, {config['example_seconds']:g} s examples |
| features | pitch tracker `{config.get('pitch_tracker')}`, loudness {config['loudness_definition']} |
| data | {len(data.items)} file(s) ({files}), {size['train_seconds'] / 60:.1f} min training, {size['validation_seconds'] / 60:.1f} min validation |
| optimiser | Adam lr {t['learning_rate']:g} x {t['lr_decay_rate']} every {t['lr_decay_steps']} steps, clip {t['grad_clip_norm']}, batch {t['batch_size']} |
| trained | {result.steps} steps in {result.seconds / 60:.1f} min{started} |
| output level | harmonics {gain_db:+.2f} dB: {level} |
| final loss | train {result.train_loss:.3f}, validation {result.validation_loss:.3f} (SpectralLoss mag + logmag; about 5 or below is good) |
"""


def train(dataset, output, preset: Optional[str] = None, reverb: Optional[str] = None,
          steps: Optional[int] = None,
          batch_size: Optional[int] = None, learning_rate: Optional[float] = None,
          resume: bool = False, seed: Optional[int] = None, max_minutes: Optional[float] = None,
          name: Optional[str] = None, checkpoint_every: Optional[int] = None,
          progress: bool = True, log_tensorboard: bool = True,
          init_from=None) -> TrainResult:
    """Train a model on a prepared dataset and write its model folder.

    Args:
      dataset: folder written by :func:`timbral.data.dataset.prepare_dataset`.
      output: the model folder to create (``output/train`` keeps the
        checkpoint, metrics and logs).
      preset: a name from :data:`timbral.models.PRESETS` (None:
        :data:`~timbral.models.DEFAULT_PRESET`).
      reverb: the model's room, one of :data:`timbral.models.config.REVERBS`
        (None: the preset's).
      steps: total optimiser steps (default: the preset's).
      batch_size: windows per step over all ranks (default: the preset's).
      learning_rate: initial Adam learning rate (default: the preset's; with
        ``resume``, replaces the run's own from the current step on).
      resume: continue from ``output/train/checkpoint.safetensors`` (model,
        optimiser, step). The run keeps its own preset, room, seed, name and
        batch size (one given that differs is warned of and not used). A run
        stopped before its first checkpoint starts again from step 0, with or
        without ``resume``.
      seed: makes the run reproducible (None: 0).
      max_minutes: stop (and finish normally) after this much wall time.
      name: the model's name (default: the folder's name).
      checkpoint_every: steps between checkpoints and validations (default:
        the preset's).
      progress: show a progress bar with the loss.
      log_tensorboard: write TensorBoard event files when tensorboard is installed.
      init_from: a model (or a shipped name or model folder) to start from
        instead of random weights, mapped onto this preset's sizes and rate
        (:func:`timbral.models.warmstart.init_from`); with ``resume``, not
        used (warned of).

    Ctrl-C stops after the current step, saves the checkpoint and raises
    :class:`TrainingInterrupted`. A NaN, infinite or exploding loss stops the
    run with :class:`TrainingDiverged` (a ValueError); the last checkpoint
    stays. A failed write (full disk) raises a one-line OSError.
    """
    # Checked before anything is read or written: a bad number fails in one line.
    for value, label in ((steps, "steps"), (batch_size, "batch_size"),
                         (checkpoint_every, "checkpoint_every")):
        if value is not None:
            check_size(value, label)
    for value, label, most in ((steps, "steps", MAX_STEPS), (batch_size, "batch_size", MAX_BATCH)):
        if value is not None and value > most:
            raise ValueError(f"{label}: expected at most {most:,}, got {value:,}")
    if learning_rate is not None:
        check_positive(learning_rate, "learning_rate")
    if max_minutes is not None:
        check_positive(max_minutes, "max_minutes")
    torch.set_flush_denormal(True)  # denormals in the synth and loss cost 6x
    rank, world, device = _distributed()
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output}: is a file; give a folder for the model (--output)")
    run_dir = output / "train"
    checkpoint_path = run_dir / CHECKPOINT
    if not Path(dataset).exists():
        raise ValueError(f"{dataset}: no such folder; prepare recordings into it first "
                         f"(timbral prepare AUDIO... --output {dataset})")
    data = TrainingData(dataset)
    settings = data.manifest["settings"]

    if resume and not checkpoint_path.exists():
        if not _unstarted(output):
            raise ValueError(f"{output}: nothing to resume (no train/{CHECKPOINT}) in a "
                             f"folder that holds other files; train into another --output")
        resume = False
    if resume:
        _, info = read_checkpoint_info(checkpoint_path)
        config = info["config"]
        kept = {"preset": config.get("preset"), "reverb": reverb_of(config),
                "seed": config["training"]["seed"], "name": config.get("name"),
                "batch_size": config["training"]["batch_size"]}
        given = {"preset": preset, "reverb": reverb, "seed": seed, "name": name,
                 "batch_size": batch_size}
        for label, value in given.items():
            if value is not None and value != kept[label] and rank == 0:
                warnings.warn(f"{label}: a resumed run keeps its own ({kept[label]}); {value} "
                              f"is not used", stacklevel=2)
        if init_from is not None and rank == 0:
            warnings.warn("init_from: a resumed run goes on from its checkpoint; the model "
                          "to start from is not used", stacklevel=2)
        started = config["training"].get("data")
        if started is not None and started != _data_id(data) and rank == 0:
            warnings.warn(f"{dataset}: not the data this run started on; it goes on with this "
                          f"data (and its statistics)", stacklevel=2)
    else:
        if output.exists() and any(output.iterdir()) and not _unstarted(output):
            raise ValueError(f"{output}: already exists; pass --resume to continue its training "
                             f"or choose another --output")
        if _unstarted(output) and rank == 0:
            warnings.warn(f"{output}: its run stopped before the first checkpoint; starting "
                          f"again from step 0", stacklevel=2)
        preset = DEFAULT_PRESET if preset is None else preset
        made_for = PRESETS.get(preset, {}).get("sample_rate")
        if made_for is not None and made_for != settings["sample_rate"] and rank == 0:
            warnings.warn(f"preset: {preset} is made for {made_for} Hz audio and this dataset "
                          f"is at {settings['sample_rate']} Hz; the model will run at "
                          f"{settings['sample_rate']} Hz (prepare the recordings with "
                          f"--sample-rate {made_for} for the preset's bandwidth)", stacklevel=2)
        config = preset_config(preset,
                               sample_rate=settings["sample_rate"],
                               pitch_tracker=settings["pitch_tracker"],
                               loudness_definition=settings["loudness_definition"],
                               reverb=reverb)
        config["name"] = name or output.name
        t = config["training"]
        t.update({k: v for k, v in (("steps", steps), ("batch_size", batch_size),
                                    ("learning_rate", learning_rate)) if v is not None})
        t["seed"] = check_seed(0 if seed is None else seed)
        t["data"] = _data_id(data)
    if config["sample_rate"] != data.sample_rate:
        raise ValueError(f"dataset: audio at {data.sample_rate} Hz, the model runs at "
                         f"{config['sample_rate']} Hz; prepare the data at the model's rate")
    t = config["training"]
    if steps is not None:  # --resume --steps N extends a finished run
        t["steps"] = int(steps)
    if resume and learning_rate is not None:  # continue with another learning rate
        t["learning_rate"] = float(learning_rate)
    if checkpoint_every is not None:
        t["checkpoint_every"] = t["validation_every"] = int(checkpoint_every)
    if t["batch_size"] % world:
        raise ValueError(f"batch_size: {t['batch_size']} does not split over {world} processes")
    local_batch = t["batch_size"] // world
    seconds, frame_rate = config["example_seconds"], config["frame_rate"]

    torch.manual_seed(t["seed"])  # identical initial weights on every rank
    model = Autoencoder(config)
    if init_from is not None and not resume:
        from ..zoo import as_model  # the source may be a shipped name

        source = as_model(init_from)
        left = init_from_model(model, source)
        config["init_from"] = model.config["init_from"] = source.name or str(init_from)
        if left and rank == 0:
            warnings.warn(f"init_from {config['init_from']}: {', '.join(left)} start from "
                          f"random weights", stacklevel=2)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=t["learning_rate"], eps=t["adam_eps"])
    loss_fn = SpectralLoss(**t["loss"])
    step, elapsed = 0, 0.0
    if resume:
        step, info = load_checkpoint(checkpoint_path, model, optimizer)
        elapsed = info["elapsed"]
    trained = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model

    validation = list(data.examples("validation", seconds, seconds, frame_rate,
                                    min_seconds=MIN_VALIDATION_SECONDS))
    validation = validation[:MAX_VALIDATION_EXAMPLES]
    if not validation and rank == 0:
        warnings.warn(f"no held-out audio of {MIN_VALIDATION_SECONDS:g} s or more: training "
                      f"without validation loss", stacklevel=2)
    train_seconds = dataset_size(data.path)["train_seconds"]
    if train_seconds < MIN_TRAINING_SECONDS and rank == 0:
        warnings.warn(f"{dataset}: only {train_seconds:.0f} s of training audio; a model "
                      f"learns an instrument from minutes of it (the shipped ones from 5), so "
                      f"expect it to know little more than these notes", stacklevel=2)
    history = _read_history(run_dir / METRICS, step) if rank == 0 else []
    writer = _tensorboard(run_dir, step) if rank == 0 and log_tensorboard else None
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_history(run_dir / METRICS, history)

    started = time.perf_counter() - elapsed
    deadline = None if max_minutes is None else time.perf_counter() + 60 * max_minutes
    bar = tqdm(total=t["steps"], initial=step, unit="step", desc="train",
               disable=not progress or rank != 0)
    train_loss = float("nan")
    recent: List[float] = []
    # a training-loss row at least 50 times a run, so a short run's curve has a shape
    log_every = max(1, min(t["validation_every"], t["steps"] // 50))
    first_loss = None
    with _stop_requests() as stop_asked:
        try:
            while step < t["steps"]:
                lr = t["learning_rate"] * t["lr_decay_rate"] ** (step / t["lr_decay_steps"])
                for group in optimizer.param_groups:
                    group["lr"] = lr
                rng = np.random.default_rng([t["seed"], step, rank])
                torch.manual_seed(_seed(t["seed"], step, rank))
                batch = data.sample_batch(rng, local_batch, seconds, frame_rate,
                                          t.get("max_unsure", 1.0))
                try:
                    audio = trained(_features(batch, device))["audio"]
                    loss = loss_fn(torch.from_numpy(batch["audio"]).to(device), audio)
                except ValueError as exc:  # the synths refuse NaN or infinite controls
                    if first_loss is None:  # the first step: the data or config, not training
                        raise
                    raise TrainingDiverged(_diverged(step + 1, str(exc).split(";")[0], lr,
                                                     checkpoint_path)) from None
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                           t["grad_clip_norm"])
                value, norm = loss.item(), float(grad_norm)
                first_loss = value if first_loss is None else first_loss
                bad = not (math.isfinite(value) and math.isfinite(norm)) \
                    or value > DIVERGENCE_FACTOR * max(first_loss, 1.0)
                # every rank must take the same decision at the same step
                bad, stop = _agree([bad, bool(stop_asked)], world, device)
                if bad:
                    raise TrainingDiverged(_diverged(step + 1, f"loss {value:.3g}, gradient "
                                                     f"norm {norm:.3g}", lr, checkpoint_path))
                optimizer.step()
                step += 1
                recent.append(value)
                bar.update()
                # the bar shows what the next metrics row (and the curve) will say
                bar.set_postfix(loss=f"{np.mean(recent):.3f}")
                last = (step == t["steps"] or stop
                        or (deadline is not None and time.perf_counter() > deadline))
                validate = step % t["validation_every"] == 0 or last
                if step % log_every == 0 or validate:
                    train_loss = float(np.mean(recent))
                    recent = []
                    row = {"step": step, "seconds": round(time.perf_counter() - started, 2),
                           "train_loss": train_loss, "lr": lr, "grad_norm": norm}
                    if validate and validation and rank == 0:
                        row["validation_loss"] = validation_loss(model, loss_fn, validation,
                                                                 device)
                    if rank == 0:
                        history.append(row)
                        _append_history(run_dir / METRICS, row)
                        if writer is not None:
                            for key in ("train_loss", "validation_loss", "lr", "grad_norm"):
                                if key in row:
                                    writer.add_scalar(key, row[key], step)
                            writer.flush()
                if (step % t["checkpoint_every"] == 0 or last) and rank == 0:
                    save_checkpoint(checkpoint_path, model, optimizer, step,
                                    {"config": config, "elapsed": time.perf_counter() - started})
                if stop:
                    raise TrainingInterrupted(step, checkpoint_path)
                if last:
                    break
        finally:
            bar.close()
            if writer is not None:
                writer.close()
    result = TrainResult(output, step, time.perf_counter() - started,
                         history[-1]["train_loss"] if history else train_loss,
                         history[-1].get("validation_loss", float("nan")) if history
                         else float("nan"), history)
    if world > 1:
        _check_replicas(model, run_dir, rank, world)
    if rank == 0:
        _finish(output, model.cpu(), data, result)
    if world > 1:
        dist.barrier()
    return result


def _agree(flags: List[bool], world: int, device) -> List[bool]:
    """Each flag, set if it is set on any rank (one all-reduce)."""
    if world == 1:
        return flags
    values = torch.tensor([float(f) for f in flags], device=device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return [bool(v) for v in values.tolist()]


def _diverged(step: int, what: str, lr: float, checkpoint: Path) -> str:
    """The one-line message of :class:`TrainingDiverged`; ``what`` went wrong."""
    again = (f"the checkpoint of step {read_checkpoint_info(checkpoint)[0]} is kept: resume"
             if checkpoint.exists() else "no checkpoint was written: start again")
    return (f"training diverged at step {step} ({what}); {again} with a lower learning rate "
            f"(now {lr:.3g})")


def _check_replicas(model: Autoencoder, run_dir: Path, rank: int, world: int) -> None:
    """Gather every rank's weight checksum; rank 0 records them in ``train/ranks.json``
    and raises if the replicas drifted apart."""
    flat = torch.cat([p.detach().double().flatten() for p in model.parameters()])
    checksum = torch.stack([flat.sum(), (flat * flat).sum()]).cpu()
    gathered = [torch.zeros_like(checksum) for _ in range(world)]
    dist.all_gather(gathered, checksum)
    if rank == 0:
        sums = [g.tolist() for g in gathered]
        with atomic_output(run_dir / "ranks.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps({"world_size": world, "weight_checksums": sums}))
        if any(s != sums[0] for s in sums):
            raise RuntimeError(f"data-parallel replicas differ after training: {sums}")


def _finish(output: Path, model: Autoencoder, data: TrainingData, result: TrainResult) -> None:
    """Calibrate the output level, then write the model folder and the loss curve."""
    from ..plots import plot_training_curve  # matplotlib only when a run ends

    try:
        gain_db = calibrate_level(model, data)
    except ValueError as exc:  # the trained model is still worth its folder
        warnings.warn(f"{exc}; the model keeps its harmonic level uncalibrated (0 dB)")
        gain_db = 0.0
    config = model.config
    examples = data.examples("train", config["example_seconds"], 1.0, config["frame_rate"])
    statistics = compute_dataset_statistics(examples, config["frame_rate"])
    card = _model_card(config, data, result, model.n_parameters, gain_db)
    from ..midi import measure_expression  # how the data phrases, for `timbral play`

    save_model_folder(output, model, statistics, card, overwrite=True,
                      expression=measure_expression(data))
    plot_training_curve(result.history, output / "train" / "curve.png", overwrite=True)


def _read_history(path: Path, up_to_step: int) -> List[dict]:
    """Metrics rows logged up to ``up_to_step`` (later rows belong to a run that died
    after its last checkpoint and are dropped, keeping the curve continuous)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a kill or a full disk: not a row
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            rows.append(row)
    return [r for r in rows if r["step"] <= up_to_step]


def _write_history(path: Path, rows: List[dict]) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _append_history(path: Path, row: dict) -> None:
    try:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
    except OSError as exc:
        raise write_error(path, exc) from None


def _tensorboard(run_dir: Path, step: int):
    """A SummaryWriter that drops events after ``step`` (None without tensorboard)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    # purge_step: TensorBoard hides what an earlier attempt logged after ``step``
    return SummaryWriter(str(run_dir / "tensorboard"), purge_step=step)


__all__ = ["train", "TrainResult", "TrainingDiverged", "TrainingInterrupted", "validation_loss"]
