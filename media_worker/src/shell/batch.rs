//! Batched UDP I/O: up to [`BATCH`] datagrams per system call, with
//! `recvmmsg(2)` and `sendmmsg(2)` on Linux (nix's safe wrappers, headers
//! preallocated once); one datagram per call elsewhere. The forwarding path spends most of its system calls here: a
//! busy socket is read 32 datagrams at a time, and what one loop turn
//! produced for a socket leaves in one call.

use std::io;
use std::net::SocketAddr;
use mio::net::UdpSocket;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// The largest datagram read; a longer one (no WebRTC packet is) is dropped.
pub const MAX_DATAGRAM: usize = 4096;

/// Buffers for `recvmmsg`, reused from call to call.
pub struct RecvBatch {
    buffers: Vec<u8>,
    lengths: [usize; BATCH],
    sources: [Option<SocketAddr>; BATCH],
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self {
            buffers: vec![0; BATCH * MAX_DATAGRAM],
            lengths: [0; BATCH],
            sources: [None; BATCH],
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
        }
    }
}

impl RecvBatch {
    /// Reads up to [`BATCH`] datagrams from `socket`.
    /// Answers how many; `WouldBlock` when there is none. Truncated
    /// datagrams, and ones from an address that is not IP, come back with
    /// no source and are to be skipped.
    pub fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            linux::recv(self, socket)
        }
        #[cfg(not(target_os = "linux"))]
        {
            portable::recv(self, socket)
        }
    }

    /// Datagram `index` of the last [`Self::recv`]: its bytes and its source.
    pub fn get(&self, index: usize) -> Option<(&[u8], SocketAddr)> {
        let source = self.sources.get(index).copied().flatten()?;
        let start = index * MAX_DATAGRAM;
        Some((&self.buffers[start..start + self.lengths[index]], source))
    }
}

/// Headers and destinations for `sendmmsg`, reused from call to call.
pub struct SendBatch {
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    /// As many as the call sends (a socket address is 128 bytes: a call
    /// of one datagram, a pipe's, writes one, not [`BATCH`]).
    #[cfg(target_os = "linux")]
    addresses: Vec<Option<nix::sys::socket::SockaddrStorage>>,
}

impl Default for SendBatch {
    fn default() -> Self {
        Self {
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(BATCH, None),
            #[cfg(target_os = "linux")]
            addresses: Vec::with_capacity(BATCH),
        }
    }
}

impl SendBatch {
    /// Sends `datagrams` (destination, bytes) from `socket`, in as few
    /// system calls as it takes. Answers how many left. A
    /// full socket buffer loses the rest (`WouldBlock` if none left); a
    /// datagram that cannot leave for another reason is skipped.
    pub fn send(&mut self, socket: &UdpSocket, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            linux::send(self, socket, datagrams)
        }
        #[cfg(not(target_os = "linux"))]
        {
            portable::send(socket, datagrams)
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{RecvBatch, SendBatch, BATCH, MAX_DATAGRAM};
    use nix::errno::Errno;
    use nix::sys::socket::{recvmmsg, sendmmsg, ControlMessage, MsgFlags, SockaddrStorage};
    use std::io::{self, IoSlice, IoSliceMut};
    use mio::net::UdpSocket;
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    pub fn recv(batch: &mut RecvBatch, socket: &UdpSocket) -> io::Result<usize> {
        let fd = socket.as_raw_fd();
        let mut chunks = batch.buffers.chunks_exact_mut(MAX_DATAGRAM);
        let mut slices: [[IoSliceMut; 1]; BATCH] = std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())]);
        let results = recvmmsg(fd, &mut batch.headers, slices.iter_mut(), MsgFlags::MSG_DONTWAIT, None).map_err(io::Error::from)?;
        let mut count = 0;
        for (index, message) in results.enumerate() {
            let truncated = message.flags.contains(MsgFlags::MSG_TRUNC);
            batch.lengths[index] = message.bytes.min(MAX_DATAGRAM);
            batch.sources[index] = if truncated { None } else { message.address.as_ref().and_then(socket_address) };
            count = index + 1;
        }
        Ok(count)
    }

    pub fn send(batch: &mut SendBatch, socket: &UdpSocket, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        let fd = socket.as_raw_fd();
        let mut sent = 0;
        let mut next = 0;
        while next < datagrams.len() {
            let chunk = &datagrams[next..datagrams.len().min(next + BATCH)];
            let slices: [[IoSlice; 1]; BATCH] = std::array::from_fn(|index| [IoSlice::new(chunk.get(index).map_or(&[][..], |(_, bytes)| bytes))]);
            batch.addresses.clear();
            batch.addresses.extend(chunk.iter().map(|(destination, _)| Some(SockaddrStorage::from(*destination))));
            let no_control: [ControlMessage; 0] = [];
            match sendmmsg(fd, &mut batch.headers, slices[..chunk.len()].iter(), &batch.addresses, no_control, MsgFlags::MSG_DONTWAIT) {
                Ok(results) => {
                    let count = results.count();
                    sent += count;
                    next += count.max(1);
                }
                // The socket buffer is full: the rest is lost, as UDP may be.
                Err(Errno::EAGAIN) => return if sent > 0 { Ok(sent) } else { Err(io::Error::from(Errno::EAGAIN)) },
                Err(Errno::EINTR) => {}
                // This datagram cannot leave (an unreachable destination…): skip it, not the others.
                Err(_) => next += 1,
            }
        }
        Ok(sent)
    }

    fn socket_address(storage: &SockaddrStorage) -> Option<SocketAddr> {
        if let Some(v4) = storage.as_sockaddr_in() {
            return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
        }
        storage.as_sockaddr_in6().map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
    }
}

#[cfg(not(target_os = "linux"))]
mod portable {
    use super::{RecvBatch, BATCH, MAX_DATAGRAM};
    use mio::net::UdpSocket;
    use std::io;
    use std::net::SocketAddr;

    pub fn recv(batch: &mut RecvBatch, socket: &UdpSocket) -> io::Result<usize> {
        let mut count = 0;
        while count < BATCH {
            let buffer = &mut batch.buffers[count * MAX_DATAGRAM..(count + 1) * MAX_DATAGRAM];
            match socket.recv_from(buffer) {
                Ok((len, source)) => {
                    batch.lengths[count] = len.min(MAX_DATAGRAM);
                    batch.sources[count] = (len <= MAX_DATAGRAM).then_some(source);
                    count += 1;
                }
                Err(error) if count == 0 => return Err(error),
                Err(_) => break,
            }
        }
        Ok(count)
    }

    pub fn send(socket: &UdpSocket, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        let mut sent = 0;
        for (destination, bytes) in datagrams {
            match socket.send_to(bytes, *destination) {
                Ok(_) => sent += 1,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return if sent > 0 { Ok(sent) } else { Err(error) },
                Err(_) => {}
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
mod tests;
