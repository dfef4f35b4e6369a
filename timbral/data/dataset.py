"""Training datasets: audio files -> cached audio and features, ready to train on.

``prepare_dataset`` decodes each file, resamples it, computes its features
once over the whole file (at a fine frame rate, 500 Hz by default, so models
at 50, 100, 250 or 500 Hz frames all train from the same cache) and stores

    DATASET/
      manifest.json        settings, the files and their train/validation split
      statistics.json      statistics for auto-adjust (timbral.data.statistics) at the dataset rate
      items/<id>.flac      the audio (24-bit FLAC at the dataset's sample rate)
      items/<id>.npz       f0_hz, f0_confidence, loudness_db (float32, no pickles)
      items/<id>.json      the item's record; written last, so it marks the item done

Items are keyed by the file's content hash, so re-running skips finished
files. The last ``validation_fraction`` of every file is held out for
validation; training windows are drawn from the rest (any length, any
start), which is what :class:`TrainingData` serves. Many machines can share
the work: each runs ``prepare`` with ``shard=(k, n)`` on the same file list
and output folder (on shared storage), then one plain run writes the
manifest, finding every item done.
"""

from __future__ import annotations

import hashlib
import fnmatch
import itertools
import json
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from ..audio import check_sample_rate, find_audio_files, load_audio
from ..dsp.spectral import whole_frame_rates
from ..files import atomic_output, new_folder
from ..features import compute_audio_features, get_pitch_tracker
from ..validation import check_positive, check_size
from .statistics import compute_dataset_statistics, save_statistics

FORMAT = "timbral.dataset"
VERSION = 1
MANIFEST_FILE = "manifest.json"
STATISTICS_FILE = "statistics.json"
DEFAULT_FRAME_RATE = 500
#: Loudness (dB) a file must exceed somewhere to count as not silent.
SILENCE_DB = -70.0
#: Below this f0 confidence a sounding frame's pitch is "unsure" (double stops, noise).
UNSURE_CONFIDENCE = 0.5
#: Examples used for the dataset statistics (Magenta's: 4 s windows, 1 s hop).
STATS_EXAMPLE_SECONDS, STATS_HOP_SECONDS = 4.0, 1.0
#: ... and a file's training part shorter than a window counts whole from this long (s).
STATS_MIN_SECONDS = 1.0


@dataclass(frozen=True)
class Settings:
    """What every item of a dataset is computed with."""
    sample_rate: int = 16000
    frame_rate: int = DEFAULT_FRAME_RATE
    pitch_tracker: str = ""
    loudness_definition: str = "v2"
    validation_fraction: float = 0.1
    min_seconds: float = 2.0

    def key(self) -> dict:
        """The settings an item's cache depends on."""
        return {"sample_rate": self.sample_rate, "frame_rate": self.frame_rate,
                "pitch_tracker": self.pitch_tracker,
                "loudness_definition": self.loudness_definition}


def _file_id(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _item_intact(items: Path, record: dict) -> bool:
    """Whether a cached item's audio holds all its samples to the last (a cut file is
    computed again) and its features are there."""
    try:
        with sf.SoundFile(str(items / f"{record['id']}.flac")) as f:
            if f.frames != record["n_samples"]:
                return False
            f.seek(f.frames - 1)
            return len(f.read(1)) == 1 and (items / f"{record['id']}.npz").is_file()
    except (OSError, KeyError, RuntimeError, sf.LibsndfileError):
        return False


def _prepare_item(path: Path, items: Path, settings: Settings, progress: bool = False) -> dict:
    """Compute and store one file's item; returns its record, or ``{"source",
    "skipped": reason}``. Never raises for bad or unreadable audio. With
    ``progress``, a file longer than a minute shows its feature stages."""
    try:
        item_id = _file_id(path)
        record_path = items / f"{item_id}.json"
        if record_path.exists():
            record = json.loads(record_path.read_text())
            if record.get("settings") == settings.key() and _item_intact(items, record):
                return dict(record, source=str(path), cached=True)
        audio, _ = load_audio(path, settings.sample_rate)
        seconds = audio.shape[0] / settings.sample_rate
        if seconds < settings.min_seconds:
            return {"source": str(path), "skipped": f"too short ({seconds:.2f} s; examples "
                                                    f"need {settings.min_seconds:g} s)"}
        features = compute_audio_features(audio, settings.sample_rate, settings.frame_rate,
                                          settings.pitch_tracker,
                                          loudness_definition=settings.loudness_definition,
                                          progress=progress and seconds > 60,
                                          silence_db=SILENCE_DB)
    except (ValueError, OSError) as exc:  # the message names the file already: once is enough
        return {"source": str(path), "skipped": str(exc).removeprefix(f"{path}: ")}
    with atomic_output(items / f"{item_id}.flac", overwrite=True) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), settings.sample_rate, format="FLAC",
                 subtype="PCM_24")
    with atomic_output(items / f"{item_id}.npz", overwrite=True) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{k: features[k] for k in ("f0_hz", "f0_confidence", "loudness_db")})
    record = {"id": item_id, "n_samples": int(audio.shape[0]),
              "n_frames": int(features["f0_hz"].shape[0]), "seconds": seconds,
              "settings": settings.key()}
    with atomic_output(record_path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(record))
    return dict(record, source=str(path), cached=False)


def _init_worker() -> None:
    import torch
    torch.set_num_threads(1)  # one process per core beats threads inside each


def _check_output(output: Path, settings: Settings) -> Optional[dict]:
    """Raise unless ``output`` is new, empty or a dataset of these ``settings``; its
    manifest, if it has one."""
    if output.exists() and not output.is_dir():
        raise ValueError(f"{output}: is a file; give a folder for the dataset (--output)")
    manifest = output / MANIFEST_FILE
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except json.JSONDecodeError:
            old = None
        if not isinstance(old, dict) or old.get("format") != FORMAT:
            raise ValueError(f"{output}: holds a manifest.json that is not a timbral dataset")
        if old.get("settings") != settings.key():
            raise ValueError(f"{output}: was prepared with other settings {old.get('settings')}; "
                             f"choose another --output folder")
        return old
    if output.exists() and any(p.name != "items" for p in output.iterdir()):
        raise ValueError(f"{output}: exists and is not a timbral dataset; choose an empty or "
                         f"new folder")
    return None


def prepare_dataset(inputs: Sequence, output, sample_rate: int = 16000,
                    frame_rate: int = DEFAULT_FRAME_RATE, pitch_tracker: Optional[str] = None,
                    loudness_definition: str = "v2", validation_fraction: float = 0.1,
                    min_seconds: float = 2.0, workers: int = 1,
                    shard: Optional[Tuple[int, int]] = None, progress: bool = True,
                    validation_files: Sequence[str] = ()) -> dict:
    """Prepare audio files (or folders of them) for training; returns the manifest
    written, plus ``"reused"``: how many files' items an earlier run had finished.

    Args:
      inputs: audio files and/or folders (searched recursively).
      output: the dataset folder (created; an existing dataset with the same
        settings is completed, finished files are skipped).
      sample_rate: audio rate of the dataset (Hz); models train at this rate.
      frame_rate: feature frames per second (a model's frame rate must divide it).
      pitch_tracker: f0 tracker name (None: the default tracker).
      loudness_definition: 'v2' or 'v1' (see ``compute_loudness``).
      validation_fraction: share of every file (its end) held out for validation.
      validation_files: file-name patterns (``fnmatch``, e.g. ``"*mov8*"``) of
        files held out whole for validation instead (no part of them trains);
        the other files are split by ``validation_fraction``.
      min_seconds: files shorter than this are skipped with a warning.
      workers: processes working on files in parallel.
      shard: ``(k, n)`` to do only files ``k, k + n, ...`` of the sorted list
        (for many machines); no manifest is written then.
      progress: show a progress bar.

    Unreadable, too short or silent files are skipped with a warning and
    listed in the manifest's ``"skipped"``. Raises ValueError when no input
    file is usable.
    """
    output = Path(output)
    workers = check_size(workers, "workers")
    tracker = get_pitch_tracker(pitch_tracker)
    settings = Settings(check_sample_rate(sample_rate), check_size(frame_rate, "frame_rate"),
                        tracker.name,
                        loudness_definition, float(validation_fraction),
                        check_positive(min_seconds, "min_seconds"))
    if not 0.0 < settings.validation_fraction < 0.5:
        raise ValueError(f"validation_fraction: expected a share in (0, 0.5), got "
                         f"{validation_fraction}")
    if settings.sample_rate % settings.frame_rate:
        raise ValueError(f"frame_rate: {frame_rate} must divide the sample rate {sample_rate}"
                         f"{whole_frame_rates(settings.sample_rate, settings.frame_rate)}")
    files = _not_in_datasets(find_audio_files(inputs, exclude=output), inputs, output)
    if not files:
        raise ValueError(f"no audio files found in {', '.join(map(str, inputs))} (looked for "
                         f"wav, flac, ogg, mp3, opus, aiff)")
    if validation_files:  # checked on the names, before any features are computed
        held = [f for f in files if _held_out(f, validation_files)]
        if not held:
            raise ValueError(f"validation_files: no input file matches {list(validation_files)}")
        if len(held) == len(files):
            raise ValueError("validation_files: every file would be held out; leave some to "
                             "train")
    if shard is not None:
        k, n = shard
        if not 0 <= k < n:
            raise ValueError(f"shard: expected k/n with 0 <= k < n, got {k}/{n}")
        files = files[k::n]
    old = _check_output(output, settings)
    if old is not None and shard is None:
        given = {str(f) for f in files}
        dropped = [f["source"] for f in old.get("files", []) if f.get("source") not in given]
        if dropped:
            warnings.warn(f"{output}: its manifest listed {len(dropped)} file(s) not given this "
                          f"time (such as {dropped[0]}); they are left out: give every input "
                          f"in one call to keep them", stacklevel=2)
    # a new folder is removed again if no input turns out usable
    with new_folder(output):
        items = output / "items"
        items.mkdir(exist_ok=True)

        records = []
        with tqdm(total=len(files), unit="file", desc="prepare", disable=not progress) as bar:
            if workers > 1 and len(files) > 1:
                context = multiprocessing.get_context("spawn")  # torch and fork do not mix
                with ProcessPoolExecutor(workers, mp_context=context,
                                         initializer=_init_worker) as pool:
                    for record in pool.map(_prepare_item, files, [items] * len(files),
                                           [settings] * len(files)):
                        records.append(record)
                        bar.update()
            else:
                for path in files:
                    records.append(_prepare_item(path, items, settings, progress))
                    bar.update()
        skipped = [r for r in records if "skipped" in r]
        for r in skipped:
            warnings.warn(f"skipped {r['source']}: {r['skipped']}", stacklevel=2)
        good = [r for r in records if "skipped" not in r]
        if shard is not None:
            return {"format": FORMAT, "shard": list(shard), "files": good, "skipped": skipped,
                    "reused": sum(bool(r.get("cached")) for r in good)}
        if not good:
            raise ValueError(f"no usable audio among {len(files)} file(s): "
                             f"{skipped[0]['source']}: {skipped[0]['skipped']}")
        unique: dict = {}  # the same content twice is one item, under its first name
        for r in good:
            unique.setdefault(r["id"], r)
        for r in good:
            if unique[r["id"]] is not r:
                warnings.warn(f"{r['source']}: the same audio as {unique[r['id']]['source']}; "
                              f"prepared once", stacklevel=2)
        held_ids = {r["id"] for r in good if _held_out(r["source"], validation_files)}
        if len(held_ids) == len(unique):
            raise ValueError("validation_files: every usable file would be held out; leave some "
                             "to train")
        manifest = {"format": FORMAT, "version": VERSION, "settings": settings.key(),
                    "validation_fraction": settings.validation_fraction,
                    "validation_files": list(validation_files),
                    "files": [_split(r, settings, r["id"] in held_ids) for r in unique.values()],
                    "skipped": [{"source": r["source"], "reason": r["skipped"]} for r in skipped]}
        manifest["seconds"] = sum(f["seconds"] for f in manifest["files"])
        data = TrainingData(output, manifest=manifest)
        examples = data.examples("train", STATS_EXAMPLE_SECONDS, STATS_HOP_SECONDS,
                                 frame_rate=settings.frame_rate, min_seconds=STATS_MIN_SECONDS)
        first = next(examples, None)  # a generator: look at one, keep them all for the statistics
        if first is None:
            raise ValueError(f"the training part of every usable file is shorter than "
                             f"{STATS_MIN_SECONDS:g} s ({len(unique)} file(s), "
                             f"{manifest['seconds']:.1f} s in all); give longer recordings")
        statistics = compute_dataset_statistics(itertools.chain([first], examples),
                                                settings.frame_rate)
        save_statistics(output / STATISTICS_FILE, statistics)
        with atomic_output(output / MANIFEST_FILE, overwrite=True) as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))
        return dict(manifest, reused=sum(bool(r.get("cached")) for r in unique.values()))


def _not_in_datasets(files: List[Path], inputs: Sequence, output: Path) -> List[Path]:
    """``files`` without those found inside a prepared dataset (a folder, at or under
    the input folder searched, whose ``manifest.json`` is a timbral dataset's, other
    than ``output``): its items are not recordings, and a dataset kept inside the
    recordings' folder would be read in again. Files named one by one are kept. Says
    which datasets it left out."""
    roots = [Path(i).resolve() for i in inputs if Path(i).is_dir()]
    skip = Path(output).resolve()
    datasets: Dict[Path, bool] = {}

    def is_dataset(folder: Path) -> bool:
        if folder not in datasets:
            try:
                doc = json.loads((folder / MANIFEST_FILE).read_text())
                datasets[folder] = isinstance(doc, dict) and doc.get("format") == FORMAT
            except (OSError, ValueError):
                datasets[folder] = False
        return datasets[folder]

    kept = []
    for f in files:
        path = Path(f).resolve()
        root = next((r for r in roots if r in path.parents), None)
        inside = [] if root is None else [p for p in path.parents
                                          if (p == root or root in p.parents) and p != skip]
        if not any(is_dataset(p) for p in inside):
            kept.append(f)
    for folder in sorted(p for p, yes in datasets.items() if yes):
        warnings.warn(f"left out {folder}: a prepared dataset, not recordings", stacklevel=3)
    return kept


def _held_out(path, patterns: Sequence[str]) -> bool:
    """Whether a file's name matches one of the ``validation_files`` patterns."""
    return any(fnmatch.fnmatch(Path(path).name, p) for p in patterns)


def _split(record: dict, settings: Settings, held_out: bool = False) -> dict:
    """A manifest entry: the record plus where validation starts (a frame-aligned
    sample; 0 for a file held out whole)."""
    hop = settings.sample_rate // settings.frame_rate
    start = int(round(record["n_samples"] * (1 - settings.validation_fraction) / hop)) * hop
    if held_out:
        start = 0
    return {"id": record["id"], "source": record["source"], "seconds": record["seconds"],
            "n_samples": record["n_samples"], "n_frames": record["n_frames"],
            "validation_start": start}


def read_manifest(dataset) -> dict:
    """The manifest of a prepared dataset; one-line ValueError if there is none."""
    path = Path(dataset) / MANIFEST_FILE
    if not path.is_file():
        raise ValueError(f"{dataset}: not a prepared dataset (no {MANIFEST_FILE}); run "
                         f"`timbral prepare AUDIO... --output {dataset}` first")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or manifest.get("version") != VERSION:
        raise ValueError(f"{path}: not a timbral dataset manifest (version {VERSION})")
    return manifest


class TrainingData:
    """A prepared dataset in memory, serving windows at a model's frame rate.

    Args:
      dataset: the dataset folder.
      manifest: its manifest (read from the folder when None).

    All audio and features are loaded at once (5 minutes of 16 kHz audio is
    about 20 MB).
    """

    def __init__(self, dataset, manifest: Optional[dict] = None):
        self.path = Path(dataset)
        self.manifest = manifest or read_manifest(dataset)
        settings = self.manifest["settings"]
        self.sample_rate = settings["sample_rate"]
        self.frame_rate = settings["frame_rate"]
        self.hop = self.sample_rate // self.frame_rate
        self.items: List[Dict[str, np.ndarray]] = []
        for entry in self.manifest["files"]:
            base = self.path / "items" / entry["id"]
            try:
                audio, rate = sf.read(f"{base}.flac", dtype="float32")
                with np.load(f"{base}.npz", allow_pickle=False) as npz:
                    item = {k: npz[k] for k in ("f0_hz", "f0_confidence", "loudness_db")}
            except (OSError, KeyError, ValueError, sf.LibsndfileError) as exc:
                raise ValueError(f"{base}: damaged dataset item ({exc}); run prepare again "
                                 f"to rebuild it") from None
            if rate != self.sample_rate or audio.shape[0] != entry["n_samples"]:
                raise ValueError(f"{base}.flac: does not match the manifest; run prepare again")
            item["audio"] = audio
            item["validation_start"] = entry["validation_start"]
            # running count of frames the tracker is unsure about while something sounds
            unsure = ((item["f0_confidence"] < UNSURE_CONFIDENCE)
                      & (item["loudness_db"] > SILENCE_DB))
            item["unsure"] = np.concatenate([[0], np.cumsum(unsure)])
            self.items.append(item)

    def _model_hop(self, frame_rate: float) -> int:
        """Dataset frames per model frame; raises unless the rates line up."""
        step = self.frame_rate / frame_rate
        if step != int(step):
            raise ValueError(f"dataset: features at {self.frame_rate} Hz cannot serve a model at "
                             f"{frame_rate} Hz frames; prepare with a frame rate that is a "
                             f"multiple of {frame_rate:g}")
        return int(step)

    def regions(self, split: str) -> List[Tuple[int, int, int]]:
        """``(item, first sample, end sample)`` of every region in ``split``
        ('train' or 'validation')."""
        if split not in ("train", "validation"):
            raise ValueError(f"split: expected 'train' or 'validation', got {split!r}")
        return [(i, 0, it["validation_start"]) if split == "train"
                else (i, it["validation_start"], it["audio"].shape[0])
                for i, it in enumerate(self.items)]

    def window(self, item: int, start: int, n_samples: int, frame_rate: float) -> dict:
        """One example: ``audio [n_samples]`` from sample ``start`` (a multiple of
        the model's hop) and ``n_samples / model_hop`` frames of features, frame
        ``j`` centred on sample ``start + j * model_hop``."""
        step = self._model_hop(frame_rate)
        it = self.items[item]
        first = start // self.hop
        n_frames = n_samples // (self.hop * step)
        frames = slice(first, first + n_frames * step, step)
        return {"audio": it["audio"][start:start + n_samples],
                **{k: it[k][frames] for k in ("f0_hz", "f0_confidence", "loudness_db")}}

    def examples(self, split: str, seconds: float, hop_seconds: float, frame_rate: float,
                 min_seconds: Optional[float] = None) -> Iterator[dict]:
        """Fixed windows of ``seconds`` every ``hop_seconds`` inside ``split``'s
        regions. With ``min_seconds``, a region too short for one window
        yields one shorter window (all of it) if it lasts ``min_seconds``."""
        n = int(round(seconds * self.sample_rate))
        model_hop = self.hop * self._model_hop(frame_rate)
        step = max(1, int(round(hop_seconds * self.sample_rate / model_hop))) * model_hop
        for item, first, end in self.regions(split):
            first = -(-first // model_hop) * model_hop
            if end - first < n:
                short = (end - first) // model_hop * model_hop
                if min_seconds is not None and short >= min_seconds * self.sample_rate:
                    yield self.window(item, first, short, frame_rate)
                continue
            for start in range(first, end - n + 1, step):
                yield self.window(item, start, n, frame_rate)

    def sample_batch(self, rng: np.random.Generator, batch_size: int, seconds: float,
                     frame_rate: float, max_unsure: float = 1.0) -> Dict[str, np.ndarray]:
        """A random training batch: items chosen in proportion to their
        training audio, starts uniform over the model's frame grid, leaving out
        windows where more than ``max_unsure`` of the frames have an unsure f0
        (see :meth:`unsure_share`). Arrays ``[batch, n_samples]`` and ``[batch,
        n_frames]``."""
        n = int(round(seconds * self.sample_rate))
        model_hop = self.hop * self._model_hop(frame_rate)
        # starts on the model's frame grid: first, first + hop, ..., with start + n <= end
        regions = [(item, -(-first // model_hop), (end - n) // model_hop)
                   for item, first, end in self.regions("train")]
        regions = [(item, lo, hi) for item, lo, hi in regions if hi >= lo]
        if not regions:
            raise ValueError(f"dataset: no training audio is {seconds:g} s long; add longer "
                             f"recordings or train with shorter examples")
        starts = [self._sure_starts(item, lo, hi, model_hop, n, max_unsure)
                  for item, lo, hi in regions]
        counts = np.array([len(s) for s in starts], np.float64)
        if not counts.sum():
            raise ValueError(f"dataset: the pitch tracker is unsure in more than "
                             f"{max_unsure:.0%} of every {seconds:g} s window; raise "
                             f"max_unsure or prepare with another pitch tracker")
        picks = rng.choice(len(regions), size=batch_size, p=counts / counts.sum())
        windows = []
        for r in picks:
            start = int(starts[r][rng.integers(len(starts[r]))]) * model_hop
            windows.append(self.window(regions[r][0], start, n, frame_rate))
        return {k: np.stack([w[k] for w in windows]) for k in windows[0]}

    def _sure_starts(self, item: int, lo: int, hi: int, model_hop: int, n: int,
                     max_unsure: float) -> np.ndarray:
        """Window starts ``lo .. hi`` (in model hops) whose share of unsure frames (the
        tracker's confidence below :data:`UNSURE_CONFIDENCE` in sound, e.g. double
        stops) is at most ``max_unsure``: their f0 would teach the model wrong pitch."""
        starts = np.arange(lo, hi + 1)
        if max_unsure >= 1.0:
            return starts
        count = self.items[item]["unsure"]
        first = starts * model_hop // self.hop
        frames = n // self.hop
        share = (count[np.minimum(first + frames, len(count) - 1)] - count[first]) / frames
        return starts[share <= max_unsure]

    def unsure_share(self, seconds: float, frame_rate: float, max_unsure: float) -> float:
        """Share of the training windows of ``seconds`` that ``max_unsure`` leaves out."""
        n = int(round(seconds * self.sample_rate))
        model_hop = self.hop * self._model_hop(frame_rate)
        total = kept = 0
        for item, first, end in self.regions("train"):
            lo, hi = -(-first // model_hop), (end - n) // model_hop
            if hi >= lo:
                total += hi - lo + 1
                kept += len(self._sure_starts(item, lo, hi, model_hop, n, max_unsure))
        return 1.0 - kept / total if total else 0.0


def dataset_size(dataset) -> Dict[str, float]:
    """Seconds of audio in the training and validation parts."""
    manifest = read_manifest(dataset)
    validation = sum((f["n_samples"] - f["validation_start"]) for f in manifest["files"])
    total = sum(f["n_samples"] for f in manifest["files"])
    rate = manifest["settings"]["sample_rate"]
    return {"train_seconds": (total - validation) / rate, "validation_seconds": validation / rate}


__all__ = ["prepare_dataset", "read_manifest", "TrainingData", "dataset_size", "FORMAT",
           "DEFAULT_FRAME_RATE"]
