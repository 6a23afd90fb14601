// A participant with mediasoup-client: produces camera and microphone on a
// send transport, consumes what the server offers on a receive transport.
// The page's query chooses the video codec (vp8, vp9, h264) and simulcast;
// the signalling is a WebSocket to the test's app, which calls the Python API
// (tests/browser/mediasoup_client_in_chromium.py). window.receivedStats()
// reports what was sent and decoded.
// With data=1 the page produces no media: its transports carry SCTP, it
// produces a 'chat' data channel and consumes the other pages' ones;
// window.sendChat() sends text and binary messages on it, and
// window.dataResult() reports what was sent and received.
import { Device } from 'mediasoup-client';

const query = new URLSearchParams(location.search);
const codecName = query.get('codec') || 'vp8';
const simulcast = query.get('simulcast') === '1';
const dataOnly = query.get('data') === '1';
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
const dataConsumers = [];
const chat = { producer: null, sent: [], received: [] };

async function main() {
  await new Promise((resolve) => socket.addEventListener('open', resolve, { once: true }));
  const { routerRtpCapabilities, send, recv } = await request('join', { sctp: dataOnly });
  const device = new Device();
  await device.load({ routerRtpCapabilities });
  window.handlerName = device.handlerName;
  await request('capabilities', { rtpCapabilities: device.rtpCapabilities });

  const sendTransport = device.createSendTransport(send);
  sendTransport.on('connect', ({ dtlsParameters }, done, fail) =>
    request('connect', { transportId: send.id, dtlsParameters }).then(done, fail));
  sendTransport.on('produce', ({ kind, rtpParameters }, done, fail) =>
    request('produce', { transportId: send.id, kind, rtpParameters }).then((id) => done({ id }), fail));
  sendTransport.on('producedata', ({ sctpStreamParameters, label, protocol }, done, fail) =>
    request('producedata', { sctpStreamParameters, label, protocol }).then((id) => done({ id }), fail));
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
  handlers.consumeData = async ({ id, dataProducerId, sctpStreamParameters, label, protocol }) => {
    const dataConsumer = await recvTransport.consumeData({ id, dataProducerId, sctpStreamParameters, label, protocol });
    dataConsumer.binaryType = 'arraybuffer';
    dataConsumer.on('message', (message) => chat.received.push(encodeMessage(message)));
    dataConsumers.push(dataConsumer);
  };
  // Consumers are offered once the receive transport can take them.
  await request('ready');
  if (dataOnly) {
    chat.producer = await sendTransport.produceData({ label: 'chat', protocol: 'text-and-binary' });
    return;
  }

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

// A message as JSON can carry it: {text} or {binary: base64}.
function encodeMessage(message) {
  if (typeof message === 'string') return { text: message };
  let binary = '';
  for (const byte of new Uint8Array(message)) binary += String.fromCharCode(byte);
  return { binary: btoa(binary) };
}

// True once the page's data producer and a data consumer are open.
window.chatOpen = () => chat.producer?.readyState === 'open' && dataConsumers.some((c) => c.readyState === 'open');

// Text and binary messages in turns on the ordered 'chat' channel, of sizes
// up to what the server relays (64 KiB), random bytes and non-ASCII text.
window.sendChat = (count) => {
  const name = query.get('name');
  const binarySizes = [1, 1000, 16384, 65536];
  for (let index = 0; index < count; index++) {
    let message;
    if (index % 2 === 0) {
      message = index === 10 ? `${name} ${index} ${'é'.repeat(30000)}` : `${name} says ${index} ✓`;
    } else {
      message = crypto.getRandomValues(new Uint8Array(binarySizes[(index >> 1) % binarySizes.length]));
    }
    chat.producer.send(message);
    chat.sent.push(encodeMessage(typeof message === 'string' ? message : message.buffer));
  }
  return chat.sent.length;
};

window.dataResult = () => ({
  handler: window.handlerName,
  log,
  producer: chat.producer && {
    id: chat.producer.id, label: chat.producer.label, protocol: chat.producer.protocol,
    sctpStreamParameters: chat.producer.sctpStreamParameters,
  },
  consumers: dataConsumers.map((c) => ({
    id: c.id, dataProducerId: c.dataProducerId, label: c.label, protocol: c.protocol,
    sctpStreamParameters: c.sctpStreamParameters, readyState: c.readyState,
  })),
  sent: chat.sent,
  received: chat.received,
});

main().catch((error) => log.push(`main: ${error}`));
