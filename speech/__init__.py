"""Speech: decode and normalise audio, transcribe, diarize, build utterances.

Plain functions and small classes; nothing here knows about Prefect or DuckDB.
"""
import logging

logger = logging.getLogger("speech")
