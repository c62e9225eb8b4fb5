"""Image and audio challenges per second on one core, against the captcha package.

Each round counts the CPU time of each call, in one process pinned to one
CPU, with the generators taking turns call by call:

* ``image.draw`` for the text and the count families (a fresh secret per
  image, styles spread over 30 days), against ``captcha.image.ImageCaptcha``
  with its defaults (160 x 60) drawing texts of our length and alphabet,
  both encoding a PNG. Images are compared per pixel, because ours have 6.8
  times as many;
* ``audio.clip`` (French and English in turn), against
  ``captcha.audio.AudioCaptcha`` speaking as many digits, both writing a WAV.
  AudioCaptcha reads one folder per character, of 8-bit unsigned 8 kHz mono
  WAV files. The script converts the service's own espeak-ng recordings into
  that layout in a temporary folder.

Usage: python bench/media_speed.py [--rounds 5] [--images 200] [--clips 10]
"""

from __future__ import annotations

import argparse
import itertools
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


def run_round(options, captcha_image, captcha_audio) -> dict[str, float]:
    """Time one round; return calls per CPU second of each generator."""
    images = {
        "text": (fresh_challenge, lambda *args: image.draw("text", *args).png),
        "count": (fresh_challenge, lambda *args: image.draw("count", *args).png),
        "captcha image": (
            captcha_text,
            lambda text: captcha_image.generate(text).getvalue(),
        ),
    }
    clips = {
        "clip": (fresh_clip, lambda *args: audio.clip(*args).wav),
        "captcha audio": (
            captcha_digits,
            lambda digits: bytes(captcha_audio.generate(digits)),
        ),
    }
    rates = {
        name: options.images / seconds
        for name, seconds in alternate(images, options.images).items()
    }
    for name, seconds in alternate(clips, options.clips).items():
        rates[name] = options.clips / seconds
    return rates


def alternate(generators: dict, calls: int) -> dict[str, float]:
    """Call each generator ``calls`` times in turn; return CPU seconds of each.

    ``generators`` maps a name to a function that returns fresh arguments,
    which is not timed, and the generator itself. Taking turns call by call
    makes a change of load on the machine weigh on all generators alike.
    """
    seconds = dict.fromkeys(generators, 0.0)

    for _ in range(calls):
        for name, (make_arguments, generate) in generators.items():
            arguments = make_arguments()
            started = time.process_time()
            generate(*arguments)
            seconds[name] += time.process_time() - started

    return seconds


_counter = itertools.count()


def next_style() -> int:
    return FIRST_STYLE + next(_counter) % STYLES


def fresh_challenge() -> tuple[bytes, int]:
    return secrets.token_bytes(32), next_style()


def fresh_clip() -> tuple[bytes, str, int]:
    lang = audio.LANGUAGES[next(_counter) % len(audio.LANGUAGES)]
    return secrets.token_bytes(32), lang, next_style()


def captcha_text() -> tuple[str]:
    """Return a text of the length and alphabet of ours, for ImageCaptcha."""
    return (image.text_answer(secrets.token_bytes(32)),)


def captcha_digits() -> tuple[str]:
    """Return digits of the length of ours, for AudioCaptcha."""
    return (audio.digits(secrets.token_bytes(32)),)


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
        f" (CPU time of one process on CPU {cpu}; {options.images} images and"
        f" {options.clips}"
        f" clips per kind and round; images {image.WIDTH} x {image.HEIGHT} against"
        f" {CAPTCHA_WIDTH} x {CAPTCHA_HEIGHT}; our clips last"
        f" {statistics.median(durations):.1f} s in the median at {audio.SAMPLE_RATE} Hz)"
    )


if __name__ == "__main__":
    main()
