"""Captures real Chromium offers for tests/test_sdp.py. From the repository root, in a network namespace with only loopback:

    unshare -n sh -c "ip link set lo up && python tests/data/capture_offers.py"

Needs Debian's chromium and Playwright from PyPI (never `playwright install`)."""
import asyncio, sys
from playwright.async_api import async_playwright

JS = """
async (simulcast) => {
  const pc = new RTCPeerConnection({iceServers: []});
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 480}});
  pc.addTrack(stream.getAudioTracks()[0], stream);
  if (simulcast) {
    pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', streams: [stream], sendEncodings: [
      {rid: 'q', scaleResolutionDownBy: 4}, {rid: 'h', scaleResolutionDownBy: 2}, {rid: 'f'}]});
  } else {
    pc.addTrack(stream.getVideoTracks()[0], stream);
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.createDataChannel('chat');
  }
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(r => { if (pc.iceGatheringState === 'complete') r(); else pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); });
  return pc.localDescription.sdp;
}
"""
async def serve(reader, writer):
    await reader.read(2048)
    body = b"<html><body>capture</body></html>"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns"])
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/")
        for name, simulcast in (("chromium_offer.sdp", False), ("chromium_simulcast_offer.sdp", True)):
            sdp = await page.evaluate(JS, simulcast)
            open(f"tests/data/{name}", "w", newline="").write(sdp)
            print(name, len(sdp))
        print(await page.evaluate("navigator.userAgent"))
        await browser.close()
asyncio.run(main())
