"""SDP from hostile or broken endpoints: the parser and the ORTC conversion
(fuzz/fuzz_sdp.py) on SDP that Hypothesis builds line by line (valid
lines, lines with wrong numbers and tokens, and garbage) and on real
browsers' offers cut and spliced. Each input either parses or raises a
ValueError/TypeError; what parses writes back and parses the same. The
long, coverage-guided run of the same target is atheris (fuzz/fuzz_sdp.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))
from fuzz_sdp import one_input  # noqa: E402

from mediasoup.webrtc import ortc, sdp  # noqa: E402

DATA = Path(__file__).parent / "data"
OFFERS = [path.read_text() for path in sorted(DATA.glob("*.sdp"))]

numbers = st.one_of(
    st.integers(min_value=-1, max_value=70000).map(str),
    st.sampled_from(["0", "127", "128", "255", "256", "4294967295", "4294967296", "18446744073709551616", "nan", "1e9", "-0", "٣"]),
)
tokens = st.one_of(
    numbers,
    st.sampled_from(["VP8", "opus", "H264", "rtx", "AV1", "IN", "IP4", "IP6", "UDP", "TCP", "host", "srflx", "typ", "sha-256", "*", "nack", "pli", "BUNDLE", "FID", "send", "recv", "a", "0"]),
    st.text(min_size=0, max_size=12),
)


def joined(*parts: st.SearchStrategy[str], separator: str = " ") -> st.SearchStrategy[str]:
    return st.tuples(*parts).map(separator.join)


attribute = st.one_of(
    joined(st.just("a=rtpmap:").map(str), numbers).flatmap(
        lambda head: joined(st.just(head), st.tuples(tokens, numbers, st.sampled_from(["", "/2", "/x"])).map(lambda t: f"{t[0]}/{t[1]}{t[2]}"))
    ),
    st.tuples(numbers, st.lists(st.tuples(tokens, tokens), max_size=4)).map(lambda t: f"a=fmtp:{t[0]} " + ";".join(f"{k}={v}" for k, v in t[1])),
    st.tuples(numbers, tokens, tokens).map(lambda t: f"a=rtcp-fb:{t[0]} {t[1]} {t[2]}"),
    st.tuples(numbers, st.sampled_from(["", "/sendonly", "/bogus"]), tokens).map(lambda t: f"a=extmap:{t[0]}{t[1]} {t[2]}"),
    st.tuples(numbers, tokens, tokens).map(lambda t: f"a=ssrc:{t[0]} {t[1]}:{t[2]}"),
    st.tuples(tokens, st.lists(numbers, max_size=3)).map(lambda t: f"a=ssrc-group:{t[0]} {' '.join(t[1])}"),
    st.tuples(tokens, st.sampled_from(["send", "recv", "both"]), tokens).map(lambda t: f"a=rid:{t[0]} {t[1]} {t[2]}"),
    st.tuples(st.lists(tokens, max_size=3)).map(lambda t: "a=simulcast:send " + ";".join(t[0])),
    st.tuples(tokens, numbers, tokens, numbers, tokens, numbers, tokens).map(lambda t: "a=candidate:" + " ".join([t[0], t[1], t[2], t[3], t[4], t[5], "typ", t[6]])),
    st.tuples(tokens, st.lists(st.text("0123456789ABCDEFxyz", min_size=0, max_size=3), max_size=6)).map(lambda t: f"a=fingerprint:{t[0]} {':'.join(t[1])}"),
    st.sampled_from(["a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive", "a=rtcp-mux", "a=setup:actpass", "a=setup:bogus", "a=ice-lite"]),
    st.tuples(tokens).map(lambda t: f"a=mid:{t[0]}"),
    st.tuples(tokens, st.text(max_size=20)).map(lambda t: f"a={t[0]}:{t[1]}"),
)
media_line = st.tuples(
    st.sampled_from(["audio", "video", "application", "text", ""]), numbers, st.sampled_from(["UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", "RTP/AVP", "x"]), st.lists(tokens, max_size=5)
).map(lambda t: f"m={t[0]} {t[1]} {t[2]} {' '.join(t[3])}")
line = st.one_of(attribute, attribute, media_line, st.sampled_from(["c=IN IP4 0.0.0.0", "t=0 0", "b=AS:30", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "v=0"]), st.text(max_size=30))
sdp_texts = st.tuples(st.lists(line, max_size=40), st.sampled_from(["\r\n", "\n"])).map(
    lambda t: t[1].join(["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", *t[0]]) + t[1]
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sdp_texts)
def test_sdp_built_line_by_line_parses_or_is_refused_clearly(text: str) -> None:
    one_input(text)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(OFFERS), st.integers(min_value=0, max_value=20000), st.integers(min_value=0, max_value=20000), st.text(max_size=40))
def test_real_offers_cut_and_spliced_parse_or_are_refused_clearly(offer: str, start: int, end: int, insert: str) -> None:
    start, end = sorted((start % (len(offer) + 1), end % (len(offer) + 1)))
    one_input(offer[:start] + insert + offer[end:])


def test_the_fuzz_corpus_parses_or_is_refused_clearly() -> None:
    """The seeds (real offers) and what the coverage-guided runs kept, among them the inputs of the bugs they found."""
    corpus = sorted((Path(__file__).resolve().parent.parent / "fuzz" / "corpus" / "sdp").iterdir())
    assert len(corpus) >= len(OFFERS)
    for path in corpus:
        one_input(path.read_bytes().decode("utf-8", "replace"))


def test_a_sending_section_whose_every_ssrc_is_a_repair_is_refused_by_name() -> None:
    """Found by fuzzing: the ORTC conversion raised StopIteration (from next()) where an offer names only repair SSRCs."""
    section = "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:0\r\na=sendonly\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
    offer = sdp.parse("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" + section + "a=ssrc:5 cname:x\r\na=ssrc-group:FID 5 5\r\n")
    with pytest.raises(ValueError, match="names only SSRCs that a=ssrc-group:FID makes repairs"):
        ortc.receive_parameters(offer.media[0], offer.media[0].codecs())
