"""The voice agent example (examples/voice_agent) with headless Chromium, in a
network namespace that has only loopback. One run of
tests/browser/voice_agent_in_chromium.py (one browser, two pages) serves the
tests below. Chromium's fake microphone plays a WAV file (bursts of a 440 Hz
tone, then silence, looped); the agent answers each turn with an 880 Hz
beep and shows its state as the colour of its video. The page measures
both directions in its AudioContext (an AudioWorklet timing onsets to the
sample, an AnalyserNode for frequencies) and draws the video on a canvas.

The measured mouth-to-ear figures are written to
tests/artifacts/voice_agent.json (docs/python-media.md quotes them)."""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
from typing import Any

import pytest

from .chromium import run_driver

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ROOT / "tests" / "artifacts" / "voice_agent.json"
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from voice_agent_in_chromium import ANSWER_HZ, ANSWER_SECONDS, MOUTH_HZ, SYLLABLE_GAP, SYLLABLE_SECONDS, SYLLABLES, TURNS  # noqa: E402

Result = dict[str, Any]
FFT_BIN = 48_000 / 8192  # the page's AnalyserNode: fftSize 8192 at 48 kHz
COLOUR_TOLERANCE = 15
#: A colour sample counts for a state shown this long (ms) before it: the video lags the socket.
SETTLED_MS = 400


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Result:
    directory = tmp_path_factory.mktemp("voice_agent")
    result: Result = run_driver("voice_agent_in_chromium.py", directory, what="the browser test", timeout=180)
    return result


def step(run: Result, name: str) -> Any:
    """What the step `name` found; fails with its error if it failed."""
    found = run[name]
    if isinstance(found, dict) and "error" in found:
        pytest.fail(f"{name}: {found['error']}\n{found.get('trace', '')}")
    return found


def times(events: list[dict[str, Any]], kind: str) -> list[float]:
    return [event["time"] for event in events if event["type"] == kind]


def following(start: float, candidates: list[float], within: float) -> float | None:
    """The first of `candidates` after `start`, if it is within `within` seconds."""
    later = [time for time in candidates if time > start]
    return later[0] if later and later[0] - start <= within else None


def mouth_to_ear(found: Result) -> list[float]:
    """Echo mode: for each burst the microphone says, how long until the page hears it back."""
    ears = times(found["ear"], "onset")
    delays = [following(mouth, ears, 1.0) for mouth in times(found["mouth"], "onset")]
    return [delay - mouth for mouth, delay in zip(times(found["mouth"], "onset"), delays) if delay is not None]


def answers(found: Result, end_after: float) -> list[dict[str, float]]:
    """Conversation mode: for each end of speech at the microphone, when the
    agent decided the turn was over (its 'thinking' message) and when its
    answer reached the page, in the AudioContext's clock."""
    ears = times(found["ear"], "onset")
    thinking = [state["time"] for state in found["states"] if state["state"] == "thinking"]
    measured = []
    for end in times(found["mouth"], "offset"):
        decided = following(end, thinking, end_after + 1.0)
        heard = following(end, ears, end_after + 2.0)
        if decided is not None and heard is not None:
            measured.append({"response": heard - end, "uplink": decided - end - end_after, "downlink": heard - decided})
    return measured


def test_python_hears_the_microphone_at_the_frequency_of_the_file(run: Result) -> None:
    python = step(run, "conversation")["python"]
    assert python["heard_seconds"] >= 3.9
    # Four seconds at 48 kHz: bins of 0.25 Hz.
    assert abs(python["heard_frequency"] - MOUTH_HZ) <= 1.0, python
    assert python["heard_rms"] > 1000  # not silence: a tone at -6 dBFS about 30 % of the time
    for turn in python["turns"]:
        assert abs(turn["frequency"] - MOUTH_HZ) <= 2.0, turn


def test_the_page_finds_the_agents_tone_with_an_analyser_node(run: Result) -> None:
    peaks = [peak["frequency"] for peak in step(run, "conversation")["peaks"]]
    assert len(peaks) >= 10, peaks
    on_tone = [frequency for frequency in peaks if abs(frequency - ANSWER_HZ) <= FFT_BIN]
    # The analyser's 170 ms window straddles an answer's start or end now and then.
    assert len(on_tone) >= 0.8 * len(peaks), peaks
    # The echo is the microphone's tone.
    echoed = [peak["frequency"] for peak in step(run, "echo")["peaks"]]
    assert echoed and statistics.median(echoed) == pytest.approx(MOUTH_HZ, abs=FFT_BIN), echoed


def test_the_agents_video_on_a_canvas_shows_the_colour_of_its_state(run: Result) -> None:
    found = step(run, "conversation")
    colours = run["state_colours"]
    changes = [(state["at"], state["state"]) for state in found["states"]]
    seen: dict[str, int] = {}
    for sample in found["colours"]:
        shown = [(at, state) for at, state in changes if at <= sample["at"]]
        if not shown or sample["at"] - shown[-1][0] < SETTLED_MS:
            continue
        state = shown[-1][1]
        expected = colours[state]
        assert all(abs(a - b) <= COLOUR_TOLERANCE for a, b in zip(sample["rgb"], expected)), (state, sample, expected)
        seen[state] = seen.get(state, 0) + 1
    assert all(seen.get(state, 0) >= 3 for state in ("listening", "hearing", "speaking")), seen
    echo = step(run, "echo")["colours"]
    # The canvas before the echo page's first frame is drawn: black (seen in CI once).
    while echo and max(echo[0]["rgb"]) < 10:
        echo = echo[1:]
    assert len(echo) >= 10
    assert all(abs(a - b) <= COLOUR_TOLERANCE for sample in echo for a, b in zip(sample["rgb"], colours["echo"])), echo[:3]


def test_the_agent_answers_each_turn_after_the_page_stops_speaking(run: Result) -> None:
    found = step(run, "conversation")
    python = found["python"]
    assert len(found["turns"]) >= TURNS and len(python["turns"]) >= TURNS
    spoken = SYLLABLES * (SYLLABLE_SECONDS + SYLLABLE_GAP) - SYLLABLE_GAP
    # The first turn may have begun before the page connected; the others are
    # whole: the speech and the 0.3 s before it, to within a 10 ms window or two.
    for turn in python["turns"][1:]:
        assert turn["seconds"] == pytest.approx(spoken + 0.3, abs=0.05), python["turns"]
    sequence = [state["state"] for state in found["states"]]
    assert sequence[:1] == ["listening"]
    assert "hearing,thinking,speaking,listening,hearing,thinking,speaking" in ",".join(sequence), sequence
    measured = answers(found, run["end_after"])
    assert len(measured) >= TURNS - 1, (found["mouth"], found["ear"], found["states"])
    for times_ in measured:
        # The agent waits end_after (0.6 s) of quiet, then answers at once.
        assert run["end_after"] < times_["response"] < run["end_after"] + 1.0, measured
    heard = [offset - onset for onset, offset in zip(times(found["ear"], "onset"), times(found["ear"], "offset"))]
    # Chromium's jitter buffer stretches or squeezes audio while it adapts its delay.
    assert all(abs(length - ANSWER_SECONDS) < 0.25 for length in heard), heard


def test_mouth_to_ear_through_python_in_echo_mode(run: Result) -> None:
    """A benchmark: the figures are written, only gross failures fail."""
    found = step(run, "echo")
    delays = mouth_to_ear(found)
    assert len(delays) >= 3, (found["mouth"], found["ear"])
    assert all(0 < delay < 1.0 for delay in delays), delays
    measured = answers(step(run, "conversation"), run["end_after"])
    backlog = found["python"]["backlog"]
    figures = {
        "echo_mouth_to_ear_ms": [round(1000 * delay, 1) for delay in delays],
        "echo_backlog_ms": {"median": round(1000 * statistics.median(backlog), 1), "max": round(1000 * max(backlog), 1)} if backlog else None,
        "answer_ms": [{key: round(1000 * value, 1) for key, value in times_.items()} for times_ in measured],
        "end_after_ms": 1000 * run["end_after"],
        "page_jitter_buffer_ms": {name: round(step(run, name)["inbound_audio"]["jitterBufferDelayMs"], 1) for name in ("conversation", "echo")},
        "agent_loop_lag_ms": run["loop_lag_ms"],
        "run_seconds": round(run["seconds"], 1),
    }
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
