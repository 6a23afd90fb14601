//! The extension's end of a worker's media path
//! ([`media_worker::channel::media`]): the RTP and data messages of direct
//! transports, on a socket pair of its own beside the Channel. The worker's end is placed at
//! its fd [`MEDIA_FD`] when it is spawned.
//!
//! From the worker: a task reads frames as they come and gathers them in an
//! inbox; the first frame of a batch schedules one call of `on_media()` on
//! the event loop, which takes the whole batch (`take_media()`): one
//! crossing into Python per batch, not per packet. The inbox is bounded:
//! while Python does not take it, the task stops reading, the socket fills,
//! and the worker's direct transports drop (and count) what does not fit
//! their queues. Nothing else waits.
//!
//! To the worker: `send_media()` (a packet) and `send_media_data()` (a
//! message) append a frame to an outbox and wake a writer task, which
//! writes everything queued in one call; a full outbox (the worker does not
//! keep up) refuses the frame.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};

use media_worker::channel::media::{encode_media_frame, FrameKind, MediaFrameReader, MAX_MEDIA_PAYLOAD, MEDIA_FD};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Notify;

/// Bytes of frames gathered for Python before reading stops.
const INBOX_LIMIT: usize = 1024 * 1024;
/// Bytes of frames queued for the worker before `send_media` refuses one.
const OUTBOX_LIMIT: usize = 4 * 1024 * 1024;

/// A frame for Python.
struct Received {
    kind: FrameKind,
    transport: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

#[derive(Default)]
struct Inbox {
    frames: Vec<Received>,
    bytes: usize,
    /// An `on_media()` call is on its way.
    scheduled: bool,
}

#[derive(Default)]
struct Outbox {
    bytes: Vec<u8>,
    closed: bool,
}

/// The extension's end of one worker's media path.
pub struct MediaPath {
    inbox: Mutex<Inbox>,
    /// Python took the inbox: reading may go on.
    taken: Notify,
    outbox: Mutex<Outbox>,
    /// Frames were queued for the worker, or the path closed.
    queued: Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The socket pair: the extension's end and the worker's (which
/// [`place_worker_end`] moves to [`MEDIA_FD`] in the child).
pub fn socket_pair() -> std::io::Result<(std::os::unix::net::UnixStream, OwnedFd)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    Ok((ours, OwnedFd::from(theirs)))
}

/// In the child, between fork and exec: the worker's end at [`MEDIA_FD`],
/// inherited by the worker (not close-on-exec). Only async-signal-safe calls.
pub fn place_worker_end(theirs: i32) -> std::io::Result<()> {
    // SAFETY: plain descriptor calls on descriptors of this (child) process.
    let placed = unsafe {
        if theirs == MEDIA_FD {
            nix::libc::fcntl(MEDIA_FD, nix::libc::F_SETFD, 0)
        } else {
            nix::libc::dup2(theirs, MEDIA_FD)
        }
    };
    if placed < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl MediaPath {
    /// Starts the reader and writer tasks on the extension's end; the
    /// reader calls `on_media()` on `event_loop` when a batch waits.
    pub fn start(ours: std::os::unix::net::UnixStream, event_loop: Py<PyAny>, on_media: Py<PyAny>) -> std::io::Result<Arc<Self>> {
        let runtime = pyo3_async_runtimes::tokio::get_runtime();
        let _entered = runtime.enter();
        let stream = tokio::net::UnixStream::from_std(ours)?;
        let (reader, writer) = stream.into_split();
        let path = Arc::new(Self { inbox: Mutex::default(), taken: Notify::new(), outbox: Mutex::default(), queued: Notify::new() });
        runtime.spawn(path.clone().read(reader, event_loop, on_media));
        runtime.spawn(path.clone().write(writer));
        Ok(path)
    }

    async fn read(self: Arc<Self>, mut reader: OwnedReadHalf, event_loop: Py<PyAny>, on_media: Py<PyAny>) {
        let mut frames = MediaFrameReader::default();
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            // Wait while Python has a full inbox to take.
            loop {
                let taken = self.taken.notified();
                if lock(&self.inbox).bytes < INBOX_LIMIT {
                    break;
                }
                taken.await;
            }
            let len = match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(len) => len,
            };
            frames.push(&buffer[..len]);
            let schedule = {
                let mut inbox = lock(&self.inbox);
                while let Some(frame) = frames.next_frame() {
                    match frame {
                        Ok(frame) => {
                            inbox.bytes += frame.payload.len();
                            inbox.frames.push(Received { kind: frame.kind, transport: frame.transport, ssrc: frame.ssrc, payload: frame.payload.to_vec() });
                        }
                        Err(reason) => tracing::warn!("media path from a worker: {reason}"),
                    }
                }
                let schedule = !inbox.scheduled && !inbox.frames.is_empty();
                inbox.scheduled |= schedule;
                schedule
            };
            if schedule {
                let called = crate::interpreter::attach(|py| event_loop.bind(py).call_method1("call_soon_threadsafe", (on_media.bind(py),)).is_ok());
                if called != Some(true) {
                    // The event loop is gone: the server is closing.
                    return;
                }
            }
        }
    }

    async fn write(self: Arc<Self>, mut writer: OwnedWriteHalf) {
        let mut writing = Vec::new();
        loop {
            let queued = self.queued.notified();
            {
                let mut outbox = lock(&self.outbox);
                if outbox.closed {
                    return;
                }
                std::mem::swap(&mut writing, &mut outbox.bytes);
            }
            if writing.is_empty() {
                queued.await;
                continue;
            }
            if let Err(err) = writer.write_all(&writing).await {
                tracing::debug!("media path write failed: {err}");
                return;
            }
            writing.clear();
        }
    }

    /// The frames gathered since the last call, as `(kind, handle, ssrc,
    /// payload)` tuples (kind 1: RTP, 2: keyframe request, 3: data; see
    /// [`FrameKind`]).
    pub fn take<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let frames = {
            let mut inbox = lock(&self.inbox);
            inbox.scheduled = false;
            inbox.bytes = 0;
            std::mem::take(&mut inbox.frames)
        };
        self.taken.notify_one();
        let list = PyList::empty(py);
        for frame in frames {
            let payload = PyBytes::new(py, &frame.payload);
            list.append(PyTuple::new(py, [(frame.kind as u8).into_pyobject(py)?.into_any(), frame.transport.into_pyobject(py)?.into_any(), frame.ssrc.into_pyobject(py)?.into_any(), payload.into_any()])?)?;
        }
        Ok(list)
    }

    /// Queues a frame for direct transport `handle`; false if the outbox
    /// is full (the worker does not keep up) or the path is closed.
    pub fn send(&self, kind: FrameKind, handle: u32, ssrc: u32, payload: &[u8]) -> bool {
        debug_assert!(payload.len() <= MAX_MEDIA_PAYLOAD);
        let wake = {
            let mut outbox = lock(&self.outbox);
            if outbox.closed || outbox.bytes.len() + payload.len() > OUTBOX_LIMIT {
                return false;
            }
            let wake = outbox.bytes.is_empty();
            encode_media_frame(kind, handle, ssrc, payload, &mut outbox.bytes);
            wake
        };
        if wake {
            self.queued.notify_one();
        }
        true
    }

    /// Stops the writer (the worker reads EOF on its media path).
    pub fn close(&self) {
        lock(&self.outbox).closed = true;
        self.queued.notify_one();
    }
}
