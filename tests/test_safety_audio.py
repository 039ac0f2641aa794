"""Audio without personal data: masked spans toned out of every recording the report and
exports write (never the original file), and changed recordings named, not played.

Real recordings from samples/calls, a real DuckDB, the real Whisper model where marked slow.
"""
from __future__ import annotations

import json
import shutil
import wave
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from callqa.cli import app
from core.domain import Call, Utterance, Word
from core.filenames import safe_name
from core.files import sha256_file
from speech.redact_audio import MAX_EXTEND_S, PAD_S, TONE_HZ, TONE_LEVEL, redact_audio, redaction_windows, tone_out
from tests.helpers.audio import decode_at
from tests.helpers.reporting_data import processed
from warehouse.redaction import PLACEHOLDERS, masked_spans
from warehouse.reporting import Window
from warehouse.store import Warehouse

RATE = 8000
# dev_call_05: the customer says a phone number; the ground truth script has it from about
# 10.3 s to the end of the turn (12.73 s; speech energy ends at 12.69 s).
SPOKEN_NUMBER = (10.35, 12.65)
STARTED = datetime(2026, 11, 10, 2, 0, tzinfo=timezone.utc)
NOVEMBER = Window(date(2026, 11, 1), date(2026, 11, 30))  # STARTED's month, whatever today is


def samples_of(repo_root: Path, name: str = "dev_call_05.stereo.wav") -> np.ndarray:
    return decode_at(repo_root / "samples" / "calls" / name, RATE).samples


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as fh:
        assert fh.getsampwidth() == 2
        data = np.frombuffer(fh.readframes(fh.getnframes()), "<i2").astype(np.float32) / 32768.0
        return data.reshape(-1, fh.getnchannels()).T, fh.getframerate()


def tone_share(x: np.ndarray, rate: int) -> tuple[float, float]:
    """(frequency of the spectral peak, share of the energy within 20 Hz of TONE_HZ)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / rate)
    near = np.abs(freqs - TONE_HZ) <= 20
    return float(freqs[int(np.argmax(spec))]), float(spec[near].sum() / spec.sum())


def inside(x: np.ndarray, rate: int, s: float, e: float) -> np.ndarray:
    return x[..., int(s * rate):int(e * rate)]


def least_tone(x: np.ndarray, rate: int, s: float, e: float, frame_s: float = 0.05) -> float:
    """The smallest share of energy near TONE_HZ over the 50 ms frames of [s, e] of one
    channel: below 0.99 as soon as any frame holds something besides the tone."""
    n = int(frame_s * rate)
    near = np.abs(np.fft.rfftfreq(n, 1.0 / rate) - TONE_HZ) <= 60
    shares = []
    for a in range(int(s * rate), int(e * rate) - n + 1, n // 2):
        spec = np.abs(np.fft.rfft(x[a:a + n] * np.hanning(n))) ** 2
        shares.append(spec[near].sum() / spec.sum())
    return float(min(shares))


# -- the redaction function -------------------------------------------------------------------
def test_tone_replaces_the_window_and_nothing_else(repo_root):
    x = samples_of(repo_root, "dev_call_01.stereo.wav")
    out = tone_out(x, RATE, [(3.0, 4.5)])
    assert out.shape == x.shape and out.dtype == np.float32
    a, b = int(3.0 * RATE), int(4.5 * RATE)
    assert np.array_equal(out[:, :a], x[:, :a]) and np.array_equal(out[:, b:], x[:, b:])
    assert np.abs(x[:, a:b]).max() > 0.05  # there was speech in the window
    for ch in range(2):
        span = out[ch, a + 80:b - 80]  # inside the 5 ms fades
        peak, share = tone_share(span, RATE)
        assert peak == pytest.approx(TONE_HZ, abs=5) and share > 0.99
        rms = float(np.sqrt(np.mean(span ** 2)))
        assert rms == pytest.approx(TONE_LEVEL / np.sqrt(2), rel=0.02)  # a -23 dBFS RMS tone
    assert np.abs(out).max() <= 1.0


def test_spans_are_padded_merged_and_run_on_to_the_next_pause(repo_root):
    x = samples_of(repo_root)
    # two spans 0.3 s apart merge once padded; nothing outside the recording
    assert redaction_windows(x, RATE, [(1.0, 1.2), (1.5, 1.6)], max_extend_s=0) == [(1.0 - PAD_S, 1.6 + PAD_S)]
    assert redaction_windows(x, RATE, [(0.1, 0.2)], max_extend_s=0)[0][0] == 0.0
    assert redaction_windows(x, RATE, []) == []
    # Whisper's masked words of dev_call_05 (measured): the last one ends at 12.12 s, the
    # number is spoken until ~12.69 s; padding alone would leave its last digits audible
    whisper = [(9.92, 10.56), (10.56, 11.12), (11.12, 11.64), (11.64, 12.12)]
    (start, end), = redaction_windows(x, RATE, whisper)
    assert start == pytest.approx(9.92 - PAD_S) and SPOKEN_NUMBER[1] < end <= 12.12 + PAD_S + MAX_EXTEND_S
    assert end < 13.0  # stops at the pause, well before the collector's reply at 13.47 s
    # in silence (between the turns) the window ends where the padding ends; in the middle of
    # the collector's long turn it runs on MAX_EXTEND_S at most
    assert redaction_windows(x, RATE, [(5.7, 5.8)]) == [(5.7 - PAD_S, 5.8 + PAD_S)]
    assert redaction_windows(x, RATE, [(2.0, 2.1)]) == [(2.0 - PAD_S, pytest.approx(2.1 + PAD_S + MAX_EXTEND_S))]


def test_redact_audio_covers_every_channel(repo_root):
    x = samples_of(repo_root)
    out = redact_audio(x, RATE, [(10.5, 11.0)])
    for ch in range(x.shape[0]):
        assert least_tone(out[ch], RATE, 10.3, 11.2) > 0.99
    # the number's last digits would stay audible with padding alone (regression)
    whisper = [(9.92, 12.12)]
    padded_only = tone_out(x, RATE, redaction_windows(x, RATE, whisper, max_extend_s=0))
    assert least_tone(padded_only[1], RATE, *SPOKEN_NUMBER) < 0.5
    assert least_tone(redact_audio(x, RATE, whisper)[1], RATE, *SPOKEN_NUMBER) > 0.99


def test_placeholders_match_the_redaction_masks():
    import re

    from analysis.pii import MASKS

    assert {m for m in MASKS.values() if re.fullmatch(PLACEHOLDERS, m)} == set(MASKS.values())
    assert not re.search(PLACEHOLDERS, "[备注] 尾号 *")


# -- the warehouse read function --------------------------------------------------------------
def test_masked_spans_from_the_warehouse(tmp_path, repo_root):
    from flows.recording import redact_utterances

    wav = repo_root / "samples" / "calls" / "dev_call_05.stereo.wav"
    call = Call("c/1", str(wav), sha256_file(wav), wav.stat().st_size, channel_roles=("collector", "customer"))
    pc = processed(call, [("collector", 0.5, 5.0, "您好", []), ("customer", 6.0, 9.0, "我的号码是[电话]", ["pii"])], 28.7)
    text = "电话是13800138000好"
    words = [Word(10.0 + 0.2 * k, 10.2 + 0.2 * k, ch, 0.9) for k, ch in enumerate(text)]
    spoken = Utterance("ch1", "customer", 10.0, 10.0 + 0.2 * len(text), text, words, channel=1)
    redact_utterances([spoken], keep_raw=False)  # the pipeline's own masking
    assert spoken.text == "电话是[电话]好" and sum(w.text == "*" for w in spoken.words) == 11
    pc.utterances.append(spoken)
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        wh.land([pc], [], wh.start_run("x", {}))
        spans = masked_spans(wh.con, "c/1")
        assert masked_spans(wh.con, "nope") == []
    # the placeholder utterance without masked words counts whole; masked words by their times
    assert spans[0] == (6.0, 9.0)
    assert [t for span in spans[1:] for t in span] == pytest.approx(
        [t for k in range(11) for t in (10.6 + 0.2 * k, 10.8 + 0.2 * k)])


# -- the report and the export ------------------------------------------------------------------
def data_offset(wav: Path) -> int:
    """Byte offset of the samples of a RIFF/WAVE file."""
    raw = wav.read_bytes()
    pos = 12
    while pos + 8 <= len(raw):
        size = int.from_bytes(raw[pos + 4:pos + 8], "little")
        if raw[pos:pos + 4] == b"data":
            return pos + 8
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


def test_report_names_a_same_size_changed_recording(tmp_path, repo_root, cfg):
    from callqa.report import build_report

    wav = tmp_path / "archive" / "call.wav"
    wav.parent.mkdir()
    shutil.copy(repo_root / "samples" / "calls" / "dev_call_05.stereo.wav", wav)
    call = Call("same-size", str(wav), sha256_file(wav), wav.stat().st_size, started_at=STARTED,
                channel_roles=("collector", "customer"))
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:  # flagged: the report gives it a page
        wh.land([processed(call, [("collector", 0.5, 5.0, "您好", ["abuse"])], 28.7)], [], wh.start_run("x", {}))
    out = tmp_path / "report"
    first = build_report(db, out, cfg, window=NOVEMBER)
    assert (first.audio_ok, first.audio_changed) == (1, 0) and (out / "audio" / f"{safe_name('same-size')}.wav").is_file()

    size = wav.stat().st_size
    with wav.open("r+b") as fh:  # another recording under the same name, same size
        fh.seek(data_offset(wav) + 40_000)
        block = fh.read(64)
        fh.seek(-64, 1)
        fh.write(bytes(b ^ 0xFF for b in block))
    assert wav.stat().st_size == size
    second = build_report(db, out, cfg, window=NOVEMBER)
    assert (second.audio_ok, second.audio_changed, second.audio_missing) == (0, 1, 0)
    page = (out / "calls" / f"{safe_name('same-size')}.html").read_text(encoding="utf-8")
    assert 'id="audio-missing"' in page and "has changed since it was processed" in page and "<audio" not in page
    assert not (out / "audio" / f"{safe_name('same-size')}.wav").exists()  # the earlier render is gone too

    wav.unlink()
    third = build_report(db, out, cfg, window=NOVEMBER)
    assert (third.audio_missing, third.audio_changed) == (1, 0)
    assert "no longer at its archive path" in (out / "calls" / f"{safe_name('same-size')}.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_and_export_play_redacted_audio(tmp_path, repo_root, cfg, transcriber):
    from callqa.report import build_report
    from flows.recording import process_recording

    src = repo_root / "samples" / "calls" / "dev_call_05.stereo.wav"
    archive = tmp_path / "archive"
    archive.mkdir()
    wav = archive / src.name
    shutil.copy(src, wav)
    call = Call("dev_call_05", str(wav), sha256_file(wav), wav.stat().st_size, started_at=STARTED,
                channel_roles=("collector", "customer"))
    result = process_recording(call, cfg)
    assert any("[电话]" in u.text or "[号码]" in u.text for u in result.utterances)
    db = tmp_path / "w.duckdb"
    with Warehouse(db) as wh:
        wh.land([result], [], wh.start_run(str(archive), {}))
        spans = masked_spans(wh.con, "dev_call_05")
    # the spoken number, and the debtor's name (李军) in the collector's first words
    assert any(9.0 < s < e < 13.0 for s, e in spans) and all(9.0 < s < e < 13.0 or e < 2.0 for s, e in spans)

    report = build_report(db, tmp_path / "report", cfg, window=NOVEMBER)
    assert (report.audio_ok, report.audio_changed, report.audio_missing) == (1, 0, 0)
    page = (tmp_path / "report" / "calls" / f"{safe_name('dev_call_05')}.html").read_text(encoding="utf-8")
    assert f'src="../audio/{safe_name("dev_call_05")}.wav"' in page
    played = tmp_path / "report" / "audio" / f"{safe_name('dev_call_05')}.wav"
    assert played.read_bytes() != src.read_bytes()
    assert all(p.read_bytes() != src.read_bytes() for p in (tmp_path / "report").rglob("*") if p.is_file())
    out, rate = read_wav(played)
    original = samples_of(repo_root)
    assert rate == RATE and out.shape == original.shape

    # the masked words and the whole spoken number: the tone, on both channels
    for s, e in spans + [SPOKEN_NUMBER]:
        for ch in range(2):
            assert tone_share(inside(out[ch], rate, s, e), rate)[0] == pytest.approx(TONE_HZ, abs=10)
            assert least_tone(out[ch], rate, s, e) > 0.99, (s, e, ch)
    # everywhere else: the recording itself
    keep = np.ones(out.shape[1], bool)
    for s, e in spans:
        keep[int((s - PAD_S) * rate):int((e + PAD_S + MAX_EXTEND_S) * rate)] = False
    assert keep.mean() > 0.7  # the number and the name (about 2 s each with padding and run-on)
    for ch in range(2):
        assert np.corrcoef(out[ch, keep], original[ch, keep])[0, 1] > 0.999
        assert np.abs(out[ch, keep] - original[ch, keep]).max() < 1e-3

    # callqa export --audio writes the same redacted audio; without the flag, none
    plain = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    assert not (tmp_path / "plain" / "audio").exists()
    exported = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(tmp_path / "exp"), "--audio"])
    assert exported.exit_code == 0, exported.output
    counts = json.loads(exported.output)
    assert (counts["audio_ok"], counts["audio_changed"], counts["audio_missing"]) == (1, 0, 0)
    assert (tmp_path / "exp" / "audio" / f"{safe_name('dev_call_05')}.wav").read_bytes() == played.read_bytes()
    assert all(p.read_bytes() != src.read_bytes() for p in (tmp_path / "exp").rglob("*") if p.is_file())

    # the next night's export --audio writes only calls with no audio there yet; --full all again
    exported_wav = tmp_path / "exp" / "audio" / f"{safe_name('dev_call_05')}.wav"
    before = exported_wav.stat().st_mtime_ns
    again = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(tmp_path / "exp"), "--audio"])
    assert again.exit_code == 0, again.output
    assert (json.loads(again.output)["audio_ok"], json.loads(again.output)["audio_kept"]) == (0, 1)
    assert exported_wav.stat().st_mtime_ns == before
    full = CliRunner().invoke(app, ["export", "--db", str(db), "--out", str(tmp_path / "exp"), "--audio", "--full"])
    assert full.exit_code == 0, full.output
    assert (json.loads(full.output)["audio_ok"], json.loads(full.output)["audio_kept"]) == (1, 0)
    assert exported_wav.read_bytes() == played.read_bytes()

    # a purge reaches the exported audio like the other per-call files
    purged = CliRunner().invoke(app, ["purge", "--db", str(db), "--call-id", "dev_call_05", "--yes"])
    assert purged.exit_code == 0, purged.output
    assert not (tmp_path / "exp" / "audio" / f"{safe_name('dev_call_05')}.wav").exists()


def test_undecodable_recording_is_named_not_copied(tmp_path, repo_root, cfg):
    from callqa.report.media import place_audio
    from warehouse.redaction import CallAudio

    broken = repo_root / "samples" / "calls" / "broken_upload.wav"
    (tmp_path / "audio").mkdir()
    (tmp_path / "audio" / "b.wav").write_bytes(b"an earlier render")
    copy = place_audio(CallAudio("b", str(broken), sha256_file(broken), 8000, []), tmp_path / "audio", "b", "b",
                       cfg.audio)
    assert (copy.status, copy.href) == ("failed", None) and "could not be decoded" in copy.note
    assert list((tmp_path / "audio").iterdir()) == []
