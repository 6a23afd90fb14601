"""Runs the voice agent example (examples/voice_agent) with one headless
Chromium whose fake microphone plays a WAV file, and prints what the page
and the agent found, as JSON: one entry per step, ``{"error": ...}`` for a
step that failed (the others still run). Run it in a network namespace
with only loopback (see tests/test_voice_agent_in_chromium.py):

    unshare -n sh -c "ip link set lo up && python tests/browser/voice_agent_in_chromium.py DIRECTORY"

The microphone (written to DIRECTORY, looped by Chromium) says
:data:`SYLLABLES` bursts of a :data:`MOUTH_HZ` tone, then is silent; the
agent answers each turn with a :data:`ANSWER_HZ` beep (``voice.beep``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pathlib
import sys
import time
import traceback
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import numpy

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "voice_agent"
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from demo_in_chromium import FLAGS, free_port, listening, until  # noqa: E402

RATE = 48_000
MOUTH_HZ = 440.0
ANSWER_HZ = 880.0
ANSWER_SECONDS = 0.8
SYLLABLES = 4
SYLLABLE_SECONDS = 0.25
SYLLABLE_GAP = 0.05
CYCLE_SECONDS = 4.0  # the file's length: speech, then silence, looped
AMPLITUDE = 0.5
#: Conversation cycles to hear, and echo onsets to time.
TURNS = 3
ECHOES = 4


def microphone_wav(path: pathlib.Path) -> pathlib.Path:
    """The microphone, 48 kHz mono: SYLLABLES bursts of MOUTH_HZ (2 ms ramps,
    so an onset is sharp), then silence to CYCLE_SECONDS."""
    samples = numpy.zeros(int(CYCLE_SECONDS * RATE))
    burst = int(SYLLABLE_SECONDS * RATE)
    t = numpy.arange(burst) / RATE
    ramp = numpy.minimum(1.0, numpy.minimum(t, SYLLABLE_SECONDS - t) / 0.002)
    tone = AMPLITUDE * ramp * numpy.sin(2 * numpy.pi * MOUTH_HZ * t)
    for index in range(SYLLABLES):
        start = int(index * (SYLLABLE_SECONDS + SYLLABLE_GAP) * RATE)
        samples[start : start + burst] = tone
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


class LoopLag:
    """How late this process's event loop (the agent's) wakes from 10 ms sleeps:
    a busy machine shows here first, and in every latency measured."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.lags.append(loop.time() - before - 0.01)

    def stop(self) -> dict[str, float]:
        self._task.cancel()
        lags = numpy.array(self.lags or [0.0]) * 1000
        return {f"p{p}": round(float(numpy.percentile(lags, p)), 1) for p in (50, 90, 99)} | {"max": round(float(lags.max()), 1)}


def dominant_frequency(samples: numpy.ndarray) -> float:
    spectrum = numpy.abs(numpy.fft.rfft(samples * numpy.hanning(len(samples))))
    return float(numpy.fft.rfftfreq(len(samples), 1 / RATE)[int(numpy.argmax(spectrum))])


class Steps:
    """The result of each step; a failing step is recorded and the next runs."""

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}

    async def run(self, name: str, step: Callable[[], Awaitable[Any]]) -> None:
        try:
            self.result[name] = await step()
        except Exception as failure:  # noqa: BLE001 (recorded for the test to report)
            self.result[name] = {"error": f"{type(failure).__name__}: {failure}", "trace": traceback.format_exc()[-1500:]}


# Chromium's receiving side of the agent's voice: its jitter buffer (NetEq) explains most of the downlink.
INBOUND_AUDIO = """(async () => {
  let found = null;
  (await window.agent.pc.getStats()).forEach((report) => {
    if (report.type === 'inbound-rtp' && report.kind === 'audio') {
      found = {packetsReceived: report.packetsReceived, packetsLost: report.packetsLost, concealedSamples: report.concealedSamples,
               totalSamplesReceived: report.totalSamplesReceived, jitter: report.jitter,
               jitterBufferDelayMs: 1000 * report.jitterBufferDelay / report.jitterBufferEmittedCount,
               jitterBufferTargetDelayMs: 1000 * report.jitterBufferTargetDelay / report.jitterBufferEmittedCount,
               jitterBufferMinimumDelayMs: 1000 * report.jitterBufferMinimumDelay / report.jitterBufferEmittedCount};
    }
  });
  return found;
})()"""
PAGE_STATE = "(({pc, error, ...rest}) => rest)(window.agent)"  # an error fails the step before


async def talk(browser: Any, url: str) -> Any:
    page = await browser.new_page()
    await page.goto(url)
    await page.click("#talk")
    await until(page, "window.agent.error || window.agent.connectionState === 'connected'", "the page connected", timeout=15)
    await no_error(page)
    return page


async def waiting(page: Any, condition: str, what: str, timeout: float, agent: Any) -> None:
    """Until `condition` holds in the page; on a timeout, the error says what the page and the agent had."""
    try:
        await until(page, f"window.agent.error || ({condition})", what, timeout)
    except AssertionError as failure:
        found = await page.evaluate(
            "(({pc, colours, peaks, ...rest}) => ({...rest, colours: colours.slice(-3), peaks: peaks.slice(-3)}))(window.agent)"
        )
        python = [{"state": c.state, "heard": len(c.heard), "turns": len(c.turns), "level": c.detector.level,
                   "tracks": [{"packets": t.packetsReceived, "frames": t.framesDecoded, "lost": t.jitterBuffer.packetsLost,
                               "late": t.jitterBuffer.latePackets, "dropped": t.jitterBuffer.packetsDropped, "queued": len(t.jitterBuffer)} for t in c.tracks],
                   "stats": await c._direct.getStats()} for c in agent.conversations]
        raise AssertionError(f"{failure}; the page had {json.dumps(found)[:2000]}; the agent {python}") from None
    await no_error(page)


async def no_error(page: Any) -> None:
    error = await page.evaluate("window.agent.error")
    if error:
        raise AssertionError(f"the page failed: {error}")


async def conversation(browser: Any, url: str, agent: Any) -> dict[str, Any]:
    """The page speaks TURNS turns; what the agent heard and the page got back."""
    page = await talk(browser, f"{url}?processing=off")
    try:
        condition = (f"(window.agent.turns.length >= {TURNS} && "
                     f"window.agent.ear.filter((e) => e.type === 'onset').length >= {TURNS})")
        await waiting(page, condition, f"{TURNS} turns answered", TURNS * CYCLE_SECONDS + 10, agent)
        [talking] = agent.conversations
        heard = numpy.concatenate(list(talking.heard)).astype(float)
        found: dict[str, Any] = await page.evaluate(PAGE_STATE)
        found["inbound_audio"] = await page.evaluate(INBOUND_AUDIO)
        found["python"] = {
            "heard_seconds": len(heard) / RATE,
            "heard_frequency": dominant_frequency(heard),
            "heard_rms": float(numpy.sqrt(numpy.mean(heard**2))),
            "turns": [{"at": turn.at, "seconds": turn.duration, "frequency": dominant_frequency(turn.utterance.astype(float))} for turn in talking.turns],
        }
        return found
    finally:
        await page.close()


async def echo(browser: Any, url: str, agent: Any) -> dict[str, Any]:
    """The page in echo mode: the agent repeats the microphone at once."""
    page = await talk(browser, f"{url}?mode=echo&processing=off")
    [echoing] = agent.conversations[-1:]
    backlog: list[float] = []
    play = echoing.speaker.play

    def played(audio: Any) -> None:  # what waits in the agent when a frame comes in
        play(audio)
        backlog.append(echoing.speaker.queued)

    echoing.speaker.play = played
    try:
        condition = (f"(window.agent.mouth.filter((e) => e.type === 'onset').length > {ECHOES} && "
                     f"window.agent.ear.filter((e) => e.type === 'onset').length >= {ECHOES})")
        await waiting(page, condition, f"{ECHOES} echoes", ECHOES * CYCLE_SECONDS + 10, agent)
        found: dict[str, Any] = await page.evaluate(PAGE_STATE)
        found["inbound_audio"] = await page.evaluate(INBOUND_AUDIO)
        found["python"] = {"state": echoing.state, "turns": len(echoing.turns), "backlog": backlog}
        return found
    finally:
        await page.close()


async def main(directory: pathlib.Path) -> None:
    from aiohttp import web
    from playwright.async_api import async_playwright

    import mediasoup

    sys.path.insert(0, str(EXAMPLE))  # the example's modules import each other by name
    example = importlib.import_module("agent")
    voice = importlib.import_module("voice")

    steps = Steps()
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.monotonic()
    async with mediasoup.Server({**example.SERVER_OPTIONS, "rtcListenIPv4": "127.0.0.1", "logLevel": "warn"}) as server:
        app = example.application(server, voice.beep(ANSWER_HZ, ANSWER_SECONDS))
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        agent = app[example.VOICE_AGENT]
        try:
            async with async_playwright() as playwright:
                microphone = microphone_wav(directory / "microphone.wav")
                flags = [*FLAGS, f"--use-file-for-fake-audio-capture={microphone}"]
                browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=flags)
                await listening(port)
                lag = LoopLag()
                await steps.run("conversation", lambda: conversation(browser, url, agent))
                await steps.run("echo", lambda: echo(browser, url, agent))
                steps.result["loop_lag_ms"] = lag.stop()
                await browser.close()
        finally:
            await runner.cleanup()
    steps.result["state_colours"] = example.STATE_COLOURS
    steps.result["end_after"] = example.TurnDetector().end_after
    steps.result["seconds"] = time.monotonic() - started
    print(json.dumps(steps.result))


if __name__ == "__main__":
    asyncio.run(main(pathlib.Path(sys.argv[1])))
