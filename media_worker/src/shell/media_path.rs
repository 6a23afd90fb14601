//! The worker's end of the media path ([`crate::channel::media`]): a Unix
//! socket the extension placed at fd [`MEDIA_FD`]. What Python writes is
//! handed to the worker as it arrives; what the worker queued for Python is
//! written a budget at a time, so that when Python does not read, the
//! frames wait (bounded) in the worker's direct transports, where they are
//! dropped and counted, and nothing else in the loop waits.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd};
use std::time::Instant;

use mio::{Interest, Registry, Token};

use crate::channel::media::{MEDIA_FD, MEDIA_FD_ENV};
use crate::worker::Worker;

/// Frames taken from the worker but not written yet, at most: what one
/// socket buffer takes, so frames wait in their (bounded, counted) queues.
const WRITE_BUDGET: usize = 256 * 1024;

pub const MEDIA: Token = Token(usize::MAX);

pub struct MediaPath {
    stream: mio::net::UnixStream,
    outgoing: Vec<u8>,
    /// Where the unwritten bytes of `outgoing` start.
    written: usize,
    read_buffer: Vec<u8>,
    waiting_writable: bool,
}

impl MediaPath {
    /// The media socket the extension gave, registered with `registry`; None
    /// when the worker was started without one (direct transports are then refused).
    pub fn from_environment(registry: &Registry) -> Result<Option<Self>, String> {
        if std::env::var(MEDIA_FD_ENV).ok().as_deref() != Some(&MEDIA_FD.to_string()) {
            return Ok(None);
        }
        // SAFETY: the descriptor is only inspected here; it is owned below
        // once known to be a socket (the extension placed it, open, at MEDIA_FD).
        let borrowed = unsafe { BorrowedFd::borrow_raw(MEDIA_FD) };
        let stat = nix::sys::stat::fstat(borrowed).map_err(|err| format!("the media path (fd {MEDIA_FD}) cannot be inspected: {err}"))?;
        if stat.st_mode & nix::libc::S_IFMT != nix::libc::S_IFSOCK {
            return Err(format!("fd {MEDIA_FD} is not the media path socket"));
        }
        // SAFETY: a socket at MEDIA_FD that nothing else in the process owns.
        let owned = unsafe { OwnedFd::from_raw_fd(MEDIA_FD) };
        let stream = std::os::unix::net::UnixStream::from(owned);
        stream.set_nonblocking(true).map_err(|err| format!("cannot make the media path non-blocking: {err}"))?;
        let mut stream = mio::net::UnixStream::from_std(stream);
        registry.register(&mut stream, MEDIA, Interest::READABLE).map_err(|err| format!("cannot poll the media path: {err}"))?;
        Ok(Some(Self { stream, outgoing: Vec::new(), written: 0, read_buffer: vec![0; 256 * 1024], waiting_writable: false }))
    }

    /// Hands what Python wrote to the worker; true once Python closed its end.
    pub fn read(&mut self, worker: &mut Worker, now: Instant) -> bool {
        loop {
            match self.stream.read(&mut self.read_buffer) {
                Ok(0) => return true,
                Ok(len) => worker.handle_media(&self.read_buffer[..len], now),
                Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => {
                    tracing::error!("reading the media path failed: {err}");
                    return true;
                }
            }
        }
    }

    /// Writes what the worker queued for Python while the socket takes it.
    pub fn write(&mut self, worker: &mut Worker, registry: &Registry) -> std::io::Result<()> {
        loop {
            let pending = self.outgoing.len() - self.written;
            if pending < WRITE_BUDGET / 2 && worker.has_media() {
                if self.written > 0 {
                    self.outgoing.drain(..self.written);
                    self.written = 0;
                }
                worker.take_media(&mut self.outgoing, WRITE_BUDGET - pending);
            }
            if self.written == self.outgoing.len() {
                break;
            }
            match self.stream.write(&self.outgoing[self.written..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(len) => self.written += len,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
        }
        if self.written == self.outgoing.len() {
            self.outgoing.clear();
            self.written = 0;
        }
        let want_writable = self.written < self.outgoing.len();
        if want_writable != self.waiting_writable {
            let interest = if want_writable { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            registry.reregister(&mut self.stream, MEDIA, interest)?;
            self.waiting_writable = want_writable;
        }
        Ok(())
    }
}
