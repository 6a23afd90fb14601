//! A worker without sockets: a [`Network`] that hands out loopback
//! addresses without binding anything, and a worker initialised on it.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use str0m::net::Protocol;

use super::client::dtls_certificate;
use crate::channel::logging::LogFilter;
use crate::channel::settings::{encode_hex, LogLevel, WorkerSettings};
use crate::channel::Request;
use crate::error::WorkerError;
use crate::transport::BoundSocket;
use crate::worker::{Network, SocketPlan, TransportKey, Worker};

/// Hands out loopback "sockets" without binding anything.
#[derive(Default)]
pub struct FakeNetwork {
    pub next_port: u16,
    pub open: HashMap<TransportKey, Vec<BoundSocket>>,
    /// What `open_shared_sockets` bound.
    pub shared: Vec<BoundSocket>,
}

/// The sockets `plan` asks for, at `port`.
fn fake_sockets(plan: &SocketPlan, port: u16) -> Vec<BoundSocket> {
    let mut sockets = Vec::new();
    for (ip, announced) in &plan.addresses {
        for (wanted, protocol) in [(plan.udp, Protocol::Udp), (plan.tcp, Protocol::Tcp)] {
            if wanted {
                sockets.push(BoundSocket { protocol, address: SocketAddr::new(*ip, port), announced_ip: *announced });
            }
        }
    }
    sockets
}

/// How many ports the plan's range holds (at most 65535).
fn range(plan: &SocketPlan) -> u16 {
    (plan.ports.1 - plan.ports.0).saturating_add(1)
}

impl Network for FakeNetwork {
    fn open_sockets(&mut self, key: TransportKey, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError> {
        let sockets = fake_sockets(plan, plan.ports.0 + self.next_port % range(plan));
        self.next_port = self.next_port.wrapping_add(1);
        self.open.entry(key).or_default().extend(sockets.iter().cloned());
        Ok(sockets)
    }

    fn open_shared_sockets(&mut self, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError> {
        self.shared = fake_sockets(plan, plan.ports.0);
        Ok(self.shared.clone())
    }

    fn open_shared_port(&mut self, plan: &SocketPlan) -> Result<Vec<BoundSocket>, WorkerError> {
        // From the top of the range: never the port a worker shares for WebRTC (its first).
        let sockets = fake_sockets(plan, plan.ports.1 - self.next_port % range(plan));
        self.next_port = self.next_port.wrapping_add(1);
        Ok(sockets)
    }

    fn close_sockets(&mut self, key: TransportKey) {
        self.open.remove(&key);
    }
}

/// A worker's settings on 127.0.0.1, ports 40000 to 40999, a fresh certificate.
pub fn settings() -> WorkerSettings {
    let certificate = dtls_certificate();
    WorkerSettings {
        log_level: LogLevel::Warn,
        rtc_listen_ipv4: Some(Ipv4Addr::LOCALHOST),
        rtc_listen_ipv6: None,
        rtc_announced_ipv4: None,
        rtc_announced_ipv6: None,
        rtc_min_port: 40000,
        rtc_max_port: 40999,
        rtc_port_per_worker: false,
        dtls_certificate_der: encode_hex(&certificate.certificate),
        dtls_private_key_der: encode_hex(&certificate.private_key),
    }
}

pub fn ready_worker() -> (Worker, FakeNetwork, Instant) {
    ready_worker_with(settings())
}

pub fn ready_worker_with(settings: WorkerSettings) -> (Worker, FakeNetwork, Instant) {
    let now = Instant::now();
    let mut network = FakeNetwork::default();
    let mut worker = Worker::new(42, LogFilter::new(LogLevel::Debug), now, 42);
    worker.handle_request(Request::WorkerInit(settings), now, &mut network).expect("worker.init with the test settings");
    (worker, network, now)
}

