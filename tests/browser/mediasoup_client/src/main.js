// A participant with mediasoup-client: produces camera and microphone on a
// send transport, consumes what the server offers on a receive transport.
// The page's query chooses the video codec (vp8, vp9, h264) and simulcast;
// the signalling is a WebSocket to the test's app, which calls the Python API
// (tests/browser/mediasoup_client_in_chromium.py). window.receivedStats()
// reports what was sent and decoded.
import { Device } from 'mediasoup-client';

const query = new URLSearchParams(location.search);
const codecName = query.get('codec') || 'vp8';
const simulcast = query.get('simulcast') === '1';
const log = [];
window.pageLog = log;

const socket = new WebSocket(`ws://${location.host}/ws?${new URLSearchParams({ room: query.get('room') || 'room', name: query.get('name') || 'page' })}`);
let nextId = 1;
const waiting = new Map();
const handlers = {};

function request(method, data = {}) {
  const id = nextId++;
  socket.send(JSON.stringify({ id, method, data }));
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.id !== undefined) {
    const entry = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error) entry.reject(new Error(message.error));
    else entry.resolve(message.data);
  } else {
    handlers[message.method](message.data).catch((error) => log.push(`${message.method}: ${error}`));
  }
};

const consumers = [];
const producers = [];

async function main() {
  await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }));
  const { routerRtpCapabilities, send, recv } = await request('join');
  const device = new Device();
  await device.load({ routerRtpCapabilities });
  window.handlerName = device.handlerName;
  await request('capabilities', { rtpCapabilities: device.rtpCapabilities });

  const sendTransport = device.createSendTransport(send);
  sendTransport.on('connect', ({ dtlsParameters }, done, fail) =>
    request('connect', { transportId: send.id, dtlsParameters }).then(done, fail));
  sendTransport.on('produce', ({ kind, rtpParameters }, done, fail) =>
    request('produce', { transportId: send.id, kind, rtpParameters }).then(done, fail));
  const recvTransport = device.createRecvTransport(recv);
  recvTransport.on('connect', ({ dtlsParameters }, done, fail) =>
    request('connect', { transportId: recv.id, dtlsParameters }).then(done, fail));

  handlers.consume = async ({ id, producerId, kind, rtpParameters }) => {
    const consumer = await recvTransport.consume({ id, producerId, kind, rtpParameters });
    consumers.push(consumer);
    const element = document.createElement(kind);
    element.srcObject = new MediaStream([consumer.track]);
    element.muted = true;
    element.autoplay = true;
    element.playsInline = true;
    document.body.appendChild(element);
    element.play().catch(() => {});
  };
  // Consumers are offered once the receive transport can take them.
  await request('ready');

  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  producers.push(await sendTransport.produce({ track: stream.getAudioTracks()[0] }));
  const codec = device.rtpCapabilities.codecs.find((c) => c.mimeType.toLowerCase() === `video/${codecName}`);
  if (!codec) throw new Error(`the device cannot send ${codecName}`);
  const video = { track: stream.getVideoTracks()[0], codec };
  if (simulcast) {
    video.encodings = [
      { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 100000 },
      { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 300000 },
      { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 900000 },
    ];
  }
  producers.push(await sendTransport.produce(video));
}

window.receivedStats = async () => {
  const result = { handler: window.handlerName, log, inbound: [], outbound: [] };
  for (const consumer of consumers) {
    for (const report of (await consumer.getStats()).values()) {
      if (report.type === 'inbound-rtp') {
        result.inbound.push({
          kind: report.kind, packetsReceived: report.packetsReceived, framesDecoded: report.framesDecoded || 0,
          totalSamplesReceived: report.totalSamplesReceived || 0, codec: consumer.rtpParameters.codecs[0].mimeType,
        });
      }
    }
  }
  for (const producer of producers) {
    for (const report of (await producer.getStats()).values()) {
      if (report.type === 'outbound-rtp') {
        result.outbound.push({ kind: report.kind, rid: report.rid || null, packetsSent: report.packetsSent });
      }
    }
  }
  return result;
};

main().catch((error) => log.push(`main: ${error}`));
