"""The voice agent example's pieces without a browser: the turn detector
driven by synthetic PCM (its time is the samples fed: no clock), the
agent's speaker track and its ready answers, and a conversation in a real
room where the "page" is a Python peer publishing tone bursts."""

from __future__ import annotations

import asyncio
import fractions
import importlib
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import pytest

av = pytest.importorskip("av")
import numpy  # noqa: E402 (with av: the media extra)

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "voice_agent"
RATE = 48_000


def _example(name: str) -> Any:
    """A module of the example, under its own name: its modules import each other so."""
    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    return importlib.import_module(name)


turn_detector = _example("turn_detector")
TurnDetector, TurnStarted, TurnEnded = turn_detector.TurnDetector, turn_detector.TurnStarted, turn_detector.TurnEnded


def tone(seconds: float, dbfs: float = -12.0, frequency: float = 300.0) -> numpy.ndarray:
    """A sine whose RMS is `dbfs`, int16."""
    t = numpy.arange(round(seconds * RATE)) / RATE
    return (32768 * 10 ** (dbfs / 20) * numpy.sqrt(2) * numpy.sin(2 * numpy.pi * frequency * t)).astype(numpy.int16)


def silence(seconds: float) -> numpy.ndarray:
    return numpy.zeros(round(seconds * RATE), dtype=numpy.int16)


def chunks(pcm: numpy.ndarray, size: int) -> Iterator[numpy.ndarray]:
    for offset in range(0, len(pcm), size):
        yield pcm[offset : offset + size]


def feed(detector: Any, pcm: numpy.ndarray, size: int = 960) -> list[Any]:
    return [event for chunk in chunks(pcm, size) for event in detector.feed(chunk)]


# --- the turn detector (sans-IO) ---------------------------------------------------


def test_a_turn_starts_after_200_ms_of_sound_and_not_before() -> None:
    detector = TurnDetector()
    assert feed(detector, numpy.concatenate([silence(0.5), tone(0.19), silence(0.1)])) == []
    events = feed(detector, tone(0.25))
    assert events == [TurnStarted(at=pytest.approx(0.79))] and detector.speaking
    # The event comes with the window that completes 200 ms: not later.
    late = TurnDetector()
    assert feed(late, tone(0.2), size=480) == [TurnStarted(at=0.0)]


def test_pauses_under_600_ms_keep_the_turn_and_600_ms_of_quiet_end_it() -> None:
    detector = TurnDetector()
    speech = numpy.concatenate([silence(1.0), tone(0.5), silence(0.5), tone(0.5)])
    assert feed(detector, speech) == [TurnStarted(at=1.0)]
    assert feed(detector, silence(0.59)) == []
    [ended] = feed(detector, silence(0.01))  # the window that completes 600 ms
    assert isinstance(ended, TurnEnded) and ended.at == pytest.approx(2.5)
    assert not detector.speaking and detector.time == pytest.approx(3.1)


def test_the_utterance_is_the_turn_from_300_ms_before_it_without_the_final_quiet() -> None:
    detector = TurnDetector()
    before, spoken = silence(0.2), numpy.concatenate([tone(0.4, frequency=200), silence(0.3), tone(0.4, frequency=500)])
    events = feed(detector, numpy.concatenate([silence(1.0), before, spoken, silence(1.0)]))
    [_, ended] = events
    # 300 ms of pre-roll: 100 ms more silence than `before`, then the speech, exactly.
    assert ended.duration == pytest.approx(0.3 + 1.1)
    assert numpy.array_equal(ended.utterance, numpy.concatenate([silence(0.3), spoken]))


def test_the_events_do_not_depend_on_how_the_pcm_is_cut() -> None:
    rng = numpy.random.default_rng(7)
    pcm = numpy.concatenate([silence(0.3), tone(0.7), silence(0.2), tone(0.3), silence(0.8), tone(0.25), silence(0.7)])
    pcm = (pcm + rng.normal(0, 30, len(pcm))).astype(numpy.int16)  # a little noise, far below -40 dBFS
    reference = feed(TurnDetector(), pcm, size=len(pcm))
    assert [type(event) for event in reference] == [TurnStarted, TurnEnded, TurnStarted, TurnEnded]
    for size in (1, 7, 441, 960, 4800):
        events = feed(TurnDetector(), pcm, size=size)
        assert [(type(e), e.at) for e in events] == [(type(e), e.at) for e in reference], size
        assert all(numpy.array_equal(a.utterance, b.utterance) for a, b in zip(events[1::2], reference[1::2]))


def test_sound_below_the_threshold_is_not_speech() -> None:
    quiet = TurnDetector(threshold=-40.0)
    assert feed(quiet, tone(2.0, dbfs=-45.0)) == [] and quiet.level == pytest.approx(-45.0, abs=0.1)
    assert feed(TurnDetector(threshold=-50.0), tone(2.0, dbfs=-45.0)) == [TurnStarted(at=0.0)]


def test_a_turn_that_goes_on_is_cut_at_max_turn() -> None:
    detector = TurnDetector(max_turn=5.0)
    events = feed(detector, tone(12.0))
    assert [(type(e), round(e.at, 3)) for e in events] == [
        (TurnStarted, 0.0), (TurnEnded, 5.0), (TurnStarted, 5.0), (TurnEnded, 10.0), (TurnStarted, 10.0),
    ]
    assert events[1].duration == pytest.approx(5.0)


def test_ten_minutes_of_audio_are_fed_in_a_moment_and_reset_forgets_a_turn() -> None:
    detector = TurnDetector()
    minute = numpy.concatenate([numpy.concatenate([tone(1.0), silence(1.0)]) for _ in range(30)])
    events = [event for _ in range(10) for event in detector.feed(minute)]
    assert len(events) == 2 * 30 * 10 and detector.time == pytest.approx(600.0)
    assert isinstance(events[-1], TurnEnded) and events[-1].at == pytest.approx(599.0)
    feed(detector, tone(0.5))
    assert detector.speaking
    detector.reset()
    assert not detector.speaking and feed(detector, silence(1.0)) == []


def test_the_detector_takes_mono_int16_and_a_threshold_in_dbfs() -> None:
    with pytest.raises(ValueError, match=r"shape \(2, 960\)"):
        TurnDetector().feed(numpy.zeros((2, 960), dtype=numpy.int16))
    with pytest.raises(ValueError, match="dBFS"):
        TurnDetector(threshold=6.0)


# --- the speaker track and the answers ---------------------------------------------

agent_tracks = _example("agent_tracks")
voice = _example("voice")


def dominant(samples: numpy.ndarray) -> float:
    spectrum = numpy.abs(numpy.fft.rfft(samples.astype(float) * numpy.hanning(len(samples))))
    return float(numpy.fft.rfftfreq(len(samples), 1 / RATE)[int(numpy.argmax(spectrum))])


async def test_the_speaker_sends_what_it_is_given_in_20_ms_frames_then_silence() -> None:
    speaker = agent_tracks.Speaker()
    speaker.play(tone(0.05))
    assert speaker.queued == pytest.approx(0.05)
    frames = [await speaker.recv() for _ in range(4)]
    assert [(f.samples, f.sample_rate, f.format.name, f.layout.name, f.pts) for f in frames] == [(960, RATE, "s16", "mono", 960 * i) for i in range(4)]
    pcm = numpy.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert numpy.array_equal(pcm[:2400], tone(0.05)) and not pcm[2400:].any()
    await asyncio.wait_for(speaker.drained(), 0.1)


async def test_the_speaker_resamples_any_audio_drops_it_on_interrupt_and_bounds_a_live_backlog() -> None:
    speaker = agent_tracks.Speaker()
    samples = (numpy.sin(2 * numpy.pi * 500 * numpy.arange(16_000) / 16_000) * 8000).astype(numpy.int16)
    frame = av.AudioFrame.from_ndarray(numpy.stack([samples, samples]).T.reshape(1, -1).copy(), format="s16", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = 16_000, 0, fractions.Fraction(1, 16_000)
    speaker.play(frame)
    speaker.flush()
    assert speaker.queued == pytest.approx(1.0, abs=0.01)
    assert dominant(numpy.concatenate([(await speaker.recv()).to_ndarray().reshape(-1) for _ in range(10)])) == pytest.approx(500, abs=5)
    speaker.interrupt()
    assert speaker.queued == 0
    await asyncio.wait_for(speaker.drained(), 0.1)
    live = agent_tracks.Speaker(max_backlog=0.06)
    for _ in range(10):
        live.play(tone(0.02))
    assert live.queued == pytest.approx(0.06)


async def test_the_default_answer_is_a_voice_of_a_few_syllables_per_second_heard() -> None:
    short = [frame async for frame in voice.respond(tone(0.5))]
    long = [frame async for frame in voice.respond(tone(2.0))]
    assert {(f.samples, f.sample_rate, f.layout.name) for f in short[:-1]} == {(960, RATE, "mono")}
    seconds = [sum(f.samples for f in answer) / RATE for answer in (short, long)]
    assert seconds == pytest.approx([2 * 0.23, 6 * 0.23], abs=0.021)  # 2 and 6 syllables of 180 ms + 50 ms
    pcm = numpy.concatenate([f.to_ndarray().reshape(-1) for f in long]).astype(float)
    spectrum = numpy.abs(numpy.fft.rfft(pcm)) ** 2
    frequencies = numpy.fft.rfftfreq(len(pcm), 1 / RATE)
    assert spectrum[frequencies < 4000].sum() > 0.99 * spectrum.sum()  # a voice's band
    assert 90 < frequencies[numpy.argmax(spectrum * (frequencies < 200))] < 160  # its pitch
    assert 0.3 < numpy.abs(pcm).max() / 32768 <= 0.51


async def test_a_beep_answers_with_its_tone() -> None:
    frames = [frame async for frame in voice.beep(880.0, 0.5)(tone(1.0))]
    pcm = numpy.concatenate([f.to_ndarray().reshape(-1) for f in frames])
    assert len(pcm) == RATE // 2 and dominant(pcm) == pytest.approx(880, abs=2)


# --- a conversation in a real room ---------------------------------------------------


async def test_a_conversation_answers_a_turn_and_stops_when_interrupted(server: Any) -> None:
    from mediasoup import media

    agent = _example("agent")
    room = await server.Room()
    conversation = agent.Conversation(room, voice.beep(880.0, 2.0))
    await conversation.join()
    you = await room.Peer("you")
    direct = await you.createDirectTransport()
    microphone = agent_tracks.Speaker()
    published = await media.publish(direct, microphone)
    senders = {sender.kind: sender for sender in you.rtpSenders}
    assert set(senders) == {"audio", "video"}
    ear = await media.subscribe(senders["audio"], direct)
    try:
        await asyncio.sleep(0.5)  # the agent listens (its pre-roll is silence)
        microphone.play(tone(0.6, frequency=440))
        heard: list[float] = []
        while max(heard, default=0) < 1000:  # until the answer is heard (rms)
            frame = await asyncio.wait_for(ear.recv(), 5)
            heard.append(float(numpy.sqrt(numpy.mean(frame.to_ndarray().astype(float) ** 2))))
        assert conversation.state == "speaking" and [round(t.duration, 1) for t in conversation.turns] == [0.9]
        assert dominant(conversation.turns[0].utterance) == pytest.approx(440, abs=3)
        microphone.play(tone(0.3, frequency=440))  # barging in
        for _ in range(100):
            await ear.recv()
            if conversation.state == "hearing":
                break
        assert conversation.state == "hearing" and conversation.speaker.queued == 0
        told = [await asyncio.wait_for(conversation.messages.get(), 1) for _ in range(5)]
        assert [message.get("state", message["type"]) for message in told] == ["hearing", "turn", "thinking", "speaking", "hearing"]
    finally:
        published.stop()
        conversation.close()
