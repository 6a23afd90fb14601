// The benchmark's driver of mediasoup's own C++ worker (npm release 3.8.4,
// built by bench/build-mediasoup-cpp): one Worker, one Router with VP8 and
// Opus, WebRtcTransports on 127.0.0.1 (UDP only), through mediasoup's ORTC
// API, no SDP. bench/mediasoup_cpp.py starts it with the unpacked release's
// folder as argument and speaks JSON lines with it:
//
// - out, once: {"event": "ready", "pid": the worker process,
//   "rtpCapabilities": the router's};
// - in: {"id", "op": "transport"} -> out {"id", "transport", "server":
//   {"address", "ufrag", "pwd", "fingerprint"}} (what Loadgen.connect takes);
// - in: {"id", "op": "produce", "transport", "kind", "rtpParameters"} -> {"id"};
// - in: {"id", "op": "consume", "transport", "rtpCapabilities"} -> out {"id",
//   "consumers": [rtpParameters and kind of a consumer of every producer]};
// - in: {"id", "op": "connect", "transport", "dtlsParameters"} (the remote
//   side's, as mediasoup's connect() takes them) -> {"id"};
// - a failed request answers {"id", "error"}; stdin closed: everything ends.
'use strict';

const readline = require('readline');
const mediasoup = require(process.argv[2]);

const MEDIA_CODECS = [
	{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }
];

const transports = new Map();
const producers = [];

function send(message)
{
	process.stdout.write(JSON.stringify(message) + '\n');
}

async function handle(router, request)
{
	switch (request.op)
	{
		case 'transport':
		{
			const transport = await router.createWebRtcTransport(
				{ listenIps: [ { ip: '127.0.0.1' } ], enableUdp: true, enableTcp: false });
			const candidate = transport.iceCandidates.find((c) => c.protocol === 'udp');
			const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');

			transports.set(transport.id, transport);

			return {
				transport : transport.id,
				server    : {
					address     : `${candidate.ip}:${candidate.port}`,
					ufrag       : transport.iceParameters.usernameFragment,
					pwd         : transport.iceParameters.password,
					fingerprint : `sha-256 ${fingerprint.value}`
				}
			};
		}
		case 'produce':
		{
			producers.push(await transports.get(request.transport).produce(
				{ kind: request.kind, rtpParameters: request.rtpParameters }));

			return {};
		}
		case 'consume':
		{
			const consumers = [];

			for (const producer of producers)
			{
				const consumer = await transports.get(request.transport).consume(
					{ producerId: producer.id, rtpCapabilities: request.rtpCapabilities, paused: false });

				consumers.push({ kind: consumer.kind, rtpParameters: consumer.rtpParameters });
			}

			return { consumers };
		}
		case 'connect':
		{
			await transports.get(request.transport).connect({ dtlsParameters: request.dtlsParameters });

			return {};
		}
		default:
			throw new Error(`unknown op ${request.op}`);
	}
}

async function main()
{
	const worker = await mediasoup.createWorker(
		{ logLevel: 'warn', rtcMinPort: 20000, rtcMaxPort: 59999 });
	const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });

	worker.on('died', () => process.exit(1));
	send({ event: 'ready', pid: worker.pid, rtpCapabilities: router.rtpCapabilities });

	const lines = readline.createInterface({ input: process.stdin });

	// Requests run concurrently (subscribers join in batches), answered by id.
	lines.on('line', (line) =>
	{
		const request = JSON.parse(line);

		handle(router, request)
			.then((reply) => send({ id: request.id, ...reply }))
			.catch((error) => send({ id: request.id, error: String(error) }));
	});
	lines.on('close', () =>
	{
		worker.close();
		process.exit(0);
	});
}

main().catch((error) =>
{
	process.stderr.write(`${error.stack}\n`);
	process.exit(1);
});
