"""Audio challenges: spoken digits over babble and coloured noise, mixed with numpy.

``clip(secret, lang, style)`` returns a WAV file that speaks the instruction,
then 4 to 6 digits. The per-challenge ``secret`` decides the digits and every
random choice of the mix, and the daily ``style`` decides the ranges they are
drawn from: gaps, time stretch, pitch, babble and noise levels, noise colour.
The same arguments give the same WAV bytes.

Each digit is one of several espeak-ng recordings shipped in ``voices/``
(written by ``scripts/make-voices``), shifted in pitch by resampling and
stretched in time by WSOLA overlap-add. The background is babble made of
other digit recordings, reversed or strongly pitch-shifted so that none of
them sounds like a digit, plus noise with a 1/f^a spectrum. Both stay at
least 12 dB below the digits, measured as RMS while the digits sound.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import io
import wave

import numpy as np

from . import _random

LANGUAGES = ("fr", "en")
SAMPLE_RATE = 16_000
MIN_DIGITS = 4
MAX_DIGITS = 6

#: Peak of the mixed clip, as a share of full scale.
PEAK = 0.89

#: Silence before the instruction and after the last digit, in seconds.
LEAD = 0.25
TAIL = 0.4

#: WSOLA frame length, and how far each frame may move to match the
#: waveform of the previous one, in samples (20 ms and 5 ms).
FRAME = 320
TOLERANCE = 80


@dataclasses.dataclass(frozen=True)
class Clip:
    """A mixed audio challenge."""

    #: 16-bit PCM mono WAV file at ``sample_rate``.
    wav: bytes
    #: Expected answer: the digits spoken, already normalised.
    answer: str
    #: Length of the clip in seconds.
    duration: float
    sample_rate: int = SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class AudioStyle:
    """Ranges that one style draws the mix from. Times are in seconds."""

    gap: tuple[float, float]
    #: Duration factor of each digit; above 1 is slower.
    stretch: tuple[float, float]
    #: Frequency factor of each digit; above 1 is higher.
    pitch: tuple[float, float]
    #: How far below the digits the babble and the noise stay, in dB of RMS.
    babble_below: float
    noise_below: float
    #: Babble recordings started per second, and the share of them reversed.
    babble_rate: float
    babble_reversed: float
    #: Exponent a of the noise's 1/f^a power spectrum: 0 is white, 1 pink, 2 brown.
    noise_exponent: float


@dataclasses.dataclass(frozen=True)
class _VoiceBank:
    instruction: np.ndarray
    #: Recordings of each digit, indexed by the digit.
    digits: tuple[tuple[np.ndarray, ...], ...]


def clip(secret: bytes, lang: str, style: int) -> Clip:
    """Mix the audio challenge of ``secret`` in ``lang`` ("fr" or "en").

    Raise ValueError for another language or a secret shorter than 16
    bytes, TypeError for a secret that is not bytes or a style that is not
    an int, and FileNotFoundError when the package lacks its voice files.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"Unknown audio language {lang!r}; use 'fr' or 'en'.")
    _random.check_secret(secret)
    parameters = audio_style(style)
    answer = digits(secret)
    rng = _random.generator(
        b"audio-mix", lang.encode(), _random.style_bytes(style), secret
    )

    speech, background = _mix_parts(answer, _voice_bank(lang), parameters, rng)
    mixed = speech + background
    mixed *= PEAK / max(float(np.abs(mixed).max()), 1e-9)
    return Clip(
        wav=_encode_wav(mixed),
        answer=answer,
        duration=len(mixed) / SAMPLE_RATE,
    )


def digits(secret: bytes) -> str:
    """Return the digits that the audio clip of ``secret`` speaks.

    The digits do not depend on the language or the style, so a person who
    switches language hears the same answer.
    """
    _random.check_secret(secret)
    rng = _random.generator(b"audio-answer", secret)
    length = int(rng.integers(MIN_DIGITS, MAX_DIGITS + 1))
    return "".join(str(digit) for digit in rng.integers(0, 10, size=length))


@functools.lru_cache(maxsize=64)
def audio_style(style: int) -> AudioStyle:
    """Return the mixing ranges that ``style`` selects."""
    rng = _random.generator(b"audio-style", _random.style_bytes(style))
    gap_low = float(rng.uniform(0.3, 0.5))
    stretch_low = float(rng.uniform(0.85, 0.95))
    pitch_low = float(rng.uniform(0.86, 0.95))

    return AudioStyle(
        gap=(gap_low, gap_low + float(rng.uniform(0.3, 0.5))),
        stretch=(stretch_low, stretch_low + float(rng.uniform(0.15, 0.3))),
        pitch=(pitch_low, pitch_low + float(rng.uniform(0.12, 0.22))),
        babble_below=float(rng.uniform(12, 16)),
        noise_below=float(rng.uniform(20, 26)),
        babble_rate=float(rng.uniform(3, 6)),
        babble_reversed=float(rng.uniform(0.5, 0.9)),
        noise_exponent=float(rng.uniform(0.5, 1.6)),
    )


def _mix_parts(
    answer: str, bank: _VoiceBank, style: AudioStyle, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return the speech track and the background track, of equal length."""
    pieces = []
    position = int(LEAD * SAMPLE_RATE)
    pieces.append((position, bank.instruction))
    position += len(bank.instruction) + int(rng.uniform(0.6, 0.9) * SAMPLE_RATE)
    digits_start = position

    for char in answer:
        recordings = bank.digits[int(char)]
        recording = recordings[int(rng.integers(len(recordings)))]
        pitch = rng.uniform(*style.pitch)
        stretch = rng.uniform(*style.stretch)
        # Resampling by ``pitch`` also shortens the digit by that factor,
        # which the time stretch gives back before applying its own.
        spoken = _stretch(_resample(recording, pitch), stretch * pitch)
        spoken = spoken * rng.uniform(0.85, 1.0)
        pieces.append((position, spoken))
        position += len(spoken) + int(rng.uniform(*style.gap) * SAMPLE_RATE)

    length = position + int(TAIL * SAMPLE_RATE)
    speech = np.zeros(length, dtype=np.float64)
    for start, signal in pieces:
        speech[start : start + len(signal)] += signal

    digit_signals = np.concatenate([signal for _, signal in pieces[1:]])
    speech_rms = float(np.sqrt(np.mean(digit_signals**2)))
    background_start = max(digits_start - int(0.3 * SAMPLE_RATE), 0)

    babble = _babble(bank, length, background_start, style, rng)
    noise = _coloured_noise(length, style.noise_exponent, rng)
    noise[:background_start] = 0
    ramp = min(int(0.2 * SAMPLE_RATE), length - background_start)
    noise[background_start : background_start + ramp] *= np.linspace(0, 1, ramp)

    background = _scale_to(babble, speech_rms, style.babble_below)
    background += _scale_to(noise, speech_rms, style.noise_below)
    return speech, background


def _babble(
    bank: _VoiceBank,
    length: int,
    start: int,
    style: AudioStyle,
    rng: np.random.Generator,
) -> np.ndarray:
    """Return a track of digit recordings, each reversed or strongly shifted.

    A recording played forwards is resampled to 0.6 to 0.75 or 1.45 to 1.7
    times its pitch, far outside the range of the spoken digits.
    """
    track = np.zeros(length, dtype=np.float64)
    count = int(style.babble_rate * (length - start) / SAMPLE_RATE)
    everything = [recording for recordings in bank.digits for recording in recordings]

    for _ in range(count):
        recording = everything[int(rng.integers(len(everything)))]
        if rng.random() < style.babble_reversed:
            snippet = _resample(recording[::-1], rng.uniform(0.8, 1.25))
        elif rng.random() < 0.5:
            snippet = _resample(recording, rng.uniform(0.6, 0.75))
        else:
            snippet = _resample(recording, rng.uniform(1.45, 1.7))
        offset = int(rng.integers(start, max(length - len(snippet), start + 1)))
        end = min(offset + len(snippet), length)
        track[offset:end] += snippet[: end - offset] * rng.uniform(0.5, 1.0)

    return track


def _coloured_noise(
    length: int, exponent: float, rng: np.random.Generator
) -> np.ndarray:
    """Return noise with power spectrum 1/f^exponent and unit RMS.

    Frequencies below 50 Hz get the level of 50 Hz, so brown noise does not
    turn into a slow drift of the signal.
    """
    size = 1 << max(length - 1, 1).bit_length()
    spectrum = np.fft.rfft(rng.standard_normal(size))
    frequencies = np.fft.rfftfreq(size, d=1 / SAMPLE_RATE)
    spectrum *= np.maximum(frequencies, 50.0) ** (-exponent / 2)
    noise = np.fft.irfft(spectrum, n=size)[:length]
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _scale_to(track: np.ndarray, reference_rms: float, below_db: float) -> np.ndarray:
    """Scale ``track`` so that its RMS where it is not silent is ``below_db``
    under ``reference_rms``."""
    active = track[np.abs(track) > 1e-6]
    if active.size == 0:
        return track
    rms = float(np.sqrt(np.mean(active**2)))
    return track * (reference_rms * 10 ** (-below_db / 20) / rms)


def _resample(signal: np.ndarray, factor: float) -> np.ndarray:
    """Play ``signal`` ``factor`` times faster: higher pitch, shorter length.

    Linear interpolation; the factors used stay near 1 or shift babble, where
    the little aliasing it adds does not matter.
    """
    positions = np.arange(0, len(signal) - 1, factor)
    return np.interp(positions, np.arange(len(signal)), signal)


def _stretch(signal: np.ndarray, factor: float) -> np.ndarray:
    """Return ``signal`` lasting ``factor`` times as long, at the same pitch.

    WSOLA: Hann frames of ``FRAME`` samples are added at half-frame steps.
    Each frame is read near where the time scale puts it, moved by up to
    ``TOLERANCE`` samples to the offset whose waveform best continues the
    previous frame, which avoids the rough sound of plain overlap-add.
    The loop runs once per frame (every 10 ms); the work inside is numpy.
    """
    hop = FRAME // 2
    frames = max(int((len(signal) * factor - FRAME) / hop) + 1, 1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)
    margin = TOLERANCE + FRAME
    padded = np.concatenate([np.zeros(margin), signal, np.zeros(2 * margin + hop)])
    output = np.zeros(frames * hop + FRAME, dtype=np.float64)
    previous = margin

    for index in range(frames):
        nominal = margin + int(index * hop / factor)
        if index == 0:
            chosen = nominal
        else:
            template = padded[previous + hop : previous + hop + FRAME]
            region = padded[nominal - TOLERANCE : nominal + TOLERANCE + FRAME]
            similarity = np.correlate(region, template, mode="valid")
            chosen = nominal - TOLERANCE + int(np.argmax(similarity))
        start = index * hop
        output[start : start + FRAME] += padded[chosen : chosen + FRAME] * window
        previous = chosen

    return output


@functools.lru_cache(maxsize=len(LANGUAGES))
def _voice_bank(lang: str) -> _VoiceBank:
    """Load the instruction and the digit recordings of ``lang``."""
    folder = importlib.resources.files(__package__).joinpath("voices", lang)
    instruction = folder.joinpath("instruction.wav")
    if not instruction.is_file():
        raise FileNotFoundError(
            f"The voice files of {lang!r} are missing from {folder}; run"
            " scripts/make-voices and reinstall the package."
        )

    recordings = []
    for digit in range(10):
        names = sorted(
            entry.name
            for entry in folder.iterdir()
            if entry.name.startswith(f"{digit}-")
        )
        if not names:
            raise FileNotFoundError(
                f"No recording of the digit {digit} in {folder}; run scripts/make-voices."
            )
        recordings.append(
            tuple(_read_wav(folder.joinpath(name).read_bytes()) for name in names)
        )

    return _VoiceBank(_read_wav(instruction.read_bytes()), tuple(recordings))


def _read_wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as reader:
        if (
            reader.getnchannels() != 1
            or reader.getsampwidth() != 2
            or reader.getframerate() != SAMPLE_RATE
        ):
            raise ValueError(
                "A voice file is not 16-bit mono at 16 kHz; rerun scripts/make-voices."
            )
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768


def _encode_wav(samples: np.ndarray) -> bytes:
    pcm = np.clip(np.rint(samples * 32767), -32767, 32767).astype("<i2")
    output = io.BytesIO()
    with wave.open(output, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())
    return output.getvalue()
