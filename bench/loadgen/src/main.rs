//! The forwarding benchmark's load generator: many WebRTC clients (str0m,
//! RTP mode: real ICE, DTLS and SRTP) in one process, a few threads, one
//! UDP socket per thread. Publishers send synthetic VP8 and Opus-sized
//! audio (`payload.rs`); subscribers count what arrives, its loss and its
//! latency (the send time travels in the payload; one host, one clock).
//!
//! A driver (bench/*.py) speaks to it in JSON lines on stdin/stdout:
//!
//! - out: `{"event": "ready", "fingerprint": "sha-256 …", "threads": n,
//!   "addresses": [each thread's socket]}` (every client uses this
//!   certificate; each is the DTLS server unless `"dtls_client": true`);
//! - in: `{"op": "connect", "id", "role": "publisher"|"subscriber",
//!   "server": {"address", "ufrag", "pwd", "fingerprint"}, optional
//!   "local": {"ufrag", "pwd"}, "dtls_client", "thread", "extensions":
//!   [[id, uri], …], "codecs": [{"pt", "rtx", "mime", "clock", "channels"}],
//!   "streams": [{"mid", "kind", "ssrc", "rtx", optional "counted" (false: a
//!   publisher's lower simulcast layer, not counted as sent) and "rid"}],
//!   several streams of one mid being simulcast (each with a rid of its
//!   own, which str0m needs to tell them apart), optional "ice_controlling"
//!   (default true), "clip": a file of real media for a publisher to send
//!   (bench/clip.py), "frames": true for a subscriber of such media (it
//!   counts video frames by RTP timestamp, audio packets by arrival)}` →
//!   out `{"event": "connected", "id", "ms"}` when DTLS is up (a publisher
//!   then sends);
//! - in: `{"op": "window", "open": true|false}`: what is sent while the
//!   window is open (from 100 ms after the command) is what loss and
//!   latency are measured on; opening it zeroes the counts;
//! - in: `{"op": "stats"}` → out `{"event": "stats", …}`;
//! - in: `{"op": "quit"}`.

mod client_thread;
mod connection;
mod payload;
mod protocol;
mod stats;
mod window;

use std::collections::{BinaryHeap, HashMap};
use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::channel;
use std::time::Instant;

use serde_json::{json, Value};
use str0m::RtcConfig;
use str0m::config::DtlsCert;

use crate::client_thread::{ClientThread, ThreadStats};
use crate::protocol::{Command, Connect, Message};
use crate::stats::Histogram;
use crate::window::{epoch, nanos_since_epoch, WINDOW_DELAY, Window};


/// One socket takes what the SFU sends to every client of a thread: a
/// frame to N subscribers arrives as a burst of 4 × N datagrams. The
/// default receive buffer (≈ 200 KiB) would drop most of a burst to a few
/// hundred subscribers, so it is made as large as allowed (beyond
/// `rmem_max` when privileged).
pub(crate) fn enlarge_buffers(socket: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    const SIZE: usize = 32 << 20;
    if setsockopt(socket, sockopt::RcvBufForce, &SIZE).is_err() {
        let _ = setsockopt(socket, sockopt::RcvBuf, &SIZE);
    }
    let _ = setsockopt(socket, sockopt::SndBuf, &SIZE);
}

fn certificate() -> DtlsCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("a P-256 key");
    let cert = rcgen::CertificateParams::new(vec!["loadgen".into()])
        .expect("params")
        .self_signed(&key)
        .expect("a certificate");
    DtlsCert {
        certificate: cert.der().to_vec(),
        private_key: key.serialize_der(),
    }
}

/// Merges the threads' stats into one report.
fn merge(reports: Vec<Value>) -> Value {
    let mut latency = Histogram::default();
    let mut total = json!({"connections": 0, "connected": 0, "sent": {"video": 0, "audio": 0}, "received": {"video": 0, "audio": 0},
                           "packets": {"video": 0, "audio": 0}, "duplicates": 0, "foreign": 0, "sendErrors": 0});
    let add = |total: &mut Value, report: &Value, path: &[&str]| {
        let mut target = &mut *total;
        let mut source = report;
        for key in path {
            target = &mut target[*key];
            source = &source[*key];
        }
        *target = json!(target.as_u64().unwrap_or(0) + source.as_u64().unwrap_or(0));
    };
    for report in &reports {
        for path in [
            &["connections"][..],
            &["connected"],
            &["sent", "video"],
            &["sent", "audio"],
            &["received", "video"],
            &["received", "audio"],
            &["packets", "video"],
            &["packets", "audio"],
            &["duplicates"],
            &["foreign"],
            &["sendErrors"],
            &["data", "sent"],
            &["data", "received"],
            &["data", "refused"],
        ] {
            add(&mut total, report, path);
        }
        for bucket in report["latency"].as_array().into_iter().flatten() {
            let (Some(lower), Some(count)) = (bucket[0].as_u64(), bucket[1].as_u64()) else {
                continue;
            };
            latency.record_many(lower, count);
        }
    }
    total["latencyMicros"] = latency.to_json();
    total["event"] = json!("stats");
    total
}

fn main() {
    let threads: usize = std::env::args()
        .skip_while(|arg| arg != "--threads")
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
        .max(1);
    let bind: std::net::IpAddr = std::env::args()
        .skip_while(|arg| arg != "--bind")
        .nth(1)
        .and_then(|value| value.parse().ok())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    epoch();
    let certificate = certificate();
    let window = Arc::new(Window::new());
    let (out, messages) = channel::<Message>();
    let mut senders = Vec::new();
    let mut handles = Vec::new();
    let mut addresses = Vec::new();
    for _ in 0..threads {
        let socket = match UdpSocket::bind(SocketAddr::new(bind, 0)) {
            Ok(socket) => socket,
            Err(err) => return eprintln!("bind: {err}"),
        };
        if let Err(err) = socket.set_nonblocking(true) {
            return eprintln!("nonblocking: {err}");
        }
        enlarge_buffers(&socket);
        let local = match socket.local_addr() {
            Ok(local) => local,
            Err(err) => return eprintln!("local address: {err}"),
        };
        addresses.push(local.to_string());
        let worker = ClientThread {
            sockets: vec![(mio::net::UdpSocket::from_std(socket), local)],
            registry: None,
            certificate: certificate.clone(),
            connections: Vec::new(),
            by_address: HashMap::new(),
            timers: BinaryHeap::new(),
            stats: ThreadStats::default(),
            window: window.clone(),
            out: out.clone(),
            buffer: vec![0; 2048],
        };
        let (commands, receiver) = channel();
        senders.push(commands);
        handles.push(std::thread::spawn(move || worker.run(receiver)));
    }
    let stdin_out = out.clone();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if stdin_out.send(Message::Line(line)).is_err() {
                return;
            }
        }
        let _ = stdin_out.send(Message::Eof);
    });
    let fingerprint = {
        let rtc = RtcConfig::new()
            .set_dtls_cert(certificate.clone())
            .build(Instant::now());
        let mut rtc = rtc;
        rtc.direct_api().local_dtls_fingerprint().to_string()
    };
    let mut stdout = std::io::stdout().lock();
    let mut write = |value: Value| {
        let _ = writeln!(stdout, "{value}");
        let _ = stdout.flush();
    };
    write(
        json!({"event": "ready", "fingerprint": fingerprint, "threads": threads, "addresses": addresses}),
    );
    let mut next_thread = 0;
    while let Ok(message) = messages.recv() {
        match message {
            Message::Out(value) => write(value),
            Message::Eof => break,
            Message::Line(line) => {
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    write(json!({"event": "error", "message": format!("not JSON: {line}")}));
                    continue;
                };
                match value["op"].as_str() {
                    Some("connect") => match serde_json::from_value::<Connect>(value) {
                        Ok(connect) => {
                            let thread = connect
                                .thread
                                .filter(|thread| *thread < senders.len())
                                .unwrap_or(next_thread);
                            let _ = senders[thread].send(Command::Connect(Box::new(connect)));
                            next_thread = (thread + 1) % senders.len();
                        }
                        Err(err) => {
                            write(json!({"event": "error", "message": format!("connect: {err}")}))
                        }
                    },
                    Some("window") => {
                        let now = nanos_since_epoch(Instant::now()).max(1);
                        if value["open"].as_bool() == Some(true) {
                            // The window starts a little later, once every
                            // thread has zeroed its counts (a thread reads its
                            // commands at least every 5 ms).
                            for sender in &senders {
                                let _ = sender.send(Command::Reset);
                            }
                            window
                                .start_ns
                                .store(now + WINDOW_DELAY.as_nanos() as u64, Ordering::Relaxed);
                            window.open.store(true, Ordering::Relaxed);
                        } else {
                            window.end_ns.store(now, Ordering::Relaxed);
                            window.open.store(false, Ordering::Relaxed);
                        }
                        write(json!({"event": "window", "open": value["open"]}));
                    }
                    Some("stats") => {
                        let (reply, replies) = channel();
                        for sender in &senders {
                            let _ = sender.send(Command::Stats(reply.clone()));
                        }
                        drop(reply);
                        write(merge(replies.iter().collect()));
                    }
                    Some("quit") => break,
                    _ => write(json!({"event": "error", "message": format!("unknown op: {line}")})),
                }
            }
        }
    }
    for sender in &senders {
        let _ = sender.send(Command::Quit);
    }
    for handle in handles {
        let _ = handle.join();
    }
}
