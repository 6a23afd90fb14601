//! Plain RTP transports: creating one on a port of its own (two without
//! rtcpMux), on one of the server's listen addresses, and telling it where
//! its endpoint is.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use serde_json::Value;

use super::{listen_addresses, unknown, Network, SocketPlan, Worker};
use crate::channel::message::{PlainTransportCreate, TransportConnect};
use crate::error::WorkerError;
use crate::rtp::codec_table::SendTables;
use crate::transport::plain::{PlainOptions, PlainTransport};
use crate::transport::Transport;

impl Worker {
    /// `peer.createPlainTransport`: answers its tuples.
    pub(super) fn create_plain_transport(&mut self, create: PlainTransportCreate, now: Instant, network: &mut dyn Network) -> Result<Value, WorkerError> {
        if self.transport_keys.contains_key(&create.transport_id) {
            return Err(WorkerError::value_error(format!("a transport with id '{}' exists already", create.transport_id)));
        }
        let Some(settings) = &self.settings else {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        };
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
        let key = self.next_key;
        self.next_key = self.next_key.wrapping_add(1).max(1);
        let mut sockets = network.open_sockets(key, &plan)?;
        if !create.rtcp_mux {
            match network.open_sockets(key, &plan) {
                Ok(rtcp) => sockets.extend(rtcp),
                Err(error) => {
                    network.close_sockets(key);
                    return Err(error);
                }
            }
        }
        let options = PlainOptions { rtcp_mux: create.rtcp_mux, comedia: create.comedia };
        let transport = PlainTransport::new(create.transport_id.clone(), create.peer_id.clone(), tables, sockets[0], sockets.get(1).copied(), options, key, now);
        let answer = transport.local_parameters();
        if let Some(peer) = self.peers.get_mut(&create.peer_id) {
            peer.transport_ids.push(create.transport_id.clone());
        }
        tracing::debug!("plain transport {} created for peer {} on {}", create.transport_id, create.peer_id, sockets[0].address);
        self.demux.add(key, &sockets, None);
        self.transport_keys.insert(create.transport_id, key);
        self.transports.insert(key, Transport::Plain(transport));
        Ok(answer)
    }

    /// `transport.connect`: a plain transport's endpoint is at `ip:port`.
    pub(super) fn connect_plain_transport(&mut self, connect: TransportConnect, now: Instant) -> Result<Value, WorkerError> {
        let key = self.transport_key(&connect.transport_id)?;
        let ip: IpAddr = connect.ip.parse().map_err(|_| WorkerError::value_error(format!("ip {:?} is not an IP address", connect.ip)))?;
        let transport = self.transport_mut(key)?.as_plain_mut("connect")?;
        let answer = transport.connect(SocketAddr::new(ip, connect.port), connect.rtcp_port)?;
        self.collect(key, now);
        Ok(answer)
    }
}

#[cfg(test)]
#[path = "plain_tests.rs"]
mod tests;
