//! A client thread: one UDP socket, many connections, a heap of their
//! timeouts; it sends, receives and counts, and reports its statistics.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use str0m::{Event, IceConnectionState, Input, Output};
use str0m::config::DtlsCert;
use str0m::media::Pt;
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, SeqNo, Ssrc};

use crate::connection::{build_connection, Connection, Source};
use crate::protocol::{Command, Connect, Message};
use crate::stats::Histogram;
use crate::window::{nanos_since_epoch, TICKS_PER_FRAME, Window};

#[derive(Default)]
pub(crate) struct ThreadStats {
    pub(crate) connections: u64,
    pub(crate) connected: u64,
    pub(crate) sent_video: u64,
    pub(crate) sent_audio: u64,
    pub(crate) received_video: u64,
    pub(crate) received_audio: u64,
    /// RTP packets that arrived while the window was open, whatever they carry.
    pub(crate) packets_video: u64,
    pub(crate) packets_audio: u64,
    pub(crate) duplicates: u64,
    pub(crate) foreign: u64,
    pub(crate) send_errors: u64,
    /// Data-channel messages sent and received in the window, and those SCTP had no room for.
    pub(crate) sent_data: u64,
    pub(crate) received_data: u64,
    pub(crate) data_refused: u64,
    pub(crate) latency: Histogram,
}

impl ThreadStats {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "connected": self.connected,
            "sent": {"video": self.sent_video, "audio": self.sent_audio},
            "received": {"video": self.received_video, "audio": self.received_audio},
            "packets": {"video": self.packets_video, "audio": self.packets_audio},
            "duplicates": self.duplicates,
            "foreign": self.foreign,
            "sendErrors": self.send_errors,
            "data": {"sent": self.sent_data, "received": self.received_data, "refused": self.data_refused},
            "latency": self.latency.buckets(),
        })
    }
}

/// One thread: its sockets (the first shared by its connections, then
/// those of connections with a socket of their own), its connections,
/// their timers.
pub(crate) struct ClientThread {
    /// Each socket, at the index of its mio token, with its address.
    pub(crate) sockets: Vec<(mio::net::UdpSocket, SocketAddr)>,
    pub(crate) registry: Option<mio::Registry>,
    pub(crate) certificate: DtlsCert,
    pub(crate) connections: Vec<Connection>,
    /// (socket, server address) → connection.
    pub(crate) by_address: HashMap<(usize, SocketAddr), usize>,
    pub(crate) timers: BinaryHeap<Reverse<(Instant, usize)>>,
    pub(crate) stats: ThreadStats,
    pub(crate) window: Arc<Window>,
    pub(crate) out: Sender<Message>,
    pub(crate) buffer: Vec<u8>,
}

impl ClientThread {
    pub(crate) fn run(mut self, commands: Receiver<Command>) {
        let mut poll = match mio::Poll::new() {
            Ok(poll) => poll,
            Err(err) => return eprintln!("poll: {err}"),
        };
        if let Err(err) =
            poll.registry()
                .register(&mut self.sockets[0].0, mio::Token(0), mio::Interest::READABLE)
        {
            return eprintln!("register: {err}");
        }
        match poll.registry().try_clone() {
            Ok(registry) => self.registry = Some(registry),
            Err(err) => return eprintln!("registry: {err}"),
        }
        let mut events = mio::Events::with_capacity(1024);
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Connect(connect)) => self.connect(&connect),
                    Ok(Command::Stats(reply)) => {
                        let _ = reply.send(self.stats.to_json());
                    }
                    Ok(Command::Reset) => {
                        self.stats = ThreadStats {
                            connections: self.stats.connections,
                            connected: self.stats.connected,
                            ..ThreadStats::default()
                        };
                    }
                    Ok(Command::Quit) | Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                }
            }
            let now = Instant::now();
            self.send_media(now);
            self.fire_timers(now);
            let mut next = now + Duration::from_millis(5);
            if let Some(Reverse((due, _))) = self.timers.peek() {
                next = next.min(*due);
            }
            for connection in &self.connections {
                for outgoing in &connection.outgoing {
                    next = next.min(outgoing.next_at);
                }
                if let Some(data) = connection.data.as_ref().filter(|data| data.open && data.interval.is_some()) {
                    next = next.min(data.next_at);
                }
            }
            let wait = next.saturating_duration_since(Instant::now());
            if let Err(err) = poll.poll(&mut events, Some(wait)) {
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return eprintln!("poll: {err}");
                }
            }
            for event in events.iter() {
                self.receive(event.token().0);
            }
        }
    }

    pub(crate) fn connect(&mut self, connect: &Connect) {
        let now = Instant::now();
        let socket = if connect.own_socket {
            match self.open_socket() {
                Ok(socket) => socket,
                Err(err) => {
                    let message = json!({"event": "error", "id": connect.id, "message": format!("socket: {err}")});
                    let _ = self.out.send(Message::Out(message));
                    return;
                }
            }
        } else {
            0
        };
        match build_connection(connect, &self.certificate, self.sockets[socket].1, now) {
            Ok(mut connection) => {
                connection.socket = socket;
                // str0m starts ICE on its first timeout.
                let _ = connection.rtc.handle_input(Input::Timeout(now));
                let index = self.connections.len();
                self.by_address.insert((socket, connection.server), index);
                self.connections.push(connection);
                self.stats.connections += 1;
                self.drain(index, now);
            }
            Err(err) => {
                let _ = self.out.send(Message::Out(
                    json!({"event": "error", "id": connect.id, "message": err}),
                ));
            }
        }
    }

    /// A socket of its own for a new connection, on the thread's address:
    /// answers its index.
    fn open_socket(&mut self) -> std::io::Result<usize> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(self.sockets[0].1.ip(), 0))?;
        socket.set_nonblocking(true)?;
        crate::enlarge_buffers(&socket);
        let local = socket.local_addr()?;
        let mut socket = mio::net::UdpSocket::from_std(socket);
        let index = self.sockets.len();
        if let Some(registry) = &self.registry {
            registry.register(&mut socket, mio::Token(index), mio::Interest::READABLE)?;
        }
        self.sockets.push((socket, local));
        Ok(index)
    }

    /// Reads socket `token` until it is empty.
    pub(crate) fn receive(&mut self, token: usize) {
        let Some(local) = self.sockets.get(token).map(|(_, local)| *local) else { return };
        loop {
            match self.sockets[token].0.recv_from(&mut self.buffer) {
                Ok((length, source)) => {
                    let now = Instant::now();
                    let Some(&index) = self.by_address.get(&(token, source)) else {
                        self.stats.foreign += 1;
                        continue;
                    };
                    let Ok(receive) =
                        Receive::new(Protocol::Udp, source, local, &self.buffer[..length])
                    else {
                        continue;
                    };
                    let connection = &mut self.connections[index];
                    if connection
                        .rtc
                        .handle_input(Input::Receive(now, receive))
                        .is_err()
                    {
                        continue;
                    }
                    self.drain(index, now);
                }
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    pub(crate) fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse((due, index))) = self.timers.peek().copied() {
            if due > now {
                return;
            }
            self.timers.pop();
            let connection = &mut self.connections[index];
            if connection.scheduled != Some(due) {
                continue;
            }
            connection.scheduled = None;
            if connection.rtc.handle_input(Input::Timeout(now)).is_ok() {
                self.drain(index, now);
            }
        }
    }

    pub(crate) fn send_media(&mut self, now: Instant) {
        self.send_data(now);
        for index in 0..self.connections.len() {
            let connection = &mut self.connections[index];
            if !connection.connected || connection.outgoing.is_empty() {
                continue;
            }
            let mut wrote = false;
            for outgoing in &mut connection.outgoing {
                while outgoing.next_at <= now {
                    let sent_ns = nanos_since_epoch(now);
                    outgoing.next_at += outgoing.source.interval();
                    let packets = outgoing.source.next(sent_ns);
                    if let (Source::ClipVideo(_), Some(first)) = (&outgoing.source, packets.first())
                    {
                        // A clip's unit is the frame: its arrival is matched by timestamp.
                        self.window.frame_sent(first.timestamp, sent_ns);
                        if self.window.contains(sent_ns) {
                            self.stats.sent_video += 1;
                        }
                    } else if outgoing.counted && self.window.contains(sent_ns) {
                        if outgoing.video {
                            self.stats.sent_video += packets.len() as u64;
                        } else {
                            self.stats.sent_audio += packets.len() as u64;
                        }
                    }
                    let mut api = connection.rtc.direct_api();
                    let Some(stream) = api.stream_tx(&Ssrc::from(outgoing.ssrc)) else {
                        break;
                    };
                    for packet in packets {
                        let write = RtpWrite::new(
                            Pt::from(outgoing.pt),
                            SeqNo::from(outgoing.sequence),
                            packet.timestamp,
                            now,
                            Arc::<[u8]>::from(packet.payload),
                        )
                        .marker(packet.marker)
                        .nackable(outgoing.video);
                        stream.write_rtp(write);
                        outgoing.sequence += 1;
                    }
                    wrote = true;
                }
            }
            if wrote && connection.rtc.handle_input(Input::Timeout(now)).is_ok() {
                self.drain(index, now);
            }
        }
    }

    /// A publisher's data-channel messages that are due: its send time and
    /// sequence number, then padding to the message size.
    fn send_data(&mut self, now: Instant) {
        for index in 0..self.connections.len() {
            let connection = &mut self.connections[index];
            let Some(data) = connection.data.as_mut().filter(|data| data.open) else { continue };
            let Some(interval) = data.interval else { continue };
            let mut wrote = false;
            while data.next_at <= now {
                data.next_at += interval;
                let sent_ns = nanos_since_epoch(now);
                let mut message = vec![0u8; data.size];
                message[..8].copy_from_slice(&sent_ns.to_be_bytes());
                message[8..16].copy_from_slice(&data.sequence.to_be_bytes());
                data.sequence += 1;
                let accepted = connection.rtc.channel(data.channel).is_some_and(|mut channel| matches!(channel.write(true, &message), Ok(true)));
                if !accepted {
                    self.stats.data_refused += 1;
                } else if self.window.contains(sent_ns) {
                    self.stats.sent_data += 1;
                }
                wrote = true;
            }
            if wrote && connection.rtc.handle_input(Input::Timeout(now)).is_ok() {
                self.drain(index, now);
            }
        }
    }

    /// Polls a connection until its next timeout: datagrams leave, events are counted.
    pub(crate) fn drain(&mut self, index: usize, now: Instant) {
        loop {
            let connection = &mut self.connections[index];
            match connection.rtc.poll_output() {
                Ok(Output::Transmit(transmit)) => {
                    if self.sockets[connection.socket]
                        .0
                        .send_to(&transmit.contents, transmit.destination)
                        .is_err()
                    {
                        self.stats.send_errors += 1;
                    }
                }
                Ok(Output::Timeout(due)) => {
                    if connection.scheduled.is_none_or(|scheduled| due < scheduled) {
                        connection.scheduled = Some(due);
                        self.timers.push(Reverse((due, index)));
                    }
                    return;
                }
                Ok(Output::Event(event)) => self.on_event(index, event, now),
                Err(_) => return,
            }
        }
    }

    pub(crate) fn on_event(&mut self, index: usize, event: Event, now: Instant) {
        let connection = &mut self.connections[index];
        match event {
            Event::Connected => {
                connection.connected = true;
                self.stats.connected += 1;
                let ms = now
                    .saturating_duration_since(connection.started)
                    .as_secs_f64()
                    * 1000.0;
                for outgoing in &mut connection.outgoing {
                    outgoing.next_at = now;
                }
                let _ = self.out.send(Message::Out(
                    json!({"event": "connected", "id": connection.id, "ms": ms}),
                ));
            }
            Event::ChannelOpen(channel, _) => {
                if let Some(data) = connection.data.as_mut().filter(|data| data.channel == channel) {
                    data.open = true;
                    data.next_at = now;
                }
            }
            Event::ChannelData(message) => {
                let Some(data) = connection.data.as_mut() else { return };
                let (Some(sent), Some(sequence)) = (message.data.get(..8), message.data.get(8..16)) else { return };
                let sent_ns = u64::from_be_bytes(sent.try_into().unwrap_or_default());
                let sequence = u64::from_be_bytes(sequence.try_into().unwrap_or_default());
                if !self.window.contains(sent_ns) {
                    return;
                }
                if !data.seen.first_time(sequence as u32) {
                    self.stats.duplicates += 1;
                    return;
                }
                self.stats.received_data += 1;
                self.stats.latency.record(nanos_since_epoch(now).saturating_sub(sent_ns) / 1000);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                let _ = self.out.send(Message::Out(
                    json!({"event": "disconnected", "id": connection.id}),
                ));
            }
            Event::RtpPacket(packet) => {
                let now_ns = nanos_since_epoch(now);
                let video = connection.video_ssrc == Some(*packet.header.ssrc);
                if self.window.contains(now_ns) {
                    if video {
                        self.stats.packets_video += 1;
                    } else {
                        self.stats.packets_audio += 1;
                    }
                }
                if connection.frames {
                    // A clip's media: a video frame arrived with its last packet.
                    if !video {
                        if self.window.contains(now_ns) {
                            self.stats.received_audio += 1;
                        }
                        return;
                    }
                    let timestamp = packet.header.timestamp;
                    let Some(sent_ns) = self
                        .window
                        .frame_sent_at(timestamp)
                        .filter(|sent| packet.header.marker && self.window.contains(*sent))
                    else {
                        return;
                    };
                    if !connection
                        .video
                        .seen
                        .first_time(timestamp / TICKS_PER_FRAME)
                    {
                        self.stats.duplicates += 1;
                        return;
                    }
                    self.stats.received_video += 1;
                    self.stats
                        .latency
                        .record(now_ns.saturating_sub(sent_ns) / 1000);
                    return;
                }
                let Some(trailer) = crate::payload::read_trailer(&packet.payload) else {
                    return;
                };
                if !self.window.contains(trailer.sent_ns) {
                    return;
                }
                let incoming = if trailer.video {
                    &mut connection.video
                } else {
                    &mut connection.audio
                };
                if !incoming.seen.first_time(trailer.sequence) {
                    self.stats.duplicates += 1;
                    return;
                }
                if trailer.video {
                    self.stats.received_video += 1;
                } else {
                    self.stats.received_audio += 1;
                }
                let micros = nanos_since_epoch(now).saturating_sub(trailer.sent_ns) / 1000;
                self.stats.latency.record(micros);
            }
            _ => {}
        }
    }
}
