"""Share of text images that Tesseract OCR reads exactly right.

Draws ``--count`` fresh text-family images (a new random secret each, styles
spread over ``--styles`` consecutive days) and gives the same answers to
three references:

* the same images, turned grey, with a 3x3 median filter that removes the
  noise dots and Otsu's threshold, as an attacker would clean them first;
* the ``captcha`` package's ``ImageCaptcha`` with its defaults (160 x 60,
  its own font and noise), drawing the same strings;
* plain renders of the same strings in the same style's font, black on
  white, without any distortion, which shows that the OCR set-up works.

Tesseract (Debian's ``tesseract-ocr``) runs as a subprocess with page
segmentation mode 7 (one line of text), the LSTM engine and a whitelist of
the answer alphabet. Each worker reads a batch of images from a list file
in one Tesseract process, which saves its start-up time per image.

Usage: python bench/ocr_rate.py [--count 500] [--jobs 2] [--timeout 1200]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from challenge_service.media import image  # noqa: E402

#: First style of the run; any day number works.
FIRST_STYLE = 20_000


def require_tesseract() -> str:
    """Return the path of the ``tesseract`` binary or exit with the fix."""
    path = shutil.which("tesseract")
    if path is None:
        sys.exit(
            "tesseract was not found; install it with: apt-get install -y tesseract-ocr"
        )
    return path


def write_ours(folder: Path, count: int, styles: int) -> tuple[list[str], list[Path]]:
    """Draw ``count`` text images into ``folder``; return answers and paths."""
    answers, paths = [], []

    for index in range(count):
        drawing = image.draw(
            "text", secrets.token_bytes(32), FIRST_STYLE + index % styles
        )
        path = folder / f"ours-{index:04d}.png"
        path.write_bytes(drawing.png)
        answers.append(drawing.answer)
        paths.append(path)

    return answers, paths


def write_cleaned(folder: Path, sources: list[Path]) -> list[Path]:
    """Write grey, median-filtered, Otsu-thresholded copies of ``sources``."""
    paths = []

    for index, source in enumerate(sources):
        grey = Image.open(source).convert("L").filter(ImageFilter.MedianFilter(3))
        pixels = np.asarray(grey)
        threshold = otsu_threshold(pixels)
        binary = np.where(pixels > threshold, 255, 0).astype(np.uint8)
        path = folder / f"cleaned-{index:04d}.png"
        Image.fromarray(binary).save(path)
        paths.append(path)

    return paths


def otsu_threshold(pixels: np.ndarray) -> int:
    """Return the grey level that maximises the between-class variance."""
    histogram = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    weights = np.cumsum(histogram)
    means = np.cumsum(histogram * np.arange(256))
    total_weight, total_mean = weights[-1], means[-1]
    background = total_weight - weights
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_mean * weights - means * total_weight) ** 2 / (
            weights * background
        )
    return int(np.nanargmax(between[:-1]))


def write_captcha(folder: Path, answers: list[str]) -> list[Path]:
    """Draw ``answers`` with the ``captcha`` package's default ImageCaptcha."""
    from captcha.image import ImageCaptcha

    generator = ImageCaptcha()
    paths = []

    for index, answer in enumerate(answers):
        path = folder / f"captcha-{index:04d}.png"
        generator.write(answer, str(path))
        paths.append(path)

    return paths


def write_plain(folder: Path, answers: list[str], styles: int) -> list[Path]:
    """Draw ``answers`` black on white in each style's font, undistorted."""
    paths = []

    for index, answer in enumerate(answers):
        font = image.image_style(FIRST_STYLE + index % styles).font()
        picture = Image.new("L", (image.WIDTH, image.HEIGHT), 255)
        pen = ImageDraw.Draw(picture)
        pen.text(
            (image.WIDTH / 2, image.HEIGHT / 2), answer, font=font, fill=0, anchor="mm"
        )
        path = folder / f"plain-{index:04d}.png"
        picture.save(path)
        paths.append(path)

    return paths


def read_batch(
    tesseract: str, paths: list[Path], list_file: Path, deadline: float
) -> list[str | None]:
    """Run one Tesseract process over ``paths``; return one text per image.

    Tesseract separates the pages of a list file with form feeds. When the
    batch fails or its output does not split into one text per image, each
    image is read on its own, and an image on which Tesseract fails (5.3.0
    dies with SIGFPE on a few) gets None.
    """
    list_file.write_text("".join(f"{path}\n" for path in paths))
    try:
        texts: list[str | None] = list(
            run_tesseract(tesseract, str(list_file), deadline).split("\f")
        )
    except subprocess.CalledProcessError:
        texts = []

    if len(texts) != len(paths):
        texts = [read_one(tesseract, path, deadline) for path in paths]

    return [None if text is None else "".join(text.split()) for text in texts]


def read_one(tesseract: str, path: Path, deadline: float) -> str | None:
    try:
        return run_tesseract(tesseract, str(path), deadline)
    except subprocess.CalledProcessError:
        return None


def run_tesseract(tesseract: str, source: str, deadline: float) -> str:
    """Return Tesseract's text for ``source``; raise TimeoutError after ``deadline``."""
    timeout = deadline - time.monotonic()
    if timeout <= 0:
        raise TimeoutError("The OCR run passed its --timeout; rerun with a larger one.")
    command = [
        tesseract,
        source,
        "stdout",
        "--psm",
        "7",
        "--oem",
        "1",
        "-c",
        f"tessedit_char_whitelist={image.ALPHABET}",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=True
    )
    return result.stdout


def read_all(
    tesseract: str, paths: list[Path], folder: Path, jobs: int, deadline: float
) -> list[str | None]:
    """Read ``paths`` in ``jobs`` parallel Tesseract processes of 50 images."""
    batches = [paths[start : start + 50] for start in range(0, len(paths), 50)]
    texts: list[list[str | None]] = [[] for _ in batches]

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {}
        for number, batch in enumerate(batches):
            list_file = folder / f"{paths[0].stem}-batch-{number}.txt"
            future = pool.submit(read_batch, tesseract, batch, list_file, deadline)
            futures[future] = number

        for future in concurrent.futures.as_completed(futures):
            texts[futures[future]] = future.result()

    return [text for batch in texts for text in batch]


def edit_distance(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))

    for row, left in enumerate(first, start=1):
        current = [row]
        for column, right in enumerate(second, start=1):
            current.append(
                min(
                    previous[column] + 1,
                    current[column - 1] + 1,
                    previous[column - 1] + (left != right),
                )
            )
        previous = current

    return previous[-1]


def upper_bound(successes: int, trials: int, confidence: float = 0.95) -> float:
    """Return the one-sided Clopper-Pearson upper bound of a binomial share."""
    low, high = successes / trials, 1.0

    for _ in range(60):
        middle = (low + high) / 2
        # Probability of at most ``successes`` hits if the true share were ``middle``.
        tail = sum(
            _binomial(trials, k) * middle**k * (1 - middle) ** (trials - k)
            for k in range(successes + 1)
        )
        if tail > 1 - confidence:
            low = middle
        else:
            high = middle

    return high


def _binomial(n: int, k: int) -> float:
    from math import comb

    return float(comb(n, k))


def summarise(name: str, answers: list[str], texts: list[str | None]) -> str:
    """Return a table row: exact reads, their share and bound, characters right.

    An image on which Tesseract failed counts as read wrong.
    """
    exact = sum(text == answer for answer, text in zip(answers, texts))
    failed = sum(text is None for text in texts)
    characters = sum(len(answer) for answer in answers)
    errors = sum(
        edit_distance(answer, text or "") for answer, text in zip(answers, texts)
    )
    share = exact / len(answers)
    bound = upper_bound(exact, len(answers))
    return (
        f"| {name} | {len(answers)} | {exact} | {share:.1%} | {bound:.1%} |"
        f" {max(0.0, 1 - errors / characters):.1%} | {failed} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="images per kind")
    parser.add_argument(
        "--styles", type=int, default=30, help="consecutive styles used"
    )
    parser.add_argument(
        "--jobs", type=int, default=2, help="parallel Tesseract processes"
    )
    parser.add_argument(
        "--timeout", type=float, default=1200, help="maximum seconds for all OCR runs"
    )
    options = parser.parse_args()
    tesseract = require_tesseract()
    deadline = time.monotonic() + options.timeout

    with tempfile.TemporaryDirectory(prefix="bench-ocr-") as name:
        folder = Path(name)
        answers, ours = write_ours(folder, options.count, options.styles)
        kinds = {
            "ours, as served": ours,
            "ours, median filter and Otsu threshold": write_cleaned(folder, ours),
            "captcha 0.7.1 ImageCaptcha": write_captcha(folder, answers),
            "plain render, black on white": write_plain(
                folder, answers, options.styles
            ),
        }
        print(
            "| images | count | read exactly | share | 95 % upper bound |"
            " characters right | OCR failed |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- |")
        started = time.monotonic()

        for kind, paths in kinds.items():
            texts = read_all(tesseract, paths, folder, options.jobs, deadline)
            print(summarise(kind, answers, texts), flush=True)

    version = subprocess.run(
        [tesseract, "--version"], capture_output=True, text=True, check=True
    ).stdout.splitlines()[0]
    print(
        f"\n{version}, --psm 7 --oem 1, whitelist {image.ALPHABET};"
        f" {options.jobs} processes, OCR took {time.monotonic() - started:.0f} s."
        " 'characters right' is 1 - edit distance / answer length, summed."
    )


if __name__ == "__main__":
    main()
