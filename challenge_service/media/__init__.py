"""Media of the image and audio challenges, and the comparison of answers.

``image.draw`` and ``audio.clip`` turn a per-challenge secret and the day's
style number into a PNG or a WAV file and its expected answer;
``answers.matches`` compares what a person typed with that answer. Nothing
here reads settings, a store or a request.
"""
