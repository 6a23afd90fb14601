//! The worker process: the thin shell around [`Worker`], one thread, one mio
//! loop over the Channel, the media path to Python, the media sockets and
//! the transports' timers. It
//! dies with its parent, reads Channel frames from its stdin (a Unix socket,
//! never a terminal), answers each request in order, and forwards
//! notifications and logs.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use std::io::{ErrorKind, Read};
use std::sync::{Arc, Mutex};

use mio::{Events, Interest, Poll, Token};
use tracing_subscriber::layer::SubscriberExt;

use crate::channel::{
    encode_frame, leading_id, Decoded, FrameDecoder, LogRecord, Notification, Request, RequestFrame, Response,
    WorkerMessage, MAX_FRAME_LEN, REQUEST_HEAD,
};
use crate::error::WorkerError;
use crate::channel::logging::{ChannelLayer, LogFilter};
use crate::channel::settings::LogLevel;
use crate::shell::channel_outbox::ChannelOutbox;
use crate::shell::media_path::{MediaPath, MEDIA};
use crate::shell::process::add_process_usage;
use crate::shell::sockets::Sockets;
use crate::worker::{Network, Worker};

/// The environment variable holding the pid of the process that spawned the
/// worker; if the worker's parent is another one, that parent died already.
pub const PARENT_PID_ENV: &str = "MEDIASOUP_PARENT_PID";

/// Runs a worker until its Channel closes; returns the process exit code.
pub fn run_worker() -> i32 {
    if let Err(reason) = die_with_parent() {
        eprintln!("mediasoup worker: {reason}");
        return 1;
    }
    let stream = match channel_from_stdin() {
        Ok(stream) => stream,
        Err(reason) => {
            eprintln!("mediasoup worker: {reason}");
            return 2;
        }
    };
    serve(stream)
}

/// `PR_SET_PDEATHSIG`: the kernel kills the worker when its parent dies, so
/// no worker ever outlives the server (channel EOF covers the rest).
fn die_with_parent() -> Result<(), String> {
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|err| format!("cannot set the parent-death signal: {err}"))?;
    if let Ok(expected) = std::env::var(PARENT_PID_ENV) {
        let parent = nix::unistd::getppid().as_raw().to_string();
        if parent != expected {
            return Err(format!("parent {expected} died before the worker started"));
        }
    }
    Ok(())
}

fn channel_from_stdin() -> Result<std::os::unix::net::UnixStream, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err("started by hand: mediasoup.Server starts workers, with the Channel on stdin".into());
    }
    let fd = stdin
        .as_fd()
        .try_clone_to_owned()
        .map_err(|err| format!("cannot take the Channel from stdin: {err}"))?;
    let stat = nix::sys::stat::fstat(&fd).map_err(|err| format!("cannot inspect stdin: {err}"))?;
    if stat.st_mode & nix::libc::S_IFMT != nix::libc::S_IFSOCK {
        return Err("stdin is not the Channel socket: mediasoup.Server starts workers".into());
    }
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream
        .set_nonblocking(true)
        .map_err(|err| format!("cannot make the Channel non-blocking: {err}"))?;
    Ok(stream)
}

const CHANNEL: Token = Token(0);

fn serve(stream: std::os::unix::net::UnixStream) -> i32 {
    let logs: Arc<Mutex<Vec<LogRecord>>> = Arc::default();
    let sink = logs.clone();
    let log_filter = LogFilter::new(LogLevel::Debug);
    let layer = ChannelLayer::new(log_filter.clone(), move |record| {
        sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(record);
    });
    // Only fails if a subscriber is set already, which nothing else in the worker does.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));

    let setup = || -> Result<(Poll, mio::net::UnixStream, Sockets, Option<MediaPath>), String> {
        let poll = Poll::new().map_err(|err| err.to_string())?;
        let mut channel = mio::net::UnixStream::from_std(stream);
        poll.registry().register(&mut channel, CHANNEL, Interest::READABLE).map_err(|err| err.to_string())?;
        let sockets = Sockets::new(poll.registry().try_clone().map_err(|err| err.to_string())?);
        let media = MediaPath::from_environment(poll.registry())?;
        Ok((poll, channel, sockets, media))
    };
    let (mut poll, mut channel, mut sockets, mut media) = match setup() {
        Ok(parts) => parts,
        Err(err) => {
            eprintln!("mediasoup worker: cannot start the event loop: {err}");
            return 1;
        }
    };
    let mut events = Events::with_capacity(1024);
    let pid = std::process::id();
    let started = Instant::now();
    // The rooms' SSRCs: random enough that two workers' differ.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.subsec_nanos());
    let mut worker = Worker::new(pid, log_filter, started, u64::from(pid) << 32 | u64::from(nanos));
    if media.is_some() {
        worker.enable_media_path();
    }
    let mut decoder = FrameDecoder::new();
    let mut read_buffer = vec![0u8; 64 * 1024];
    let mut outbox = ChannelOutbox::default();
    let mut waiting_writable = false;
    let mut closed = false;
    loop {
        let due = match (worker.next_timeout(), sockets.next_timeout()) {
            (Some(worker_due), Some(sockets_due)) => Some(worker_due.min(sockets_due)),
            (worker_due, sockets_due) => worker_due.or(sockets_due),
        };
        let timeout = due.map(|due| due.saturating_duration_since(Instant::now()));
        if let Err(err) = poll.poll(&mut events, timeout) {
            if err.kind() == ErrorKind::Interrupted {
                continue;
            }
            eprintln!("mediasoup worker: polling failed: {err}");
            return 1;
        }
        let now = Instant::now();
        for event in events.iter() {
            if event.token() == CHANNEL {
                if event.is_readable() || event.is_read_closed() {
                    closed |= read_channel(&mut channel, &mut read_buffer, &mut decoder);
                    while let Some(decoded) = decoder.next_frame() {
                        let response = answer(&mut worker, decoded, now, &mut sockets);
                        // What a request logged is told before its answer.
                        push_logs(&mut outbox, &logs, now);
                        outbox.push(&WorkerMessage::Response(response), now);
                    }
                }
            } else if event.token() == MEDIA {
                if let Some(path) = media.as_mut().filter(|_| event.is_readable() || event.is_read_closed()) {
                    if path.read(&mut worker, now) {
                        // Python's end closed (the server is closing): frames for it stay
                        // in the direct transports' bounded queues until the Channel ends.
                        tracing::debug!("the media path closed");
                        media = None;
                    }
                }
            } else {
                let readable = event.is_readable() || event.is_read_closed();
                sockets.handle_ready(event.token().0, readable, event.is_writable(), &mut worker, now);
            }
        }
        // What was forwarded leaves a chunk of subscribers at a time.
        while worker.flush_writes(now, FLUSH_CHUNK) {
            send_datagrams(&mut worker, &mut sockets);
        }
        worker.handle_timeout(now);
        sockets.handle_timeout(now);
        send_datagrams(&mut worker, &mut sockets);
        if let Some(path) = media.as_mut() {
            if let Err(err) = path.write(&mut worker, poll.registry()) {
                tracing::error!("writing the media path failed: {err}");
                media = None;
            }
        }
        for notification in worker.take_notifications() {
            outbox.push(&WorkerMessage::Notification(notification), now);
        }
        push_logs(&mut outbox, &logs, now);
        if outbox.write(&mut channel).is_err() {
            return 1;
        }
        // Told once the write has made room (or a flood has lasted): an
        // error record, never dropped, shown at any logLevel but 'none'.
        if let Some((messages, records)) = outbox.take_dropped(now) {
            tracing::error!("Python did not keep up with the Channel: dropped {messages} data-channel messages and {records} log records for it");
            push_logs(&mut outbox, &logs, now);
            if outbox.write(&mut channel).is_err() {
                return 1;
            }
        }
        let want_writable = !outbox.is_empty();
        if want_writable != waiting_writable {
            let interest = if want_writable { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
            if poll.registry().reregister(&mut channel, CHANNEL, interest).is_err() {
                return 1;
            }
            waiting_writable = want_writable;
        }
        if closed && outbox.is_empty() {
            return 0;
        }
    }
}

/// Transports drained (and their datagrams sent) at a time when a loop turn
/// ends: a packet to many subscribers starts leaving after this many are
/// encrypted rather than after all of them.
const FLUSH_CHUNK: usize = 64;

/// Hands what the worker produced to the sockets, and sends it.
fn send_datagrams(worker: &mut Worker, sockets: &mut Sockets) {
    while let Some((key, datagram)) = worker.poll_datagram() {
        sockets.send(key, datagram);
    }
    sockets.flush();
}

/// Reads what the Channel has; true at EOF or on a read error.
fn read_channel(channel: &mut mio::net::UnixStream, buffer: &mut [u8], decoder: &mut FrameDecoder) -> bool {
    loop {
        match channel.read(buffer) {
            Ok(0) => return true,
            Ok(len) => decoder.push(&buffer[..len]),
            Err(err) if err.kind() == ErrorKind::WouldBlock => return false,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                tracing::error!("reading the Channel failed: {err}");
                return true;
            }
        }
    }
}

/// The request a frame holds, or the error answer to a frame that holds
/// none (malformed, over the limit).
pub(crate) fn read_request(decoded: Decoded) -> Result<RequestFrame, Response> {
    let payload = match decoded {
        Decoded::Frame(payload) => payload,
        Decoded::Oversized { len, head } => {
            tracing::warn!("dropped a Channel frame of {len} bytes (limit {MAX_FRAME_LEN})");
            return Err(Response::new(
                leading_id(&head, REQUEST_HEAD),
                Err(WorkerError::value_error(format!(
                    "frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
                ))),
            ));
        }
    };
    RequestFrame::parse(&payload).map_err(|(id, error)| {
        tracing::warn!("malformed Channel frame: {}", error.message);
        Response::new(id, Err(error))
    })
}

/// Answers one frame. A malformed frame, or a request that panics, is an
/// error answer: the worker goes on.
fn answer(worker: &mut Worker, decoded: Decoded, now: Instant, network: &mut dyn Network) -> Response {
    let frame = match read_request(decoded) {
        Ok(frame) => frame,
        Err(response) => return response,
    };
    let id = frame.id;
    let metrics = matches!(frame.request, Request::WorkerGetMetrics);
    let mut result = catch_unwind(AssertUnwindSafe(|| {
        worker.handle_request(frame.request, now, network)
    }))
    .unwrap_or_else(|_| {
        tracing::error!("request {id} panicked; the worker goes on");
        Err(WorkerError::internal(format!("request {id} failed inside the worker")))
    });
    if let (true, Ok(answer)) = (metrics, &mut result) {
        add_process_usage(answer);
    }
    Response::new(Some(id), result)
}

fn log_message(record: LogRecord) -> WorkerMessage {
    WorkerMessage::Notification(Notification::log(&record))
}

/// Queues the log records `tracing` buffered since the last call.
fn push_logs(outbox: &mut ChannelOutbox, logs: &Mutex<Vec<LogRecord>>, now: Instant) {
    let records = std::mem::take(&mut *logs.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    for record in records {
        outbox.push(&log_message(record), now);
    }
}

/// Queues one message. One the Channel cannot carry never leaves: an answer
/// over [`MAX_FRAME_LEN`] becomes an error answer to the same request (the
/// extension would drop it, and its caller wait forever), a notification is
/// dropped with a warning.
pub(crate) fn push_message(outgoing: &mut Vec<u8>, message: &WorkerMessage) {
    let payload = match serde_json::to_vec(message) {
        Ok(payload) => payload,
        Err(err) => return eprintln!("mediasoup worker: cannot encode a Channel message: {err}"),
    };
    if payload.len() <= MAX_FRAME_LEN {
        return encode_frame(&payload, outgoing);
    }
    match message {
        WorkerMessage::Response(response) => {
            let error = WorkerError::internal(format!(
                "the answer ({} bytes) exceeds the Channel's {MAX_FRAME_LEN}-byte frame limit",
                payload.len()
            ));
            push_message(outgoing, &WorkerMessage::Response(Response::new(response.id, Err(error))));
        }
        WorkerMessage::Notification(notification) => {
            tracing::warn!("dropped a {:?} notification of {} bytes (limit {MAX_FRAME_LEN})", notification.event, payload.len());
        }
    }
}

#[cfg(test)]
#[path = "event_loop_tests.rs"]
mod tests;
