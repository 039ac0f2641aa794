"""Speaker-embedding model for the embedded diarization pipeline.

A pure-PyTorch port of SpeechBrain's ECAPA-TDNN (spkrec-ecapa-voxceleb: 80 log-mel
filterbanks, channels 1024, 192-dim output) whose parameter names match SpeechBrain's
``embedding_model.ckpt``, wrapped as a pyannote ``Model`` so that a pipeline folder
(config.yaml + ``embedding/pytorch_model.bin``) loads it with ``Pipeline.from_pretrained``.
No speechbrain import is needed (its pyannote adapter breaks with current releases).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pyannote.audio.core.model import Model
from torch import nn

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
# shortest masked excerpt that still gets an embedding (50 ms); shorter -> NaN
MIN_EMBED_SAMPLES = 800


def _mel_filterbank(n_mels: int = N_MELS, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> torch.Tensor:
    """SpeechBrain's triangular mel filterbank, (n_fft // 2 + 1, n_mels)."""
    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mel = torch.linspace(to_mel(0.0), to_mel(sample_rate / 2), n_mels + 2)
    hz = 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    band = (hz[1:] - hz[:-1])[:-1]
    central = hz[1:-1]
    freqs = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)
    slope = (freqs[None, :] - central[:, None]) / band[:, None]
    return torch.clamp(torch.minimum(slope + 1.0, 1.0 - slope), min=0.0).T.contiguous()


class Fbank(nn.Module):
    """80 log-mel filterbanks as computed by ``speechbrain.lobes.features.Fbank``."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hamming_window(N_FFT), persistent=False)
        self.register_buffer("fbank", _mel_filterbank(), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, frames, n_mels), mean-normalised per utterance."""
        spec = torch.stft(wav, N_FFT, HOP, N_FFT, self.window, center=True, pad_mode="constant",
                          normalized=False, onesided=True, return_complex=True)
        power = spec.real.pow(2) + spec.imag.pow(2)  # (B, F, T)
        mel = torch.matmul(power.transpose(1, 2), self.fbank)
        db = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
        db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - 80.0)
        return db - db.mean(dim=1, keepdim=True)


class _Conv(nn.Module):
    """SpeechBrain Conv1d: 'same' reflect padding; parameters under ``conv``."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.pad = dilation * (kernel - 1) // 2
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad, self.pad), mode="reflect")
        return self.conv(x)


class _BN(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class _TDNN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = _Conv(cin, cout, kernel, dilation)
        self.norm = _BN(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.conv(x)))


class _Res2Net(nn.Module):
    def __init__(self, channels: int, scale: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.scale = scale
        self.blocks = nn.ModuleList(
            [_TDNN(channels // scale, channels // scale, kernel, dilation) for _ in range(scale - 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = []
        y = None
        for i, xi in enumerate(torch.chunk(x, self.scale, dim=1)):
            if i == 0:
                y = xi
            elif i == 1:
                y = self.blocks[0](xi)
            else:
                y = self.blocks[i - 1](xi + y)
            out.append(y)
        return torch.cat(out, dim=1)


class _SE(nn.Module):
    def __init__(self, channels: int, se_channels: int) -> None:
        super().__init__()
        self.conv1 = _Conv(channels, se_channels, 1)
        self.conv2 = _Conv(se_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=2, keepdim=True)
        return torch.sigmoid(self.conv2(F.relu(self.conv1(s)))) * x


class _SERes2NetBlock(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.tdnn1 = _TDNN(channels, channels, 1, 1)
        self.res2net_block = _Res2Net(channels, 8, kernel, dilation)
        self.tdnn2 = _TDNN(channels, channels, 1, 1)
        self.se_block = _SE(channels, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.se_block(self.tdnn2(self.res2net_block(self.tdnn1(x)))) + x


class _AttentiveStatsPool(nn.Module):
    def __init__(self, channels: int, attention: int = 128) -> None:
        super().__init__()
        self.tdnn = _TDNN(channels * 3, attention, 1, 1)
        self.conv = _Conv(attention, channels, 1)

    @staticmethod
    def _stats(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (w * x).sum(dim=2)
        std = torch.sqrt((w * (x - mean.unsqueeze(2)).pow(2)).sum(dim=2).clamp(1e-12))
        return mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        mean, std = self._stats(x, torch.full_like(x[:, :1], 1.0 / length))
        ctx = torch.cat([x, mean.unsqueeze(2).expand(-1, -1, length),
                         std.unsqueeze(2).expand(-1, -1, length)], dim=1)
        attn = F.softmax(self.conv(torch.tanh(self.tdnn(ctx))), dim=2)
        mean, std = self._stats(x, attn)
        return torch.cat((mean, std), dim=1).unsqueeze(2)


class EcapaTdnn(nn.Module):
    """ECAPA-TDNN (C=1024) with SpeechBrain-compatible parameter names."""

    def __init__(self, n_mels: int = N_MELS, channels: int = 1024, lin_neurons: int = 192) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_TDNN(n_mels, channels, 5, 1)] + [
            _SERes2NetBlock(channels, 3, d) for d in (2, 3, 4)])
        self.mfa = _TDNN(channels * 3, channels * 3, 1, 1)
        self.asp = _AttentiveStatsPool(channels * 3)
        self.asp_bn = _BN(channels * 6)
        self.fc = _Conv(channels * 6, lin_neurons, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(batch, frames, n_mels) -> (batch, lin_neurons)."""
        x = feats.transpose(1, 2)
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        x = self.mfa(torch.cat(outs[1:], dim=1))
        x = self.fc(self.asp_bn(self.asp(x)))
        return x.squeeze(2)


class EcapaEmbedding(Model):
    """pyannote ``Model`` around :class:`EcapaTdnn` (16 kHz mono, 192-dim, cosine).

    ``forward(waveforms, weights)`` follows pyannote's embedding protocol: ``weights`` is a
    (batch, frames) mask; only samples under the mask are embedded (as SpeechBrain's
    pyannote adapter did), an empty or too-short mask gives a NaN row.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, num_channels: int = 1, task=None) -> None:
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.features = Fbank()
        self.ecapa = EcapaTdnn()

    @property
    def dimension(self) -> int:
        return 192

    def _embed(self, wav: torch.Tensor) -> torch.Tensor:
        return self.ecapa(self.features(wav[None]))[0]

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        batch, _, num_samples = waveforms.shape
        wav = waveforms[:, 0]
        if weights is None:
            if num_samples < MIN_EMBED_SAMPLES:
                raise ValueError(f"need at least {MIN_EMBED_SAMPLES} samples, got {num_samples}")
            return torch.stack([self._embed(w) for w in wav])
        keep = F.interpolate(weights[:, None].float(), size=num_samples, mode="nearest")[:, 0] > 0.5
        out = torch.full((batch, self.dimension), float("nan"), device=waveforms.device)
        for i in range(batch):
            selected = wav[i][keep[i]]
            if selected.numel() >= MIN_EMBED_SAMPLES:
                out[i] = self._embed(selected)
        return out
