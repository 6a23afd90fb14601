//! `WorkerProcess`: one worker process and the extension's end of its
//! Channel. It spawns `python -m mediasoup.worker` with the Channel socket as
//! stdin, sends requests (each answered through an asyncio future, in order),
//! turns log notifications into Python `logging` records, hands the other
//! notifications to a callback on the event loop (in the same queue as the
//! answers, so their order holds), and reports the process's exit. It stops
//! reading while the event loop has too much it has not run
//! ([`crate::notified`]: an application that blocks its loop, a flood of
//! data-channel messages toward a slow listener): the worker then holds the
//! rest, and drops what may be dropped past its own bound
//! (`media_worker::shell::channel_outbox`). Beside the Channel it holds the
//! worker's media path ([`crate::media_path`]).


use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use media_worker::channel::{
    encode_frame, leading_id, Decoded, FrameDecoder, LogRecord, NotificationEvent, Request, RequestFrame,
    WorkerMessage, MAX_FRAME_LEN, MAX_REQUEST_LEN, RESPONSE_HEAD,
};
use media_worker::error::WorkerError;
use media_worker::channel::media::{FrameKind, MAX_RTP_LEN, MEDIA_FD, MEDIA_FD_ENV};
use media_worker::sctp::SCTP_MAX_MESSAGE_SIZE;
use media_worker::shell::event_loop::PARENT_PID_ENV;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyCFunction, PyList};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::errors::{invalid_state, mediasoup_error, to_pyerr};
use crate::media_path::{self, MediaPath};
use crate::notified::Backlog;
use crate::logging::{emit, logger_name};

/// How long a closed worker gets to exit on Channel EOF before it is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

#[pyclass(frozen, module = "mediasoup._mediasoup")]
pub struct WorkerProcess {
    pid: u32,
    shared: Arc<Shared>,
    /// Frames for the writer task; `None` once closed.
    frames: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    /// The `worker.init` frame, which the writer waits for and writes before
    /// any other: requests may be made before the settings are known (the
    /// certificate is read off the event loop). `None` once sent or closed.
    init_frame: Mutex<Option<oneshot::Sender<Vec<u8>>>>,
    kill: Arc<Notify>,
    media: Arc<MediaPath>,
}

struct Shared {
    pid: u32,
    event_loop: Py<PyAny>,
    on_notification: Py<PyAny>,
    on_exit: Py<PyAny>,
    pending: Mutex<Pending>,
    /// Notifications handed to the event loop and not run yet.
    backlog: Arc<Backlog>,
}

#[derive(Default)]
struct Pending {
    next_id: u32,
    /// asyncio futures of the requests not answered yet, and their methods, by request id.
    futures: HashMap<u32, (Py<PyAny>, String)>,
    /// Why the worker is gone, once it is.
    exited: Option<String>,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `callback(*args)` on the server's event loop; a closed loop drops it.
    fn call_soon<'py>(&self, py: Python<'py>, callback: &Bound<'py, PyAny>, args: Vec<Bound<'py, PyAny>>) {
        let mut call_args = vec![callback.clone()];
        call_args.extend(args);
        let tuple = match pyo3::types::PyTuple::new(py, call_args) {
            Ok(tuple) => tuple,
            Err(_) => return,
        };
        if let Err(err) = self.event_loop.bind(py).call_method1("call_soon_threadsafe", tuple) {
            tracing::debug!("worker {}: event loop gone, dropped a callback: {err}", self.pid);
        }
    }

    /// `on_notification(*args)` on the event loop, counted in the backlog
    /// (`size` bytes) until the loop is done with it: run, or dropped
    /// unrun (a loop closed with callbacks pending frees them).
    fn notify_soon<'py>(&self, py: Python<'py>, args: Vec<Bound<'py, PyAny>>, size: usize) {
        let counted = self.backlog.count(size);
        let callback = self.on_notification.clone_ref(py);
        let closure = PyCFunction::new_closure(py, None, None, move |args, _| -> PyResult<()> {
            let _ = &counted;
            callback.bind(args.py()).call1(args.clone()).map(drop)
        });
        match closure {
            Ok(closure) => self.call_soon(py, closure.as_any(), args),
            Err(err) => tracing::warn!("worker {}: a notification dropped: {err}", self.pid),
        }
    }

    fn settle(&self, py: Python<'_>, future: Py<PyAny>, result: Result<Value, PyErr>) {
        let Ok(settle) = SETTLE.import(py, "mediasoup._mediasoup", "_settle") else { return };
        let (error, value) = match result {
            Ok(value) => match pythonize::pythonize(py, &value) {
                Ok(value) => (py.None().into_bound(py), value),
                Err(err) => (PyErr::from(err).into_value(py).into_bound(py).into_any(), py.None().into_bound(py)),
            },
            Err(err) => (err.into_value(py).into_bound(py).into_any(), py.None().into_bound(py)),
        };
        self.call_soon(py, &settle.clone(), vec![future.into_bound(py), error, value]);
    }

    /// One message of the worker, `size` bytes on the Channel.
    fn handle_message(&self, py: Python<'_>, message: Incoming, size: usize) {
        let message = match message {
            Incoming::Message(message) => message,
            Incoming::Unreadable { id, reason } => {
                tracing::error!("worker {} sent a frame that cannot be read: {reason}", self.pid);
                // An answer whose head names its request fails that request.
                if let Some((future, method)) = id.and_then(|id| self.pending().futures.remove(&id)) {
                    let error = mediasoup_error(py, format!("the worker's answer to {method} cannot be delivered: {reason}"));
                    self.settle(py, future, Err(error));
                }
                return;
            }
        };
        match message {
            WorkerMessage::Response(response) => {
                let Some(id) = response.id else {
                    let reason = response.error.map(|err| err.message).unwrap_or_default();
                    tracing::warn!("worker {} could not read a frame: {reason}", self.pid);
                    return;
                };
                let Some((future, _)) = self.pending().futures.remove(&id) else {
                    tracing::warn!("worker {} answered unknown request {id}", self.pid);
                    return;
                };
                let result = match response.error {
                    Some(error) => Err(to_pyerr(py, error)),
                    None => Ok(response.data.unwrap_or(Value::Null)),
                };
                self.settle(py, future, result);
            }
            WorkerMessage::Notification(notification) => match notification.event {
                NotificationEvent::Log => match serde_json::from_value::<LogRecord>(notification.data) {
                    Ok(record) => {
                        let message = format!("[worker {}] {}", self.pid, record.message);
                        emit(py, &worker_logger_name(&record.target), &record.level, &message);
                    }
                    Err(err) => tracing::warn!("worker {} sent a bad log record: {err}", self.pid),
                },
                event => {
                    let name = serde_json::to_value(event).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                    let args = (|| -> PyResult<Vec<Bound<'_, PyAny>>> {
                        Ok(vec![
                            name.as_str().into_pyobject(py)?.into_any(),
                            notification.target_id.into_pyobject(py)?.into_any(),
                            pythonize::pythonize(py, &notification.data)?,
                        ])
                    })();
                    match args {
                        Ok(args) => self.notify_soon(py, args, size),
                        Err(err) => tracing::warn!("worker {}: notification {name} dropped: {err}", self.pid),
                    }
                }
            },
        }
    }

    /// Fails every request still waiting and reports the exit, once.
    fn exited(&self, status: std::io::Result<ExitStatus>) {
        let (code, signal, description) = describe_exit(status);
        let futures: Vec<_> = {
            let mut pending = self.pending();
            pending.exited = Some(description.clone());
            pending.futures.drain().map(|(_, (future, _))| future).collect()
        };
        crate::interpreter::attach(|py| {
            for future in futures {
                let error = mediasoup_error(py, format!("worker {} {description}", self.pid));
                self.settle(py, future, Err(error));
            }
            let args = vec![
                code.into_pyobject(py).map(|c| c.into_any()).unwrap_or_else(|_| py.None().into_bound(py)),
                signal.into_pyobject(py).map(|s| s.into_any()).unwrap_or_else(|_| py.None().into_bound(py)),
                description.into_pyobject(py).map(|d| d.into_any()).unwrap_or_else(|_| py.None().into_bound(py)),
            ];
            self.call_soon(py, &self.on_exit.bind(py).clone(), args);
        });
    }
}

static SETTLE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Resolves an asyncio future from the event loop: `error` or `value`.
#[pyfunction]
pub fn _settle(future: &Bound<'_, PyAny>, error: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if error.is_none() {
        future.call_method1("set_result", (value,))?;
    } else {
        future.call_method1("set_exception", (error,))?;
    }
    Ok(())
}

/// Worker log targets: the worker's own modules as in [`logger_name`], the
/// crates it uses (str0m…) under `mediasoup.worker.<crate>`.
fn worker_logger_name(target: &str) -> String {
    if target.starts_with("media_worker") {
        logger_name(target)
    } else {
        let krate = target.split("::").next().unwrap_or("unknown");
        format!("mediasoup.worker.{krate}")
    }
}

fn describe_exit(status: std::io::Result<ExitStatus>) -> (Option<i32>, Option<String>, String) {
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => (Some(code), None, format!("exited with code {code}")),
            (None, Some(signal)) => {
                let name = nix::sys::signal::Signal::try_from(signal)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|_| format!("signal {signal}"));
                (None, Some(name.clone()), format!("was killed by {name}"))
            }
            (None, None) => (None, None, "exited".to_owned()),
        },
        Err(err) => (None, None, format!("could not be waited for: {err}")),
    }
}

#[pymethods]
impl WorkerProcess {
    /// Starts `executable -m mediasoup.worker` with the Channel on its stdin.
    /// `on_notification(event, target_id, data)` and `on_exit(code, signal,
    /// description)` are called on the running event loop.
    #[staticmethod]
    /// `on_media()` is called on the event loop when frames of the media
    /// path wait in `take_media()`.
    #[pyo3(signature = (executable, python_path, on_notification, on_exit, on_media))]
    fn spawn(
        py: Python<'_>,
        executable: &str,
        python_path: Option<&str>,
        on_notification: Py<PyAny>,
        on_exit: Py<PyAny>,
        on_media: Py<PyAny>,
    ) -> PyResult<Self> {
        let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?.unbind();
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|err| mediasoup_error(py, format!("cannot create the Channel socket: {err}")))?;
        ours.set_nonblocking(true)
            .map_err(|err| mediasoup_error(py, format!("cannot set up the Channel socket: {err}")))?;

        let (media_ours, media_theirs) = media_path::socket_pair()
            .map_err(|err| mediasoup_error(py, format!("cannot create the media path socket: {err}")))?;
        let media_fd = media_theirs.as_raw_fd();

        let runtime = pyo3_async_runtimes::tokio::get_runtime();
        let _entered = runtime.enter();
        let mut command = tokio::process::Command::new(executable);
        command
            .args(["-m", "mediasoup.worker"])
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .env(MEDIA_FD_ENV, MEDIA_FD.to_string())
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(path) = python_path {
            let inherited = std::env::var("PYTHONPATH").unwrap_or_default();
            let joined = if inherited.is_empty() { path.to_owned() } else { format!("{path}:{inherited}") };
            command.env("PYTHONPATH", joined);
        }
        // SAFETY: the closure runs in the child between fork and exec and
        // makes only async-signal-safe calls (fcntl or dup2).
        unsafe {
            command.pre_exec(move || media_path::place_worker_end(media_fd));
        }
        let mut child = command
            .spawn()
            .map_err(|err| mediasoup_error(py, format!("cannot start a worker with '{executable}': {err}")))?;
        drop(media_theirs);
        let media = MediaPath::start(media_ours, event_loop.clone_ref(py), on_media)
            .map_err(|err| mediasoup_error(py, format!("cannot register the media path socket: {err}")))?;
        let pid = child.id().unwrap_or_default();
        let stream = tokio::net::UnixStream::from_std(ours)
            .map_err(|err| mediasoup_error(py, format!("cannot register the Channel socket: {err}")))?;
        let (reader, writer) = stream.into_split();
        let (frames_tx, frames_rx) = mpsc::unbounded_channel();
        let (init_tx, init_rx) = oneshot::channel();
        let shared = Arc::new(Shared {
            pid,
            event_loop,
            on_notification,
            on_exit,
            pending: Mutex::new(Pending::default()),
            backlog: Arc::default(),
        });
        let kill = Arc::new(Notify::new());

        runtime.spawn(write_frames(writer, init_rx, frames_rx));
        let reading = runtime.spawn(read_messages(reader, shared.clone()));
        if let Some(stderr) = child.stderr.take() {
            runtime.spawn(forward_stderr(stderr, pid));
        }
        let waiting_shared = shared.clone();
        let waiting_kill = kill.clone();
        runtime.spawn(async move {
            let status = tokio::select! {
                status = child.wait() => status,
                _ = waiting_kill.notified() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            // The reader sees EOF once the process is gone; let it deliver
            // what the worker wrote last before pending requests fail.
            waiting_shared.backlog.process_exited();
            let _ = tokio::time::timeout(Duration::from_secs(1), reading).await;
            waiting_shared.exited(status);
        });
        tracing::debug!("worker {pid} spawned");
        Ok(Self { pid, shared, frames: Mutex::new(Some(frames_tx)), init_frame: Mutex::new(Some(init_tx)), kill, media })
    }

    #[getter]
    fn pid(&self) -> u32 {
        self.pid
    }

    /// True once `close()` was called or the process exited.
    #[getter]
    fn closed(&self) -> bool {
        self.frames_guard().is_none() || self.shared.pending().exited.is_some()
    }

    /// Sends a request of the Channel's table; returns an asyncio future of
    /// its answer. Bad methods or data raise `TypeError` or `ValueError`
    /// before anything is sent. Requests wait until [`Self::init`] is sent.
    #[pyo3(signature = (method, data=None))]
    fn request(&self, py: Python<'_>, method: &str, data: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyAny>> {
        self.send_request(py, method, data, false)
    }

    /// Sends `worker.init` with `settings`, before every request made so far.
    fn init(&self, py: Python<'_>, settings: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.send_request(py, "worker.init", Some(settings), true)
    }
    /// The frames of the media path since the last call: `(kind, handle,
    /// ssrc, payload)` tuples, kind 1 a packet a sender on direct transport
    /// `handle` sends, kind 2 a keyframe request for the stream on `ssrc`.
    fn take_media<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.media.take(py)
    }

    /// Queues an RTP packet for a receiver of direct transport `handle`
    /// (returns at once). False if it was dropped: the worker does not keep
    /// up. Raises `ValueError` for what is not an RTP packet.
    fn send_media(&self, handle: u32, packet: &[u8]) -> PyResult<bool> {
        if packet.len() < 12 || packet.len() > MAX_RTP_LEN || packet[0] >> 6 != 2 {
            return Err(PyValueError::new_err(format!(
                "not an RTP packet: {} bytes{}",
                packet.len(),
                if packet.len() >= 12 { ", version is not 2" } else { "" }
            )));
        }
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        Ok(self.media.send(FrameKind::Rtp, handle, ssrc, packet))
    }

    /// Queues a message of the data channel on stream `stream_id` of direct
    /// transport `handle` (text unless `binary`); False if it was dropped
    /// (the worker does not keep up). Raises `ValueError` over 262,144 bytes.
    fn send_media_data(&self, handle: u32, stream_id: u16, binary: bool, data: &[u8]) -> PyResult<bool> {
        if data.len() > SCTP_MAX_MESSAGE_SIZE {
            return Err(PyValueError::new_err(format!("a message has at most {SCTP_MAX_MESSAGE_SIZE} bytes, not {}", data.len())));
        }
        let mut payload = Vec::with_capacity(1 + data.len());
        payload.push(u8::from(binary));
        payload.extend_from_slice(data);
        Ok(self.media.send(FrameKind::Data, handle, u32::from(stream_id), &payload))
    }

    /// Closes the Channel: the worker exits on EOF, or is killed after a grace period.
    fn close(&self) {
        self.media.close();
        // Without its init frame the writer stops too (the worker reads EOF).
        self.init_frame.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if self.frames_guard().take().is_some() {
            let kill = self.kill.clone();
            pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
                tokio::time::sleep(CLOSE_GRACE).await;
                kill.notify_one();
            });
        }
    }

    /// SIGKILL, now.
    fn kill(&self) {
        self.kill.notify_one();
    }

    /// Writes raw bytes on the Channel, unframed: for tests of the worker's
    /// robustness against malformed frames.
    fn _send_raw(&self, py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<()> {
        let frames = self.frames_guard();
        let sender = frames.as_ref().ok_or_else(|| invalid_state(py, "worker is closed"))?;
        sender
            .send(data.as_bytes().to_vec())
            .map_err(|_| invalid_state(py, "worker is closed"))
    }

    fn __repr__(&self) -> String {
        format!("<WorkerProcess pid={} closed={}>", self.pid, self.closed())
    }
}

impl WorkerProcess {
    fn send_request(&self, py: Python<'_>, method: &str, data: Option<&Bound<'_, PyAny>>, init: bool) -> PyResult<Py<PyAny>> {
        let mut envelope = serde_json::Map::new();
        envelope.insert("method".into(), Value::from(method));
        if let Some(data) = data.filter(|data| !data.is_none()) {
            envelope.insert("data".into(), crate::channel_value::arguments_to_json(data, method)?);
        }
        let request: Request = serde_json::from_value(Value::Object(envelope))
            .map_err(|err| PyTypeError::new_err(format!("invalid request '{method}': {err}")))?;
        let future = self.shared.event_loop.bind(py).call_method0("create_future")?.unbind();
        let frames = self.frames_guard();
        let Some(sender) = frames.as_ref() else {
            return Err(invalid_state(py, format!("worker {} is closed", self.pid)));
        };
        let mut pending = self.shared.pending();
        if let Some(reason) = &pending.exited {
            return Err(invalid_state(py, format!("worker {} {reason}", self.pid)));
        }
        let id = pending.next_id;
        pending.next_id = pending.next_id.wrapping_add(1);
        let payload = serde_json::to_vec(&RequestFrame { id, request })
            .map_err(|err| to_pyerr(py, WorkerError::internal(format!("cannot encode {method}: {err}"))))?;
        if payload.len() > MAX_REQUEST_LEN {
            return Err(to_pyerr(
                py,
                WorkerError::value_error(format!(
                    "{method} request of {} bytes exceeds the Channel's {MAX_REQUEST_LEN}-byte limit",
                    payload.len()
                )),
            ));
        }
        let mut frame = Vec::with_capacity(payload.len() + 4);
        encode_frame(&payload, &mut frame);
        let sent = if init {
            let init_frame = self.init_frame.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
            init_frame.is_some_and(|first| first.send(frame).is_ok())
        } else {
            sender.send(frame).is_ok()
        };
        if !sent {
            return Err(invalid_state(py, format!("worker {} is closed or initialised already", self.pid)));
        }
        pending.futures.insert(id, (future.clone_ref(py), method.to_owned()));
        Ok(future)
    }

    fn frames_guard(&self) -> MutexGuard<'_, Option<mpsc::UnboundedSender<Vec<u8>>>> {
        self.frames.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn write_frames(
    mut writer: OwnedWriteHalf,
    init_frame: oneshot::Receiver<Vec<u8>>,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    // `worker.init` first; without it (closed before), nothing.
    let Ok(init_frame) = init_frame.await else { return };
    if let Err(err) = writer.write_all(&init_frame).await {
        tracing::debug!("Channel write failed: {err}");
        return;
    }
    while let Some(frame) = frames.recv().await {
        if let Err(err) = writer.write_all(&frame).await {
            tracing::debug!("Channel write failed: {err}");
            return;
        }
    }
    // All senders dropped: `close()`. Dropping the half shuts the socket's
    // write side down, which the worker reads as EOF.
}

/// A frame from the worker, read or not.
enum Incoming {
    Message(WorkerMessage),
    /// A frame that is no message; `id` is the request it answers, when its
    /// head says so.
    Unreadable { id: Option<u32>, reason: String },
}

async fn read_messages(mut reader: OwnedReadHalf, shared: Arc<Shared>) {
    let mut decoder = FrameDecoder::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        // While the event loop has much to run, the worker holds the rest.
        shared.backlog.room().await;
        let len = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(len) => len,
        };
        decoder.push(&buffer[..len]);
        let mut messages = Vec::new();
        while let Some(decoded) = decoder.next_frame() {
            let size = match &decoded {
                Decoded::Frame(payload) => payload.len(),
                Decoded::Oversized { len, .. } => *len,
            };
            messages.push((size, match decoded {
                Decoded::Frame(payload) => match serde_json::from_slice::<WorkerMessage>(&payload) {
                    Ok(message) => Incoming::Message(message),
                    Err(err) => Incoming::Unreadable {
                        id: leading_id(&payload, RESPONSE_HEAD),
                        reason: format!("malformed ({err})"),
                    },
                },
                Decoded::Oversized { len, head } => Incoming::Unreadable {
                    id: leading_id(&head, RESPONSE_HEAD),
                    reason: format!("oversized ({len} bytes, over the Channel's {MAX_FRAME_LEN}-byte frame limit)"),
                },
            }));
        }
        if messages.is_empty() {
            continue;
        }
        let delivered = crate::interpreter::attach(|py| {
            for (size, message) in messages {
                shared.handle_message(py, message, size);
            }
        });
        if delivered.is_none() {
            return;
        }
    }
}

/// What a worker prints on stderr (a Python traceback if it could not start,
/// a panic message) goes to the `mediasoup.worker` logger.
async fn forward_stderr(stderr: tokio::process::ChildStderr, pid: u32) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        crate::interpreter::attach(|py| emit(py, "mediasoup.worker", "error", &format!("[worker {pid}] {line}")));
    }
}
