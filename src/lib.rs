//! `mediasoup._mediasoup`: the PyO3 extension, the control plane. It parses
//! and validates the server's options, owns the worker processes and their
//! Channels, maps errors to Python exceptions and bridges `tracing` into
//! Python's `logging`. The public classes live in `python/mediasoup`; they
//! call in here. The same module is the worker program: `python -m
//! mediasoup.worker` calls [`run_worker`], which never returns to Python.

pub mod certificate;
pub mod channel_value;
pub mod errors;
pub mod interpreter;
pub mod logging;
pub mod media_path;
pub mod network;
pub mod notified;
pub mod options;
pub mod settings;
pub mod worker_process;

use pyo3::prelude::*;
use serde_json::Value;

use crate::errors::to_pyerr;

/// Runs the media worker on this process until its Channel closes; returns
/// the exit code. Called by `python -m mediasoup.worker` only.
#[pyfunction]
fn run_worker(py: Python<'_>) -> i32 {
    py.detach(media_worker::run_worker)
}

/// The room's `RtpCapabilities` for `mediaCodecs` (None: the default set).
/// Raises `TypeError`/`ValueError`/`UnsupportedError` naming the bad field.
#[pyfunction]
#[pyo3(signature = (media_codecs=None))]
fn room_rtp_capabilities<'py>(py: Python<'py>, media_codecs: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    let value: Option<Value> = media_codecs.map(|codecs| channel_value::to_json(codecs, "mediaCodecs")).transpose()?;
    let capabilities = media_worker::rtp::capabilities::room_rtp_capabilities(value.as_ref()).map_err(|err| to_pyerr(py, err))?;
    Ok(pythonize::pythonize(py, &capabilities)?)
}

/// How well `codec` carries the room's `room_codec` (both dicts with
/// `mimeType`, `clockRate`, optional `channels` and `parameters`): None if
/// it does not, else lower is closer. The worker's own rule, for
/// `mediasoup.webrtc` to choose an offer's codecs with.
#[pyfunction]
fn codec_match(room_codec: &Bound<'_, PyAny>, codec: &Bound<'_, PyAny>) -> PyResult<Option<u8>> {
    let (room_codec, codec) = (channel_value::to_json(room_codec, "room_codec")?, channel_value::to_json(codec, "codec")?);
    let no_parameters = serde_json::Map::new();
    let read = |value| {
        media_worker::rtp::capabilities::CodecRef::of_json(value, &no_parameters)
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err("a codec needs a str mimeType and an int clockRate"))
    };
    Ok(media_worker::rtp::capabilities::codec_match(read(&room_codec)?, read(&codec)?))
}

/// `'75:1B:…'` → `'751b…'`.
#[pyfunction]
fn fingerprint_from_sdp(py: Python<'_>, fingerprint: &str) -> PyResult<String> {
    certificate::fingerprint_from_sdp(fingerprint).map_err(|err| to_pyerr(py, err))
}

/// `'751b…'` → `'75:1B:…'`.
#[pyfunction]
fn fingerprint_to_sdp(py: Python<'_>, fingerprint: &str) -> PyResult<String> {
    certificate::fingerprint_to_sdp(fingerprint).map_err(|err| to_pyerr(py, err))
}

/// `(certificate DER, PKCS#8 private key DER)`: a self-signed ECDSA P-256
/// certificate for `names` (DNS names or IP addresses), e.g. for HTTPS.
#[pyfunction]
fn self_signed_certificate(py: Python<'_>, names: Vec<String>) -> PyResult<(Vec<u8>, Vec<u8>)> {
    if names.is_empty() {
        return Err(pyo3::exceptions::PyValueError::new_err("a certificate needs at least one name"));
    }
    let certificate = certificate::Certificate::self_signed_for(names).map_err(|err| to_pyerr(py, err))?;
    Ok((certificate.der, certificate.private_key_der))
}

/// The snake_case alias of a camelCase name (`rtcListenIPv4` → `rtc_listen_ipv4`).
#[pyfunction]
fn snake_case(name: &str) -> String {
    options::snake_case(name)
}

#[pymodule]
fn _mediasoup(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<settings::ServerSettings>()?;
    module.add_class::<worker_process::WorkerProcess>()?;
    module.add_function(wrap_pyfunction!(run_worker, module)?)?;
    module.add_function(wrap_pyfunction!(room_rtp_capabilities, module)?)?;
    module.add_function(wrap_pyfunction!(codec_match, module)?)?;
    module.add_function(wrap_pyfunction!(fingerprint_from_sdp, module)?)?;
    module.add_function(wrap_pyfunction!(fingerprint_to_sdp, module)?)?;
    module.add_function(wrap_pyfunction!(snake_case, module)?)?;
    module.add_function(wrap_pyfunction!(self_signed_certificate, module)?)?;
    module.add_function(wrap_pyfunction!(worker_process::_settle, module)?)?;
    module.add_function(wrap_pyfunction!(interpreter::_before_exit, module)?)?;
    let table: Vec<(&str, &str, &str, &str)> = options::SERVER_OPTIONS
        .iter()
        .map(|spec| (spec.name, spec.types, spec.default, spec.doc))
        .collect();
    module.add("SERVER_OPTIONS", table)?;
    module.add("MAX_PEER_NAME_CHARS", media_worker::room::MAX_PEER_NAME_CHARS)?;
    module.add("MAX_DEPTH", channel_value::MAX_DEPTH)?;
    // The Channel's tables, for Python to use (and its tests to check) by name.
    module.add("CHANNEL_METHODS", media_worker::channel::Request::METHODS.to_vec())?;
    module.add("NOTIFICATION_EVENTS", media_worker::channel::NotificationEvent::NAMES.to_vec())?;
    module.add("TRANSPORT_OPTIONS", media_worker::channel::message::TRANSPORT_OPTIONS.to_vec())?;
    // Room() options beyond the codecs, with their defaults and bounds (the worker's).
    let defaults = media_worker::channel::message::RoomCreate::new("");
    let room_settings = pyo3::types::PyDict::new(module.py());
    room_settings.set_item("dataChannelRelay", defaults.data_channel_relay)?;
    room_settings.set_item("audioLevelInterval", defaults.audio_level_interval)?;
    room_settings.set_item("audioLevelThreshold", defaults.audio_level_threshold)?;
    room_settings.set_item("bandwidthEstimation", defaults.bandwidth_estimation)?;
    module.add("ROOM_SETTINGS", room_settings)?;
    module.add("AUDIO_LEVEL_INTERVAL_MS", (media_worker::room::MIN_AUDIO_LEVEL_INTERVAL_MS, media_worker::room::MAX_AUDIO_LEVEL_INTERVAL_MS))?;
    module.add("SCTP_MAX_MESSAGE_SIZE", media_worker::sctp::SCTP_MAX_MESSAGE_SIZE)?;
    module.add("SCTP_MAX_SEND_MESSAGE_SIZE", media_worker::sctp::SCTP_MAX_SEND_MESSAGE_SIZE)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
