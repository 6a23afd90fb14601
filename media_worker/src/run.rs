//! The worker process: the thin shell around [`Worker`]. It dies with its
//! parent, reads Channel frames from its stdin (a Unix socket, never a
//! terminal), answers each request in order and forwards its logs.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt;

use crate::channel::{
    encode_frame, Decoded, FrameDecoder, LogRecord, Notification, RequestFrame, Response,
    WorkerMessage, MAX_FRAME_LEN,
};
use crate::error::WorkerError;
use crate::logging::{ChannelLayer, LogFilter};
use crate::settings::LogLevel;
use crate::worker::Worker;

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
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("mediasoup worker: cannot start the event loop: {err}");
            return 1;
        }
    };
    runtime.block_on(serve(stream))
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

async fn serve(stream: std::os::unix::net::UnixStream) -> i32 {
    let (log_tx, mut log_rx) = mpsc::unbounded_channel::<LogRecord>();
    let log_filter = LogFilter::new(LogLevel::Debug);
    let layer = ChannelLayer::new(log_filter.clone(), move |record| {
        let _ = log_tx.send(record);
    });
    // Only fails if a subscriber is set already, which nothing else in the worker does.
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));

    let stream = match tokio::net::UnixStream::from_std(stream) {
        Ok(stream) => stream,
        Err(err) => {
            eprintln!("mediasoup worker: cannot register the Channel: {err}");
            return 1;
        }
    };
    let (mut reader, mut writer) = stream.into_split();
    let mut worker = Worker::new(std::process::id(), log_filter, Instant::now());
    let mut decoder = FrameDecoder::new();
    let mut read_buffer = vec![0u8; 64 * 1024];
    let mut outgoing = Vec::new();
    let exit_code = loop {
        let mut closed = false;
        tokio::select! {
            biased;
            Some(record) = log_rx.recv() => push_message(&mut outgoing, &log_message(record)),
            read = reader.read(&mut read_buffer) => match read {
                Ok(0) => closed = true,
                Ok(len) => {
                    decoder.push(&read_buffer[..len]);
                    while let Some(decoded) = decoder.next_frame() {
                        let response = answer(&mut worker, decoded);
                        push_message(&mut outgoing, &WorkerMessage::Response(response));
                    }
                }
                Err(err) => {
                    tracing::error!("reading the Channel failed: {err}");
                    closed = true;
                }
            },
        }
        while let Ok(record) = log_rx.try_recv() {
            push_message(&mut outgoing, &log_message(record));
        }
        if !outgoing.is_empty() {
            if writer.write_all(&outgoing).await.is_err() {
                break 1;
            }
            outgoing.clear();
        }
        if closed {
            break 0;
        }
    };
    exit_code
}

/// Answers one frame. A malformed frame, or a request that panics, is an
/// error answer: the worker goes on.
fn answer(worker: &mut Worker, decoded: Decoded) -> Response {
    let payload = match decoded {
        Decoded::Frame(payload) => payload,
        Decoded::Oversized(len) => {
            tracing::warn!("dropped a Channel frame of {len} bytes (limit {MAX_FRAME_LEN})");
            return Response::new(
                None,
                Err(WorkerError::value_error(format!(
                    "frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
                ))),
            );
        }
    };
    let frame = match RequestFrame::parse(&payload) {
        Ok(frame) => frame,
        Err((id, error)) => {
            tracing::warn!("malformed Channel frame: {}", error.message);
            return Response::new(id, Err(error));
        }
    };
    let id = frame.id;
    let result = catch_unwind(AssertUnwindSafe(|| {
        worker.handle_request(frame.request, Instant::now())
    }))
    .unwrap_or_else(|_| {
        tracing::error!("request {id} panicked; the worker goes on");
        Err(WorkerError::internal(format!("request {id} failed inside the worker")))
    });
    Response::new(Some(id), result)
}

fn log_message(record: LogRecord) -> WorkerMessage {
    WorkerMessage::Notification(Notification::log(&record))
}

fn push_message(outgoing: &mut Vec<u8>, message: &WorkerMessage) {
    match serde_json::to_vec(message) {
        Ok(payload) => encode_frame(&payload, outgoing),
        Err(err) => eprintln!("mediasoup worker: cannot encode a Channel message: {err}"),
    }
}
