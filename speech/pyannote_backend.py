"""pyannote.audio backend: pipeline folder validation, loading (cached) and inference.

A pipeline folder is what ``Pipeline.from_pretrained`` reads: ``config.yaml`` plus the
sub-folders it names as ``$model/<name>``. The default is the embedded folder built by
``scripts/setup_diarization.sh`` (``models/pyannote-embedded``); an operator's folder
(e.g. pyannote/speaker-diarization-community-1 downloaded once on a connected machine)
replaces it through ``pipeline_dir`` or ``CALLQA_DIARIZATION_PIPELINE``.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from core.settings import MODEL_SAMPLE_RATE  # noqa: E402

with warnings.catch_warnings():
    # audio always reaches pyannote in memory, so a torchcodec without FFmpeg is fine
    warnings.filterwarnings("ignore", message=r"(?s).*torchcodec is not installed correctly")
    from pyannote.audio import Audio, Inference, Pipeline  # noqa: E402
    from pyannote.audio.pipelines.clustering import Clustering  # noqa: E402
    from pyannote.audio.pipelines.speaker_diarization import SpeakerDiarization  # noqa: E402
    from pyannote.audio.pipelines.speaker_verification import PretrainedSpeakerEmbedding  # noqa: E402
    from pyannote.audio.pipelines.utils import get_model, get_plda  # noqa: E402
    from pyannote.pipeline.parameter import ParamDict, Uniform  # noqa: E402

log = logging.getLogger("speech")

SAMPLE_RATE = MODEL_SAMPLE_RATE
REPO_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_DIR = REPO_ROOT / "models" / "pyannote-embedded"
ENV_PIPELINE = "CALLQA_DIARIZATION_PIPELINE"


class PipelineFolderError(ValueError):
    """A configured diarization pipeline folder is missing or incomplete."""


class EmbeddedSpeakerDiarization(SpeakerDiarization):
    """``SpeakerDiarization`` that also works without a PLDA (agglomerative clustering).

    pyannote 4's constructor always loads a PLDA (``plda=None`` raises) although only
    VBx clustering uses it. Parameters are those of ``SpeakerDiarization``, plus
    ``recluster_turns``: after pyannote's chunk-level clustering, embed every output turn
    once and move turns to the speaker whose centroid they match best (fixes turns whose
    5 s segmentation window lumped two voices into one local speaker).
    """

    def __init__(
        self,
        segmentation: Any,
        embedding: Any,
        segmentation_step: float = 0.2,
        embedding_exclude_overlap: bool = True,
        clustering: str = "AgglomerativeClustering",
        plda: Any = None,
        embedding_batch_size: int = 32,
        segmentation_batch_size: int = 32,
        der_variant: dict | None = None,
        recluster_turns: bool = True,
        legacy: bool = False,
        token: str | None = None,
        cache_dir: str | None = None,
    ) -> None:
        if clustering == "VBxClustering" and plda is None:
            raise ValueError("VBxClustering needs a PLDA; use AgglomerativeClustering")
        super(SpeakerDiarization, self).__init__()
        self.legacy = legacy
        self.recluster_turns = recluster_turns
        self.segmentation_model = segmentation
        model = get_model(segmentation, token=token, cache_dir=cache_dir)
        self.segmentation_step = segmentation_step
        self.embedding = embedding
        self.embedding_batch_size = embedding_batch_size
        self.embedding_exclude_overlap = embedding_exclude_overlap
        self.plda = plda
        self._plda = None if plda is None else get_plda(plda, token=token, cache_dir=cache_dir)
        self.klustering = clustering
        self.der_variant = der_variant or {"collar": 0.0, "skip_overlap": False}
        duration = model.specifications.duration
        self._segmentation = Inference(model, duration=duration, step=segmentation_step * duration,
                                       skip_aggregation=True, batch_size=segmentation_batch_size)
        if model.specifications.powerset:
            self.segmentation = ParamDict(min_duration_off=Uniform(0.0, 1.0))
        else:
            self.segmentation = ParamDict(threshold=Uniform(0.1, 0.9), min_duration_off=Uniform(0.0, 1.0))
        self._embedding = PretrainedSpeakerEmbedding(embedding, token=token, cache_dir=cache_dir)
        self._audio = Audio(sample_rate=self._embedding.sample_rate, mono="downmix")
        klass = Clustering[clustering].value
        metric = self._embedding.metric
        self.clustering = klass(self._plda, metric=metric) if clustering == "VBxClustering" else klass(metric=metric)
        self._expects_num_speakers = self.clustering.expects_num_clusters

    def apply(self, file, num_speakers=None, min_speakers=None, max_speakers=None, hook=None, **kwargs):
        if not self.recluster_turns or self.legacy:
            return super().apply(file, num_speakers=num_speakers, min_speakers=min_speakers,
                                 max_speakers=max_speakers, hook=hook, **kwargs)
        # re-cluster turns before short gaps are bridged (bridging could glue two voices)
        min_duration_off = self.segmentation.min_duration_off
        self.segmentation.min_duration_off = 0.0
        try:
            output = super().apply(file, num_speakers=num_speakers, min_speakers=min_speakers,
                                   max_speakers=max_speakers, hook=hook, **kwargs)
        finally:
            self.segmentation.min_duration_off = min_duration_off
        relabel = self._recluster(file, output.speaker_diarization) \
            if len(output.speaker_diarization.labels()) > 1 else {}
        regular = _relabel(output.speaker_diarization, relabel)
        exclusive = _relabel_exclusive(output.exclusive_speaker_diarization, regular) \
            if relabel else output.exclusive_speaker_diarization
        output.speaker_diarization = regular.support(collar=min_duration_off)
        output.exclusive_speaker_diarization = exclusive.support(collar=min_duration_off)
        return output

    def _recluster(self, file, annotation, min_duration: float = 0.5, margin: float = 0.05,
                   iterations: int = 10) -> dict:
        """New label per (segment, track) of ``annotation``; {} when nothing changes."""
        tracks = [(seg, trk, lbl) for seg, trk, lbl in annotation.itertracks(yield_label=True)
                  if seg.duration >= min_duration]
        labels = annotation.labels()
        if len(tracks) < 3:
            return {}
        vectors, weights = [], []
        cache = file.setdefault("training_cache/turns", {}) if self.training else {}
        for seg, _, _ in tracks:
            key = (round(seg.start, 3), round(seg.end, 3))
            if key not in cache:
                wav, _ = self._audio.crop(file, seg, mode="pad")
                cache[key] = self._embedding(wav[None])[0]
            vectors.append(cache[key])
            weights.append(seg.duration)
        x = np.asarray(vectors, dtype=np.float64)
        ok = ~np.isnan(x).any(axis=1)
        x[~ok] = 0.0
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
        w = np.asarray(weights) * ok
        original = np.array([labels.index(lbl) for _, _, lbl in tracks])
        current = original.copy()
        rows = np.arange(len(tracks))
        for _ in range(iterations):
            sums = np.zeros((len(labels), x.shape[1]))
            np.add.at(sums, current, w[:, None] * x)
            # leave-one-out: a turn is compared with its own speaker without itself
            own = sums[current] - w[:, None] * x
            sims = x @ (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-9)).T
            sims[rows, current] = (x * own).sum(axis=1) / np.maximum(np.linalg.norm(own, axis=1), 1e-9)
            best = sims.argmax(axis=1)
            keep = sims[rows, original] + margin >= sims[rows, best]
            new = np.where(keep | ~ok, original, best)
            if np.array_equal(new, current):
                break
            current = new
        if np.array_equal(current, original) or len(set(current[ok])) < len(set(original[ok])):
            return {}  # nothing moved, or a speaker would vanish: keep pyannote's labels
        log.debug("turn re-clustering moved %d of %d turns", int((current != original).sum()), len(tracks))
        return {(seg, trk): labels[k] for (seg, trk, _), k in zip(tracks, current)}

    def default_parameters(self) -> dict:
        return {
            "segmentation": {"threshold": 0.45, "min_duration_off": 0.4},
            "clustering": {"method": "average", "threshold": 0.5, "min_cluster_size": 12},
        }


def _relabel(annotation, relabel: dict):
    from pyannote.core import Annotation

    out = Annotation(uri=annotation.uri)
    for seg, trk, lbl in annotation.itertracks(yield_label=True):
        out[seg, trk] = relabel.get((seg, trk), lbl)
    return out.support()


def _relabel_exclusive(exclusive, regular):
    """Give each exclusive segment the label of the regular turn that covers it most."""
    from pyannote.core import Annotation

    out = Annotation(uri=exclusive.uri)
    for seg, trk, lbl in exclusive.itertracks(yield_label=True):
        cover: dict[str, float] = {}
        for other, _, other_lbl in regular.crop(seg, mode="intersection").itertracks(yield_label=True):
            cover[other_lbl] = cover.get(other_lbl, 0.0) + other.duration
        out[seg, trk] = max(cover, key=cover.get) if cover else lbl
    return out.support()


def default_pipeline_dir() -> Path:
    """``$CALLQA_DIARIZATION_PIPELINE`` if set, else the embedded folder."""
    env = os.environ.get(ENV_PIPELINE)
    return Path(env) if env else EMBEDDED_DIR


def _model_refs(node: Any, key: str = "") -> list[tuple[str, str]]:
    """(config key, value) for every checkpoint reference in a pipeline config."""
    refs: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            refs.extend(_model_refs(v, str(k)))
    elif isinstance(node, str) and (node.startswith("$model/") or key in ("segmentation", "embedding", "plda")):
        refs.append((key, node))
    return refs


def validate_pipeline_dir(path: str | os.PathLike) -> Path:
    """Check that ``path`` is a loadable, offline pipeline folder; return it resolved.

    Raises:
        PipelineFolderError: naming the folder and everything missing from it.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        hint = " (run scripts/setup_diarization.sh)" if folder.resolve() == EMBEDDED_DIR else ""
        raise PipelineFolderError(f"diarization pipeline folder {folder} does not exist{hint}")
    config_path = folder / "config.yaml"
    if not config_path.is_file():
        raise PipelineFolderError(f"diarization pipeline folder {folder}: config.yaml is missing")
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as exc:
        raise PipelineFolderError(f"{config_path}: not valid YAML ({exc})") from exc
    if not isinstance(config, dict) or not isinstance(config.get("pipeline"), dict) \
            or "name" not in config["pipeline"]:
        raise PipelineFolderError(f"{config_path}: no pipeline.name entry")
    problems = []
    for key, ref in _model_refs(config["pipeline"].get("params", {})):
        if ref.startswith("$model/"):
            sub = folder / ref.removeprefix("$model/").split("@")[0]
            needed = ["plda.npz", "xvec_transform.npz"] if key == "plda" else ["pytorch_model.bin"]
            problems += [f"{key}: {(sub / n).relative_to(folder)} is missing" for n in needed if not (sub / n).is_file()]
        elif not Path(ref).expanduser().exists():
            problems.append(f"{key}: {ref!r} is neither $model/<subfolder> nor a local file (no hub access)")
    if problems:
        raise PipelineFolderError(f"diarization pipeline folder {folder}: " + "; ".join(problems))
    _verify_manifest(folder)
    return folder.resolve()


def _verify_manifest(folder: Path) -> None:
    """Check files against manifest.json (written by speech.diar_build) when present."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return
    from core.files import sha256_file

    bad = [name for name, digest in json.loads(manifest.read_text())["files"].items()
           if not (folder / name).is_file() or sha256_file(folder / name) != digest]
    if bad:
        raise PipelineFolderError(f"diarization pipeline folder {folder}: {', '.join(bad)} "
                                  "missing or changed since it was built (re-run scripts/setup_diarization.sh)")


_cache: dict[tuple[str, str], Pipeline] = {}
_lock = threading.Lock()
_run_lock = threading.Lock()  # pyannote pipelines keep per-call state: one call at a time


def load_pipeline(pipeline_dir: str | os.PathLike | None = None, device: str = "cpu") -> Pipeline:
    """Load (once per process, folder and device) the pipeline in ``pipeline_dir``."""
    requested = Path(pipeline_dir or default_pipeline_dir()).expanduser()
    key = (str(requested.resolve()), device)
    with _lock:
        if key not in _cache:
            folder = validate_pipeline_dir(requested)
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipeline = Pipeline.from_pretrained(folder)
            if pipeline is None:
                raise PipelineFolderError(f"pyannote could not load a pipeline from {folder}")
            pipeline.to(torch.device(device))
            _cache[key] = pipeline
            log.info("diarization pipeline loaded from %s in %.1fs", folder, time.perf_counter() - started)
        return _cache[key]


def run(
    pipeline: Pipeline,
    waveform: np.ndarray,
    *,
    num_speakers: int | None,
    min_speakers: int | None,
    max_speakers: int | None,
    exclusive: bool = False,
    params: dict | None = None,
    cache: dict | None = None,
) -> list[tuple[float, float, str]]:
    """Diarize 16 kHz mono float audio; return sorted (start, end, speaker) triples.

    ``params``: ``{"segmentation": {...}, "clustering": {...}}`` values instantiated before the
    run, for the embedded pipeline only (an operator's pipeline keeps its config.yaml's).
    ``cache``: a dict kept by the caller between runs on the same audio: the network outputs
    (segmentation, chunk and turn embeddings) are stored there and reused, so a parameter
    sweep re-clusters instead of re-running the networks.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None]
    file = cache if cache is not None else {}
    file.update({"waveform": tensor, "sample_rate": SAMPLE_RATE, "uri": "call"})
    with _run_lock, warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        if params and isinstance(pipeline, EmbeddedSpeakerDiarization):
            _instantiate(pipeline, params)
        pipeline.training = cache is not None  # pyannote caches network outputs in `file` while training
        try:
            output = pipeline(file, num_speakers=num_speakers, min_speakers=min_speakers,
                              max_speakers=max_speakers)
        finally:
            pipeline.training = False
    annotation = getattr(output, "exclusive_speaker_diarization" if exclusive else "speaker_diarization", output)
    return sorted((float(seg.start), float(seg.end), str(label))
                  for seg, _, label in annotation.itertracks(yield_label=True))


def embed(pipeline: Pipeline, waveform: np.ndarray, spans: list[tuple[float, float]],
          cache: dict | None = None) -> list[np.ndarray]:
    """The pipeline's speaker embedding of each (start, end) span of 16 kHz mono float audio.

    Works with any pipeline that has pyannote's ``_embedding`` model (the embedded one and
    pyannote's ``SpeakerDiarization``); without one every vector is NaN (callers then leave
    labels alone). ``cache``: the dict given to :func:`run`; vectors are kept there per span.
    """
    model = getattr(pipeline, "_embedding", None)
    if model is None:
        return [np.full(1, np.nan) for _ in spans]
    store = cache.setdefault("callqa/span_embeddings", {}) if cache is not None else {}
    out = []
    with _run_lock, warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        for start, end in spans:
            key = (round(start, 3), round(end, 3))
            if key not in store:
                chunk = waveform[int(start * SAMPLE_RATE):int(end * SAMPLE_RATE)]
                tensor = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))[None, None]
                store[key] = np.asarray(model(tensor)[0], dtype=np.float64)
            out.append(store[key])
    return out


def _instantiate(pipeline: Pipeline, params: dict) -> None:
    """Set the given parameters (others unchanged) when they differ from the pipeline's."""
    current = pipeline.parameters(instantiated=True)
    wanted = {group: {**current.get(group, {}), **values} for group, values in params.items()}
    merged = {**current, **wanted}
    if merged != current:
        pipeline.instantiate(merged)
