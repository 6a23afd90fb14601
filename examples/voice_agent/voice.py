"""What the agent answers, without any model or service: the ``respond``
hook's two ready implementations.

A responder is ``async def respond(utterance) -> AsyncIterator[av.AudioFrame]``:
``utterance`` is the turn the user just spoke (mono int16 at 48 kHz), the
frames are the answer (any format, layout and rate). Speech recognition, a
language model and speech synthesis go in one of these.

- :func:`respond` (the default): a synthesized voice saying nonsense
  syllables, about three per second heard (two to eight): a pitch contour
  over harmonics shaped by the formants of five vowels.
- :func:`beep`: a responder that answers every turn with one steady tone.
"""

from __future__ import annotations

import fractions
from collections.abc import AsyncIterator, Callable

import av
import numpy

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
# The first three formants (Hz) of five vowels (Peterson & Barney, male voices).
VOWELS = ((730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240))
FORMANT_BANDWIDTH = 90.0  # Hz
SYLLABLE = 0.18  # seconds
GAP = 0.05
PEAK = 0.5  # of full scale

Responder = Callable[[numpy.ndarray], AsyncIterator[av.AudioFrame]]


def syllable(formants: tuple[int, int, int], pitch: float, seconds: float = SYLLABLE) -> numpy.ndarray:
    """One voiced syllable (float, about ±1): the harmonics of a gliding
    ``pitch`` up to 4 kHz, each as loud as the vowel's resonances are there."""
    count = int(seconds * SAMPLE_RATE)
    t = numpy.arange(count) / SAMPLE_RATE
    # The pitch rises then falls a little within the syllable.
    f0 = pitch * (1 + 0.06 * numpy.sin(numpy.pi * t / seconds))
    phase = 2 * numpy.pi * numpy.cumsum(f0) / SAMPLE_RATE
    harmonics = numpy.arange(1, int(4000 // pitch) + 1)
    frequencies = harmonics * pitch
    resonance = sum(1 / (1 + ((frequencies - formant) / FORMANT_BANDWIDTH) ** 2) for formant in formants)
    amplitudes = resonance / harmonics  # a glottal source falls by 6 dB an octave
    wave = (amplitudes[:, None] * numpy.sin(harmonics[:, None] * phase[None, :])).sum(axis=0)
    # Soft attack and release, so syllables do not click.
    edge = min(count // 2, int(0.02 * SAMPLE_RATE))
    envelope = numpy.ones(count)
    ramp = 0.5 - 0.5 * numpy.cos(numpy.linspace(0, numpy.pi, edge))
    envelope[:edge], envelope[count - edge :] = ramp, ramp[::-1]
    return numpy.asarray(wave * envelope / max(float(numpy.abs(wave).max()), 1e-9))


def babble(syllables: int, pitch: float = 130.0) -> numpy.ndarray:
    """``syllables`` syllables of a voice (mono int16, 48 kHz), the pitch
    falling through the phrase as in a statement."""
    gap = numpy.zeros(int(GAP * SAMPLE_RATE))
    parts = []
    for index in range(syllables):
        decline = 1 - 0.15 * index / max(1, syllables - 1)
        parts += [syllable(VOWELS[(3 * index + 1) % len(VOWELS)], pitch * decline), gap]
    return to_int16(numpy.concatenate(parts) * PEAK)


def to_int16(samples: numpy.ndarray) -> numpy.ndarray:
    return numpy.asarray(numpy.clip(samples * 32767, -32768, 32767), dtype=numpy.int16)


def frames(pcm: numpy.ndarray) -> list[av.AudioFrame]:
    """Mono int16 samples at 48 kHz as 20 ms ``av`` frames."""
    out = []
    for offset in range(0, len(pcm), FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(numpy.ascontiguousarray(pcm[offset : offset + FRAME_SAMPLES]).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts, frame.time_base = offset, fractions.Fraction(1, SAMPLE_RATE)
        out.append(frame)
    return out


async def respond(utterance: numpy.ndarray) -> AsyncIterator[av.AudioFrame]:
    """The default answer: about three syllables per second of ``utterance``."""
    heard = len(utterance) / SAMPLE_RATE
    for frame in frames(babble(min(8, max(2, round(3 * heard))))):
        yield frame


def beep(frequency: float, seconds: float = 0.8) -> Responder:
    """A responder answering every turn with a tone of ``frequency`` Hz for
    ``seconds`` (5 ms ramps at both ends)."""
    count = int(seconds * SAMPLE_RATE)
    t = numpy.arange(count) / SAMPLE_RATE
    envelope = numpy.minimum(1.0, numpy.minimum(t, seconds - t) / 0.005)
    pcm = to_int16(PEAK * envelope * numpy.sin(2 * numpy.pi * frequency * t))

    async def answer(utterance: numpy.ndarray) -> AsyncIterator[av.AudioFrame]:
        for frame in frames(pcm):
            yield frame

    return answer
