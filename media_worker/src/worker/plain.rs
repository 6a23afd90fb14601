//! Plain RTP transports: creating one on a port of its own (two without
//! rtcpMux), on one of the server's listen addresses, and telling it where
//! its endpoint is (and, with SRTP, the keys each side protects with:
//! its own drawn here, its endpoint's given).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use base64::Engine;
use serde_json::Value;

use super::{listen_addresses, unknown, Network, SocketPlan, Worker};
use crate::channel::message::{PlainTransportCreate, SrtpParameters, TransportConnect};
use crate::error::WorkerError;
use crate::rtp::codec_table::SendTables;
use crate::transport::plain::{PlainOptions, PlainTransport, SrtpKeys};
use crate::transport::srtp::CryptoSuite;
use crate::transport::{BoundSocket, Transport};

impl Worker {
    /// `peer.createPlainTransport`: answers its tuples.
    pub(super) fn create_plain_transport(&mut self, create: PlainTransportCreate, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        self.check_transport_id_free(&create.transport_id)?;
        let Some(settings) = &self.settings else {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        };
        let srtp = create.srtp_crypto_suite.as_deref().map(local_srtp_keys).transpose()?;
        let peer = self.peers.get(&create.peer_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let room = self.rooms.get(&peer.room_id).ok_or_else(|| unknown("peer", &create.peer_id))?;
        let addresses = listen_addresses(settings);
        let address = match &create.listen_ip {
            None => addresses.iter().find(|(ip, _)| ip.is_ipv4()).or(addresses.first()).copied(),
            Some(wanted) => {
                let ip: IpAddr = wanted.parse().map_err(|_| WorkerError::value_error(format!("listenIp {wanted:?} is not an IP address")))?;
                addresses.iter().find(|(listen, _)| *listen == ip).copied()
            }
        };
        let Some(address) = address else {
            let listening: Vec<String> = addresses.iter().map(|(ip, _)| ip.to_string()).collect();
            return Err(WorkerError::value_error(format!(
                "listenIp {} is not one of the server's listen addresses ({})",
                create.listen_ip.as_deref().unwrap_or("None"),
                listening.join(", ")
            )));
        };
        let plan = SocketPlan { udp: true, tcp: false, addresses: vec![address], ports: (settings.rtc_min_port, settings.rtc_max_port) };
        let tables = SendTables::new(&room.rtp_capabilities, peer.capabilities.as_ref());
        if create.shared_port && (create.comedia || !create.rtcp_mux) {
            return Err(WorkerError::value_error("sharedPort tells transports apart by their endpoint's address: it takes rtcpMux and no comedia"));
        }
        let key = self.take_transport_key();
        let mut sockets = if create.shared_port { vec![self.shared_plain_socket(address.0, &plan, network)?] } else { network.open_sockets(key, &plan)? };
        if !create.rtcp_mux {
            match network.open_sockets(key, &plan) {
                Ok(rtcp) => sockets.extend(rtcp),
                Err(error) => {
                    network.close_sockets(key);
                    return Err(error);
                }
            }
        }
        let options = PlainOptions { rtcp_mux: create.rtcp_mux, comedia: create.comedia, nack: create.enable_nack, shared_port: create.shared_port };
        let transport = match PlainTransport::new(create.transport_id.clone(), create.peer_id.clone(), tables, sockets[0], sockets.get(1).copied(), options, srtp, key, now) {
            Ok(transport) => transport,
            Err(error) => {
                network.close_sockets(key);
                return Err(error);
            }
        };
        let answer = transport.local_parameters();
        tracing::debug!("plain transport {} listens on {}", create.transport_id, sockets[0].address);
        if !create.shared_port {
            self.demux.add(key, &sockets, None);
        }
        self.register_transport(key, create.transport_id, &create.peer_id, Transport::Plain(transport));
        Ok(answer)
    }

    /// `transport.connect`: a plain transport's endpoint is at `ip:port`
    /// (unless comedia) and, with SRTP, protects with `srtpParameters`.
    pub(super) fn connect_plain_transport(&mut self, connect: TransportConnect, now: Instant) -> Result<Value, WorkerError> {
        let key = self.transport_key(&connect.transport_id)?;
        let remote = match (&connect.ip, connect.port) {
            (Some(ip), Some(port)) => {
                let ip: IpAddr = ip.parse().map_err(|_| WorkerError::value_error(format!("ip {ip:?} is not an IP address")))?;
                Some(SocketAddr::new(ip, port))
            }
            (None, None) => None,
            _ => return Err(WorkerError::value_error("connect() takes ip and port together")),
        };
        let srtp = connect.srtp_parameters.as_ref().map(remote_srtp_keys).transpose()?;
        let transport = self.transport_mut(key)?.as_plain_mut("connect")?;
        // On the shared port, nothing is taken before the endpoint is known; then what comes from it.
        let shared = match transport.rtp_socket() {
            (local, true) => remote.map(|remote| (local, remote)),
            _ => None,
        };
        if let Some((local, remote)) = shared {
            if let Some(other) = self.demux.tuple_owner(local, remote).filter(|other| *other != key) {
                let other = self.transports.get(&other).map_or("?", |t| t.id());
                return Err(WorkerError::value_error(format!("plain transport {other} on the shared port {local} is connected to {remote} already")));
            }
        }
        let answer = self.transport_mut(key)?.as_plain_mut("connect")?.connect(remote, connect.rtcp_port, srtp)?;
        if let Some((local, remote)) = shared {
            self.demux.connect(key, local, remote);
        }
        self.collect(key, now);
        Ok(answer)
    }

    /// The socket the worker's plain transports share on `ip` (bound the first time it is asked for).
    fn shared_plain_socket(&mut self, ip: IpAddr, plan: &SocketPlan, network: &mut dyn Network) -> Result<BoundSocket, WorkerError> {
        if let Some(socket) = self.shared_plain.iter().find(|socket| socket.address.ip() == ip) {
            return Ok(*socket);
        }
        let socket = network.open_shared_port(plan)?.into_iter().next().ok_or_else(|| WorkerError::internal("no shared socket bound"))?;
        self.demux.add_shared_by_tuple(&socket);
        self.shared_plain.push(socket);
        Ok(socket)
    }
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn crypto_suite(name: &str) -> Result<CryptoSuite, WorkerError> {
    CryptoSuite::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = CryptoSuite::ALL.iter().map(|suite| suite.name()).collect();
        WorkerError::value_error(format!("SRTP crypto suite {name:?} is not one of {}", names.join(", ")))
    })
}

/// A new transport's own keys: drawn from the system's random source.
fn local_srtp_keys(suite: &str) -> Result<SrtpKeys, WorkerError> {
    let suite = crypto_suite(suite)?;
    let mut master = vec![0u8; suite.master_len()];
    aws_lc_rs::rand::fill(&mut master).map_err(|_| WorkerError::internal("no random bytes for an SRTP key"))?;
    Ok(SrtpKeys { suite, key_base64: BASE64.encode(&master), master })
}

/// The endpoint's keys, as `connect(srtpParameters=)` gave them.
fn remote_srtp_keys(parameters: &SrtpParameters) -> Result<SrtpKeys, WorkerError> {
    let suite = crypto_suite(&parameters.crypto_suite)?;
    let master = BASE64.decode(parameters.key_base64.trim()).map_err(|_| WorkerError::value_error("srtpParameters: keyBase64 is not base64"))?;
    if master.len() != suite.master_len() {
        return Err(WorkerError::value_error(format!(
            "srtpParameters: {} needs a key and salt of {} bytes ({} in base64), not {}",
            suite.name(),
            suite.master_len(),
            suite.master_len().div_ceil(3) * 4,
            master.len()
        )));
    }
    Ok(SrtpKeys { suite, key_base64: parameters.key_base64.clone(), master })
}

#[cfg(test)]
#[path = "plain_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "pipe_hop_tests.rs"]
mod pipe_hop_tests;
