//! Batched UDP I/O: up to [`BATCH`] datagrams per system call, with
//! `recvmmsg(2)` and `sendmmsg(2)` on Linux; one datagram per call
//! elsewhere. The forwarding path spends most of its system calls here: a
//! busy socket is read 32 datagrams at a time, and what one loop turn
//! produced for a socket leaves in one call.

use std::io;
use std::net::SocketAddr;
#[cfg(not(target_os = "linux"))]
use std::net::UdpSocket;
use std::os::fd::RawFd;

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// The largest datagram read; a longer one (no WebRTC packet is) is dropped.
pub const MAX_DATAGRAM: usize = 4096;

/// Buffers for one `recvmmsg` call, reused from call to call.
pub struct RecvBatch {
    buffers: Vec<u8>,
    lengths: [usize; BATCH],
    sources: [Option<SocketAddr>; BATCH],
}

impl Default for RecvBatch {
    fn default() -> Self {
        Self { buffers: vec![0; BATCH * MAX_DATAGRAM], lengths: [0; BATCH], sources: [None; BATCH] }
    }
}

impl RecvBatch {
    /// Reads up to [`BATCH`] datagrams from the non-blocking socket `fd`.
    /// Answers how many; `WouldBlock` when there is none. Truncated
    /// datagrams, and ones from an address that is not IP, come back with
    /// no source and are to be skipped.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        #[cfg(target_os = "linux")]
        {
            linux::recv(self, fd)
        }
        #[cfg(not(target_os = "linux"))]
        {
            portable::recv(self, fd)
        }
    }

    /// Datagram `index` of the last [`Self::recv`]: its bytes and its source.
    pub fn get(&self, index: usize) -> Option<(&[u8], SocketAddr)> {
        let source = self.sources.get(index).copied().flatten()?;
        let start = index * MAX_DATAGRAM;
        Some((&self.buffers[start..start + self.lengths[index]], source))
    }
}

/// Sends `datagrams` (destination, bytes) from the non-blocking socket `fd`,
/// in as few system calls as it takes. Answers how many left. A full socket
/// buffer loses the rest (`WouldBlock` if none left); a datagram that cannot
/// leave for another reason is skipped.
pub fn send(fd: RawFd, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        linux::send(fd, datagrams)
    }
    #[cfg(not(target_os = "linux"))]
    {
        portable::send(fd, datagrams)
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{RecvBatch, BATCH, MAX_DATAGRAM};
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::RawFd;

    pub fn recv(batch: &mut RecvBatch, fd: RawFd) -> io::Result<usize> {
        // SAFETY: plain C structs; all-zero is a valid value for each.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (index, chunk) in batch.buffers.chunks_exact_mut(MAX_DATAGRAM).enumerate() {
            iovecs[index] = libc::iovec { iov_base: chunk.as_mut_ptr().cast(), iov_len: MAX_DATAGRAM };
        }
        for index in 0..BATCH {
            let header = &mut headers[index].msg_hdr;
            header.msg_name = (&mut names[index] as *mut libc::sockaddr_storage).cast();
            header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = &mut iovecs[index];
            header.msg_iovlen = 1;
        }
        // SAFETY: every header points at a name and an iovec that live until
        // the call returns, and each iovec at its own MAX_DATAGRAM bytes of
        // `batch.buffers`, which is BATCH * MAX_DATAGRAM long.
        let count = unsafe { libc::recvmmsg(fd, headers.as_mut_ptr(), BATCH as libc::c_uint, libc::MSG_DONTWAIT, std::ptr::null_mut()) };
        if count < 0 {
            return Err(io::Error::last_os_error());
        }
        let count = count as usize;
        for index in 0..count {
            let header = &headers[index];
            let truncated = header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
            batch.lengths[index] = (header.msg_len as usize).min(MAX_DATAGRAM);
            batch.sources[index] = if truncated { None } else { from_storage(&names[index]) };
        }
        Ok(count)
    }

    pub fn send(fd: RawFd, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        let mut sent = 0;
        let mut next = 0;
        while next < datagrams.len() {
            let chunk = &datagrams[next..datagrams.len().min(next + BATCH)];
            // SAFETY: as above, all-zero plain C structs.
            let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
            let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
            let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
            for (index, (destination, bytes)) in chunk.iter().enumerate() {
                let name_len = to_storage(*destination, &mut names[index]);
                iovecs[index] = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
                let header = &mut headers[index].msg_hdr;
                header.msg_name = (&mut names[index] as *mut libc::sockaddr_storage).cast();
                header.msg_namelen = name_len;
                header.msg_iov = &mut iovecs[index];
                header.msg_iovlen = 1;
            }
            // SAFETY: the headers point at names, iovecs and datagram bytes
            // that outlive the call; sendmmsg only reads them.
            let count = unsafe { libc::sendmmsg(fd, headers.as_mut_ptr(), chunk.len() as libc::c_uint, libc::MSG_DONTWAIT) };
            if count < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::WouldBlock {
                    // The socket buffer is full: the rest is lost, as UDP may be.
                    return if sent > 0 { Ok(sent) } else { Err(error) };
                }
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // This datagram cannot leave (an unreachable destination…):
                // skip it, not the others.
                next += 1;
                continue;
            }
            sent += count as usize;
            next += count as usize;
        }
        Ok(sent)
    }

    fn to_storage(address: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
        match address {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(v4.ip().octets()) },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin) };
                size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr { s6_addr: v6.ip().octets() },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin6) };
                size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }

    fn from_storage(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match i32::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the storage holds a sockaddr_in.
                let sin = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(sin.sin_port))))
            }
            libc::AF_INET6 => {
                // SAFETY: the family says the storage holds a sockaddr_in6.
                let sin6 = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), sin6.sin6_flowinfo, sin6.sin6_scope_id)))
            }
            _ => None,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod portable {
    use super::{RecvBatch, UdpSocket, BATCH, MAX_DATAGRAM};
    use std::io;
    use std::mem::ManuallyDrop;
    use std::net::SocketAddr;
    use std::os::fd::{FromRawFd, RawFd};

    fn borrow(fd: RawFd) -> ManuallyDrop<UdpSocket> {
        // SAFETY: the socket is only borrowed; ManuallyDrop never closes it.
        ManuallyDrop::new(unsafe { UdpSocket::from_raw_fd(fd) })
    }

    pub fn recv(batch: &mut RecvBatch, fd: RawFd) -> io::Result<usize> {
        let socket = borrow(fd);
        let mut count = 0;
        while count < BATCH {
            let buffer = &mut batch.buffers[count * MAX_DATAGRAM..(count + 1) * MAX_DATAGRAM];
            match socket.recv_from(buffer) {
                Ok((len, source)) => {
                    batch.lengths[count] = len;
                    batch.sources[count] = Some(source);
                    count += 1;
                }
                Err(error) if count == 0 => return Err(error),
                Err(_) => break,
            }
        }
        Ok(count)
    }

    pub fn send(fd: RawFd, datagrams: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
        let socket = borrow(fd);
        let mut sent = 0;
        for (destination, bytes) in datagrams {
            match socket.send_to(bytes, destination) {
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
