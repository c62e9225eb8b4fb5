"""Image and audio challenge media, and the forgiving comparison of answers."""

from __future__ import annotations

import hashlib
import io
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from challenge_service import challenges
from challenge_service.media import audio
from challenge_service.media import image
from challenge_service.media.answers import MAX_INPUT_LENGTH
from challenge_service.media.answers import contains_number_word
from challenge_service.media.answers import matches
from challenge_service.media.answers import normalise

STYLE = 20_000

NUMBER_WORDS = [
    ("zéro", "zero"),
    ("un", "one"),
    ("deux", "two"),
    ("trois", "three"),
    ("quatre", "four"),
    ("cinq", "five"),
    ("six", "six"),
    ("sept", "seven"),
    ("huit", "eight"),
    ("neuf", "nine"),
    ("dix", "ten"),
    ("onze", "eleven"),
    ("douze", "twelve"),
    ("treize", "thirteen"),
    ("quatorze", "fourteen"),
    ("quinze", "fifteen"),
    ("seize", "sixteen"),
    ("dix-sept", "seventeen"),
    ("dix-huit", "eighteen"),
    ("dix-neuf", "nineteen"),
    ("vingt", "twenty"),
]


def secret(number: int) -> bytes:
    return hashlib.sha256(f"test secret {number}".encode()).digest()


# Answers


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ACE", "ACE"),
        ("ace", "ACE"),
        ("  a c-e. ", "ACE"),
        ("A_C/E!", "ACE"),
        ("Àçé", "ACE"),
        ("ＡＣＥ", "ACE"),
        ("4817", "4817"),
        ("4 8 1 7", "4817"),
        ("4-8-1-7", "4817"),
        ("quatre huit un sept", "4817"),
        ("Quatre-Huit-Un-Sept", "4817"),
        ("quatrehuitunsept", "4817"),
        ("four eight one seven", "4817"),
        ("FOUR, EIGHT, ONE, SEVEN.", "4817"),
        ("quatre 8 one sept", "4817"),
        ("quarante-huit dix-sept", "4817"),
        ("forty-eight seventeen", "4817"),
        ("dix sept", "17"),
        ("dixsept", "17"),
        ("zéro zero 0", "000"),
        ("vingt et un", "21"),
        ("twenty-one", "21"),
        ("soixante-dix-sept", "77"),
        ("soixante et onze", "71"),
        ("quatre-vingts", "80"),
        ("quatre-vingt-dix-neuf", "99"),
        ("septante-deux", "72"),
        ("nonante", "90"),
        ("four twenty", "420"),
        ("ten seven", "107"),
        ("une", "1"),
        ("٤٨", "48"),
    ],
)
def test_normalise_table(typed, expected):
    assert normalise(typed) == expected


@pytest.mark.parametrize(("number", "words"), list(enumerate(NUMBER_WORDS)))
def test_normalise_number_words(number, words):
    french, english = words

    assert normalise(french) == str(number)
    assert normalise(english) == str(number)
    assert normalise(french.upper()) == str(number)
    assert normalise(f" {english.capitalize()}. ") == str(number)


def test_normalise_keeps_other_letters():
    assert normalise("KUNP") == "KUNP"
    assert normalise("quatre et huit") == "4ET8"
    assert normalise("straße") == "STRASSE"
    assert normalise("日本") == "日本"


def test_normalise_drops_punctuation_only():
    assert normalise("") == ""
    assert normalise(" .-,;!?'\"()\t\n") == ""
    assert normalise("😀") == ""


def test_normalise_rejects_long_input():
    assert normalise("4" * MAX_INPUT_LENGTH) == "4" * MAX_INPUT_LENGTH
    assert normalise("4" * (MAX_INPUT_LENGTH + 1)) == ""
    assert normalise(" " * 10_000 + "4") == ""


def test_normalise_rejects_non_text():
    with pytest.raises(TypeError, match="int"):
        normalise(4817)  # type: ignore[arg-type]


def test_matches_forgiving_forms():
    assert matches("quatre huit un sept", "4817")
    assert matches("Four-Eight-One-Seven", "4817")
    assert matches(" ace ", "ACE")
    assert matches("trois", "3")
    assert matches("three", "3")


def test_matches_rejects_wrong_and_garbage():
    assert not matches("4818", "4817")
    assert not matches("481", "4817")
    assert not matches("48177", "4817")
    assert not matches("", "4817")
    assert not matches("!!!", "4817")
    assert not matches("😀", "4")
    assert not matches("ACF", "ACE")


def test_matches_empty_expected_never_matches():
    assert not matches("", "")
    assert not matches("...", "!!!")


def test_matches_rejects_long_input():
    assert matches("4" * MAX_INPUT_LENGTH, "4" * MAX_INPUT_LENGTH)
    assert not matches("4" * (MAX_INPUT_LENGTH + 1), "4" * (MAX_INPUT_LENGTH + 1))
    assert not matches("4 " * 40, "4" * 40)


def test_contains_number_word():
    assert contains_number_word("KUNP")
    assert contains_number_word("HTENX")
    assert contains_number_word("treNTe")
    assert not contains_number_word("ACEFH")


# Images


@pytest.mark.parametrize("family", image.FAMILIES)
def test_draw_is_deterministic(family):
    first = image.draw(family, secret(1), STYLE)
    second = image.draw(family, secret(1), STYLE)

    assert first.png == second.png
    assert first == second


@pytest.mark.parametrize("family", image.FAMILIES)
def test_draw_differs_across_secrets(family):
    drawings = [image.draw(family, secret(number), STYLE) for number in range(5)]

    assert len({drawing.png for drawing in drawings}) == 5


@pytest.mark.parametrize("family", image.FAMILIES)
def test_png_decodes_with_stated_size(family):
    drawing = image.draw(family, secret(2), STYLE)
    picture = Image.open(io.BytesIO(drawing.png))
    picture.load()

    assert picture.format == "PNG"
    assert picture.size == (drawing.width, drawing.height)
    assert (drawing.css_width, drawing.css_height) == (260, 100)
    assert drawing.width == drawing.css_width * drawing.scale


def test_text_answers_use_alphabet():
    for number in range(300):
        answer = image.text_answer(secret(number))

        assert 5 <= len(answer) <= 6
        assert set(answer) <= set(image.ALPHABET)
        assert normalise(answer) == answer
        assert not contains_number_word(answer)


def test_alphabet_has_no_ambiguous_glyphs():
    for char in "0OQD1IL2Z5S6G8BV":
        assert char not in image.ALPHABET


def test_text_drawing_answer_and_texts():
    drawing = image.draw("text", secret(3), STYLE)

    assert drawing.answer == image.text_answer(secret(3))
    assert drawing.prompts[0]["fr"] == "Saisissez les caractères de l’image"
    assert drawing.prompts[0]["en"] == "Type the characters shown in the image"
    assert drawing.prompts == image.TEXT_PROMPTS
    assert "audio" in drawing.alt["fr"]
    assert "audio" in drawing.alt["en"]


def test_count_drawing_answer_and_texts():
    for number in range(20):
        drawing = image.draw("count", secret(number), STYLE + number)
        shapes = image.image_style(STYLE + number).shapes
        targets = [
            shape for shape in shapes if drawing.prompts == image.count_prompts(shape)
        ]

        assert drawing.answer in {"1", "2", "3", "4", "5", "6"}
        assert len(targets) == 1
        french, english = image.SHAPE_NAMES[targets[0]]
        assert drawing.prompts[0]["en"] == f"How many {english} do you see?"

        for prompt in drawing.prompts:
            assert french in prompt["fr"]
            assert f" {english} " in prompt["en"]


def test_count_prompts_elide_french_de():
    stars = image.count_prompts("star")
    squares = image.count_prompts("square")

    assert stars[0]["fr"] == "Combien d’étoiles voyez-vous\u00a0?"
    assert squares[0]["fr"] == "Combien de carrés voyez-vous\u00a0?"
    assert all("de étoiles" not in prompt["fr"] for prompt in stars)


@pytest.mark.parametrize("family", image.FAMILIES)
def test_prompts_one_per_wording(family):
    prompts = image.draw(family, secret(5), STYLE).prompts

    assert len(prompts) == challenges.get("image").wordings

    for lang in ("fr", "en"):
        phrasings = [prompt[lang] for prompt in prompts]
        assert len(set(phrasings)) == len(phrasings), phrasings


@pytest.mark.parametrize("shape", sorted(image.SHAPE_NAMES))
def test_french_prompts_space_before_marks(shape):
    for prompt in (*image.TEXT_PROMPTS, *image.count_prompts(shape)):
        french = prompt["fr"]

        for mark in "?:":
            if mark in french:
                assert f"\u00a0{mark}" in french, french
                assert f" {mark}" not in french, french


@pytest.mark.parametrize("family", image.FAMILIES)
def test_alt_text_never_contains_answer(family):
    for number in range(20):
        drawing = image.draw(family, secret(number), STYLE)

        for text in drawing.alt.values():
            assert drawing.answer not in text.upper()
            assert not any(char.isdigit() for char in text)


def test_styles_select_different_parameters():
    styles = [image.image_style(STYLE + day) for day in range(30)]

    assert len(set(styles)) == 30
    assert len({style.font_index for style in styles}) >= 2
    assert len({style.palette for style in styles}) >= 3
    assert len({style.shapes for style in styles}) >= 3


@pytest.mark.parametrize("family", image.FAMILIES)
def test_styles_visibly_differ(family):
    for day in range(5):
        today = _grey(image.draw(family, secret(day), STYLE + day).png)
        tomorrow = _grey(image.draw(family, secret(day), STYLE + day + 1).png)

        # Mean difference of grey levels over the whole image, 0 to 255.
        assert np.abs(today - tomorrow).mean() > 8


def test_palette_contrast_at_least_4_5():
    for palette in image.PALETTES:
        for background in _mixes(palette.backgrounds):
            for ink in _mixes(palette.inks):
                assert _contrast(background, ink) >= 4.5, (palette, background, ink)


@pytest.mark.parametrize("family", image.FAMILIES)
def test_rendered_contrast_at_least_4_5(family):
    for day in range(12):
        drawing = image.draw(family, secret(day), STYLE + day)
        rgb = np.asarray(Image.open(io.BytesIO(drawing.png)).convert("RGB"))
        luminance = np.sort(_relative_luminance(rgb.reshape(-1, 3)))

        # Ink covers under 40 % of any image. The darkest background pixel
        # is the 2nd percentile of the lightest 60 %; ink cores are the
        # median of the darkest 3 %.
        background = luminance[int(len(luminance) * 0.4) :]
        darkest_background = background[int(len(background) * 0.02)]
        ink = np.median(luminance[: int(len(luminance) * 0.03)])

        assert (darkest_background + 0.05) / (ink + 0.05) >= 4.5


def test_glyphs_at_least_24_css_pixels_high():
    for day in range(40):
        style = image.image_style(STYLE + day)
        smallest = image._load_font(style.font_index, int(style.font_size * 0.9))

        for char in image.ALPHABET:
            _, top, _, bottom = smallest.getbbox(char)
            assert bottom - top >= image.MIN_GLYPH_HEIGHT, (style, char)


def test_shapes_at_least_24_css_pixels_high():
    for day in range(40):
        style = image.image_style(STYLE + day)

        for shape in style.shapes:
            outline = image._shape_outline(shape)
            height = (
                (outline[:, 1].max() - outline[:, 1].min()) * style.shape_size[0] / 2
            )
            assert height >= image.MIN_GLYPH_HEIGHT, (style, shape)


def test_draw_rejects_unknown_family():
    with pytest.raises(ValueError, match="'letters'"):
        image.draw("letters", secret(1), STYLE)


def test_draw_rejects_short_secret():
    with pytest.raises(ValueError, match="secret has 5 bytes"):
        image.draw("text", b"short", STYLE)


@pytest.mark.parametrize("bad_secret", ["a text of thirty-two characters!", None])
def test_draw_rejects_secret_not_bytes(bad_secret):
    with pytest.raises(TypeError, match="secret must be bytes"):
        image.draw("text", bad_secret, STYLE)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad_style", ["20000", 2.5, True, None])
def test_draw_rejects_bad_style(bad_style):
    with pytest.raises(TypeError, match="style must be an int"):
        image.draw("text", secret(1), bad_style)  # type: ignore[arg-type]


# Audio


@pytest.mark.parametrize("lang", audio.LANGUAGES)
def test_wav_parses_with_sane_duration(lang):
    clip = audio.clip(secret(1), lang, STYLE)

    with wave.open(io.BytesIO(clip.wav)) as reader:
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == audio.SAMPLE_RATE
        frames = reader.getnframes()
        samples = np.frombuffer(reader.readframes(frames), dtype="<i2")

    assert frames / audio.SAMPLE_RATE == pytest.approx(clip.duration)
    assert 4 < clip.duration < 15
    assert len(samples) == frames


@pytest.mark.parametrize("lang", audio.LANGUAGES)
def test_wav_has_no_clipping(lang):
    for number in range(5):
        samples = _samples(audio.clip(secret(number), lang, STYLE + number).wav)
        peak = int(np.abs(samples.astype(np.int32)).max())

        assert peak < 32767
        assert peak > 16384


def test_audio_answer_digits():
    lengths = set()

    for number in range(100):
        answer = audio.digits(secret(number))
        lengths.add(len(answer))

        assert answer.isdigit()
        assert normalise(answer) == answer

    assert lengths == {4, 5, 6}


def test_clip_answer_same_in_both_languages():
    french = audio.clip(secret(4), "fr", STYLE)
    english = audio.clip(secret(4), "en", STYLE)

    assert french.answer == english.answer == audio.digits(secret(4))
    assert french.wav != english.wav


def test_clip_is_deterministic():
    assert audio.clip(secret(5), "fr", STYLE) == audio.clip(secret(5), "fr", STYLE)


def test_clip_differs_across_secrets():
    clips = [audio.clip(secret(number), "en", STYLE) for number in range(6)]

    assert len({clip.wav for clip in clips}) == 6
    assert len({clip.answer for clip in clips}) > 1


def test_clip_differs_across_styles():
    today = audio.clip(secret(6), "fr", STYLE)
    tomorrow = audio.clip(secret(6), "fr", STYLE + 1)

    assert today.answer == tomorrow.answer
    assert today.wav != tomorrow.wav
    assert audio.audio_style(STYLE) != audio.audio_style(STYLE + 1)


@pytest.mark.parametrize("lang", audio.LANGUAGES)
def test_digits_stay_above_background(lang):
    bank = audio._voice_bank(lang)
    lead = int(audio.LEAD * audio.SAMPLE_RATE)
    digits_start = lead + len(bank.instruction)

    for number in range(5):
        style = audio.audio_style(STYLE + number)
        rng = np.random.default_rng(number)
        speech, background = audio._mix_parts("4817", bank, style, rng)

        # Power per 10 ms frame after the instruction; the digits are the
        # frames within 30 dB of the loudest.
        frames = (len(speech) - digits_start) // 160
        speech_power = _frame_power(speech[digits_start:], frames)
        background_power = _frame_power(background[digits_start:], frames)
        spoken = speech_power > speech_power.max() * 1e-3
        ratio = speech_power[spoken].mean() / background_power.mean()

        assert 10 * np.log10(ratio) >= 12
        assert np.abs(background[:lead]).max() == 0


def test_stretch_keeps_pitch():
    time = np.arange(8000) / audio.SAMPLE_RATE
    tone = np.sin(2 * np.pi * 220 * time) + 0.5 * np.sin(2 * np.pi * 440 * time)

    for factor in (0.85, 1.0, 1.2):
        stretched = audio._stretch(tone, factor)

        assert len(stretched) == pytest.approx(len(tone) * factor, rel=0.05)
        assert _dominant_frequency(stretched[800:-800]) == pytest.approx(220, rel=0.02)


def test_resample_shifts_pitch():
    time = np.arange(8000) / audio.SAMPLE_RATE
    tone = np.sin(2 * np.pi * 220 * time)
    shifted = audio._resample(tone, 1.1)

    assert len(shifted) == pytest.approx(len(tone) / 1.1, rel=0.01)
    assert _dominant_frequency(shifted) == pytest.approx(242, rel=0.02)


def test_clip_rejects_unknown_language():
    with pytest.raises(ValueError, match="'de'"):
        audio.clip(secret(1), "de", STYLE)


def test_clip_rejects_bad_secret_and_style():
    with pytest.raises(ValueError, match="secret has 5 bytes"):
        audio.clip(b"short", "fr", STYLE)
    with pytest.raises(TypeError, match="style must be an int"):
        audio.clip(secret(1), "fr", "monday")  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", audio.LANGUAGES)
def test_voice_files_shipped_and_small(lang):
    folder = Path(audio.__file__).parent / "voices" / lang
    files = sorted(folder.glob("*.wav"))
    names = {path.name for path in files}

    assert "instruction.wav" in names
    for digit in range(10):
        assert any(name.startswith(f"{digit}-") for name in names), digit
    assert sum(path.stat().st_size for path in files) < 800_000

    for path in files:
        with wave.open(str(path)) as reader:
            assert reader.getnchannels() == 1
            assert reader.getframerate() == 16_000
            duration = reader.getnframes() / reader.getframerate()
        assert 0.1 < duration < (3.0 if path.name == "instruction.wav" else 1.2), path


def _grey(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)


def _samples(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")


def _frame_power(signal: np.ndarray, frames: int) -> np.ndarray:
    return (signal[: frames * 160].reshape(frames, 160) ** 2).mean(axis=1)


def _mixes(colours) -> list[tuple[float, float, float]]:
    """Return ``colours`` and 15 steps between them, as drawn in a gradient."""
    start, end = np.array(colours[0], float), np.array(colours[1], float)
    return [tuple(start + (end - start) * step / 16) for step in range(17)]


def _relative_luminance(rgb) -> np.ndarray:
    """Return the WCAG 2 relative luminance of sRGB colours (0 to 255)."""
    channels = np.asarray(rgb, dtype=np.float64) / 255
    linear = np.where(
        channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4
    )
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def _contrast(first, second) -> float:
    lighter, darker = sorted(
        (float(_relative_luminance(first)), float(_relative_luminance(second))),
        reverse=True,
    )
    return (lighter + 0.05) / (darker + 0.05)


def _dominant_frequency(signal: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), n=1 << 16))
    return float(np.argmax(spectrum)) * audio.SAMPLE_RATE / (1 << 16)
