"""The browser demo, shipped in the package so that an installed wheel
runs it: ``python -m mediasoup demo`` (the extra ``mediasoup[demo]``
brings aiohttp). :mod:`mediasoup.demo.app` is the whole application: a
video call page, WHIP/WHEP endpoints and ``/metrics``; docs/browser.md
describes it."""
