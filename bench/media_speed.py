"""Image and audio challenges per second on one core, against the captcha package.

Each round times, in one process pinned to one CPU:

* ``image.draw`` for the text and the count families (a fresh secret per
  image, styles spread over 30 days), against ``captcha.image.ImageCaptcha``
  with its defaults (160 x 60) drawing the same strings, both encoding a PNG.
  Images are compared per pixel, because ours have 6.8 times as many;
* ``audio.clip`` (French and English in turn), against
  ``captcha.audio.AudioCaptcha`` speaking the same digits, both writing a WAV.
  AudioCaptcha reads one folder per character, of 8-bit unsigned 8 kHz mono
  WAV files. The script converts the service's own espeak-ng recordings into
  that layout in a temporary folder.

Usage: python bench/media_speed.py [--rounds 5] [--images 200] [--clips 10]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from challenge_service.media import audio  # noqa: E402
from challenge_service.media import image  # noqa: E402

#: First style of the run; any day number works.
FIRST_STYLE = 20_000
STYLES = 30

CAPTCHA_WIDTH, CAPTCHA_HEIGHT = 160, 60
CAPTCHA_AUDIO_RATE = 8_000


def pin_to_one_cpu() -> int:
    """Run this process on the first CPU it may use; return that CPU."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def write_captcha_voices(folder: Path) -> None:
    """Convert the service's digit recordings to AudioCaptcha's layout.

    AudioCaptcha mixes raw bytes as unsigned 8-bit samples and writes an
    8 kHz header, so each recording is resampled to 8 kHz and quantised.
    """
    source = Path(audio.__file__).parent / "voices"

    for lang in audio.LANGUAGES:
        for path in sorted((source / lang).glob("?-*.wav")):
            digit, number = path.stem.split("-")
            with wave.open(str(path)) as reader:
                frames = reader.readframes(reader.getnframes())
            samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768
            # Average pairs: a simple low-pass before dropping every other sample.
            halved = samples[: len(samples) // 2 * 2].reshape(-1, 2).mean(axis=1)
            pcm = np.clip(np.rint(halved * 127 + 128), 0, 255).astype(np.uint8)

            target = folder / digit / f"{lang}-{number}.wav"
            target.parent.mkdir(parents=True, exist_ok=True)
            with wave.open(str(target), "wb") as writer:
                writer.setnchannels(1)
                writer.setsampwidth(1)
                writer.setframerate(CAPTCHA_AUDIO_RATE)
                writer.writeframes(pcm.tobytes())


def time_calls(function, arguments: list[tuple]) -> float:
    """Return the seconds that ``function`` takes over all ``arguments``."""
    started = time.perf_counter()
    for call in arguments:
        function(*call)
    return time.perf_counter() - started


def run_round(options, captcha_image, captcha_audio) -> dict[str, float]:
    """Time one round; return calls per second of each generator."""
    text_calls = [
        ("text", secrets.token_bytes(32), FIRST_STYLE + index % STYLES)
        for index in range(options.images)
    ]
    count_calls = [
        ("count", secrets.token_bytes(32), FIRST_STYLE + index % STYLES)
        for index in range(options.images)
    ]
    strings = [(image.text_answer(call[1]),) for call in text_calls]
    clip_calls = [
        (
            secrets.token_bytes(32),
            audio.LANGUAGES[index % 2],
            FIRST_STYLE + index % STYLES,
        )
        for index in range(options.clips)
    ]
    spoken_digits = [(audio.digits(call[0]),) for call in clip_calls]

    def draw_captcha_image(text: str) -> bytes:
        return captcha_image.generate(text).getvalue()

    def mix_captcha_audio(text: str) -> bytes:
        return bytes(captcha_audio.generate(text))

    def mix_clip(secret: bytes, lang: str, style: int) -> bytes:
        return audio.clip(secret, lang, style).wav

    return {
        "text": options.images
        / time_calls(lambda *call: image.draw(*call).png, text_calls),
        "count": options.images
        / time_calls(lambda *call: image.draw(*call).png, count_calls),
        "captcha image": options.images / time_calls(draw_captcha_image, strings),
        "clip": options.clips / time_calls(mix_clip, clip_calls),
        "captcha audio": options.clips / time_calls(mix_captcha_audio, spoken_digits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--images", type=int, default=200, help="images per kind and round"
    )
    parser.add_argument(
        "--clips", type=int, default=10, help="audio clips per kind and round"
    )
    options = parser.parse_args()

    from captcha.audio import AudioCaptcha
    from captcha.image import ImageCaptcha

    cpu = pin_to_one_cpu()
    our_pixels = image.WIDTH * image.HEIGHT
    captcha_pixels = CAPTCHA_WIDTH * CAPTCHA_HEIGHT

    with tempfile.TemporaryDirectory(prefix="bench-media-") as name:
        write_captcha_voices(Path(name))
        captcha_image = ImageCaptcha()
        captcha_audio = AudioCaptcha(voicedir=name)

        # Warm up: fonts, voice files and styles load on first use.
        image.draw("text", secrets.token_bytes(32), FIRST_STYLE)
        image.draw("count", secrets.token_bytes(32), FIRST_STYLE)
        audio.clip(secrets.token_bytes(32), "fr", FIRST_STYLE)
        audio.clip(secrets.token_bytes(32), "en", FIRST_STYLE)
        captcha_image.generate("ACEF")
        captcha_audio.generate("1234")

        print(
            "| round | text img/s | count img/s | captcha img/s |"
            " text / captcha per pixel | count / captcha per pixel |"
            " clips/s | captcha clips/s | clip / captcha |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        ratios: dict[str, list[float]] = {"text": [], "count": [], "clip": []}

        for round_index in range(options.rounds):
            rates = run_round(options, captcha_image, captcha_audio)
            captcha_rate = rates["captcha image"] * captcha_pixels
            ratios["text"].append(rates["text"] * our_pixels / captcha_rate)
            ratios["count"].append(rates["count"] * our_pixels / captcha_rate)
            ratios["clip"].append(rates["clip"] / rates["captcha audio"])
            print(
                f"| {round_index + 1} | {rates['text']:.1f} | {rates['count']:.1f} |"
                f" {rates['captcha image']:.1f} | {ratios['text'][-1]:.2f} |"
                f" {ratios['count'][-1]:.2f} | {rates['clip']:.1f} |"
                f" {rates['captcha audio']:.2f} | {ratios['clip'][-1]:.1f} |",
                flush=True,
            )

    durations = [
        audio.clip(secrets.token_bytes(32), "fr", FIRST_STYLE + index).duration
        for index in range(20)
    ]
    print(
        f"\nmedians: text / captcha per pixel {statistics.median(ratios['text']):.2f},"
        f" count / captcha per pixel {statistics.median(ratios['count']):.2f},"
        f" clip / captcha {statistics.median(ratios['clip']):.1f}"
        f" (one process on CPU {cpu}; {options.images} images and {options.clips}"
        f" clips per kind and round; images {image.WIDTH} x {image.HEIGHT} against"
        f" {CAPTCHA_WIDTH} x {CAPTCHA_HEIGHT}; our clips last"
        f" {statistics.median(durations):.1f} s in the median at {audio.SAMPLE_RATE} Hz)"
    )


if __name__ == "__main__":
    main()
