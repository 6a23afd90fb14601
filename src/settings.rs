//! `ServerSettings`: the server's options parsed, validated and resolved on
//! this host (listen addresses, certificate, port sub-ranges), and the
//! `worker.init` settings of each worker derived from them.

use std::sync::{Mutex, OnceLock};

use media_worker::channel::settings::{encode_hex, LogLevel, WorkerSettings};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyString};
use serde_json::json;

use crate::certificate::{check_pem_file, Certificate};
use crate::errors::{invalid_state, to_pyerr};
use crate::network::{resolve_listen_addresses, ListenAddresses};
use crate::options::{OptionValue, ServerOptions};

#[pyclass(frozen, module = "mediasoup._mediasoup")]
pub struct ServerSettings {
    options: ServerOptions,
    listen: ListenAddresses,
    /// Set by [`ServerSettings::load_certificate`], off the event loop.
    certificate: OnceLock<Certificate>,
    /// Changed by `updateSettings`; replacement workers start with it.
    log_level: Mutex<LogLevel>,
}

fn option_value(value: &Bound<'_, PyAny>) -> PyResult<OptionValue> {
    if value.is_none() {
        return Ok(OptionValue::None);
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(OptionValue::Bool(flag.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        // Out of i64 is out of every option's range: kept as its digits for the error to show.
        return Ok(match value.extract::<i64>() {
            Ok(number) => OptionValue::Int(number),
            Err(_) => OptionValue::BigInt(value.str()?.to_str()?.to_owned()),
        });
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(OptionValue::Str(text.to_str()?.to_owned()));
    }
    if value.hasattr("__fspath__")? {
        let path = value.py().import("os")?.call_method1("fspath", (value,))?;
        if let Ok(text) = path.cast::<PyString>() {
            return Ok(OptionValue::Str(text.to_str()?.to_owned()));
        }
    }
    Ok(OptionValue::Other(value.get_type().name()?.to_string()))
}

#[pymethods]
impl ServerSettings {
    /// Parses `options` (camelCase or snake_case keys), checks the listen
    /// addresses on this host and that the certificate files are regular
    /// files of a PEM's size; [`Self::load_certificate`] reads them.
    #[new]
    fn new(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<Self> {
        crate::logging::install();
        let mut pairs = Vec::with_capacity(options.len());
        for (key, value) in options.iter() {
            let key: String = key
                .extract()
                .map_err(|_| PyTypeError::new_err(format!("option names must be str, not {}", key.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?;
            pairs.push((key, option_value(&value)?));
        }
        let options = ServerOptions::parse(&pairs, num_cpus::get()).map_err(|err| to_pyerr(py, err))?;
        let listen = resolve_listen_addresses(&options).map_err(|err| to_pyerr(py, err))?;
        for warning in &listen.warnings {
            tracing::warn!("{warning}");
        }
        if let Some((certificate, key)) = &options.dtls_files {
            check_pem_file("dtlsCertificateFile", certificate).map_err(|err| to_pyerr(py, err))?;
            check_pem_file("dtlsPrivateKeyFile", key).map_err(|err| to_pyerr(py, err))?;
        }
        Ok(Self {
            log_level: Mutex::new(options.log_level),
            options,
            listen,
            certificate: OnceLock::new(),
        })
    }

    /// Reads and checks the certificate files, or generates a certificate;
    /// blocking (file reads, key generation), so `Server` calls it in a
    /// thread. Raises `ValueError` naming the option for a bad file.
    fn load_certificate(&self, py: Python<'_>) -> PyResult<()> {
        if self.certificate.get().is_some() {
            return Ok(());
        }
        let certificate = py
            .detach(|| match &self.options.dtls_files {
                Some((certificate, key)) => Certificate::from_pem_files(certificate, key),
                None => Certificate::generate(),
            })
            .map_err(|err| to_pyerr(py, err))?;
        let _ = self.certificate.set(certificate);
        Ok(())
    }

    #[getter]
    fn num_workers(&self) -> usize {
        self.options.num_workers
    }

    #[getter]
    fn log_level(&self) -> String {
        self.current_log_level().to_string()
    }

    /// Validates and records a new log level ('debug', 'warn', 'error').
    fn set_log_level(&self, py: Python<'_>, level: &Bound<'_, PyAny>) -> PyResult<()> {
        let text: String = level
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("logLevel must be a str, not {}", level.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?;
        let parsed: LogLevel = text.parse().map_err(|err| to_pyerr(py, err))?;
        *self.log_level.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = parsed;
        Ok(())
    }

    /// The port sub-range of each worker, `[(min, max), ...]`.
    #[getter]
    fn port_ranges(&self) -> Vec<(u16, u16)> {
        self.options.port_ranges()
    }

    /// `[{'algorithm': 'sha-256', 'value': 'AB:CD:…'}, …]` of the certificate.
    #[getter]
    fn dtls_fingerprints<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let fingerprints: Vec<_> = self
            .certificate(py)?
            .fingerprints()
            .into_iter()
            .map(|(algorithm, value)| json!({"algorithm": algorithm, "value": value}))
            .collect();
        Ok(pythonize::pythonize(py, &fingerprints)?)
    }

    /// The `worker.init` data of worker `index`.
    fn worker_settings<'py>(&self, py: Python<'py>, index: usize) -> PyResult<Bound<'py, PyAny>> {
        let (rtc_min_port, rtc_max_port) = *self
            .options
            .port_ranges()
            .get(index)
            .ok_or_else(|| pyo3::exceptions::PyIndexError::new_err(format!("no worker {index}")))?;
        let settings = WorkerSettings {
            log_level: self.current_log_level(),
            rtc_listen_ipv4: self.listen.ipv4,
            rtc_listen_ipv6: self.listen.ipv6,
            rtc_announced_ipv4: self.options.rtc_announced_ipv4,
            rtc_announced_ipv6: self.options.rtc_announced_ipv6,
            rtc_min_port,
            rtc_max_port,
            rtc_port_per_worker: self.options.rtc_port_per_worker,
            dtls_certificate_der: encode_hex(&self.certificate(py)?.der),
            dtls_private_key_der: encode_hex(&self.certificate(py)?.private_key_der),
        };
        Ok(pythonize::pythonize(py, &settings)?)
    }

    /// The resolved options, as `server.dump()` shows them (no key material).
    fn dump<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let options = &self.options;
        let dump = json!({
            "numWorkers": options.num_workers,
            "logLevel": self.current_log_level(),
            "rtcListenIPv4": self.listen.ipv4,
            "rtcListenIPv6": self.listen.ipv6,
            "rtcAnnouncedIPv4": options.rtc_announced_ipv4,
            "rtcAnnouncedIPv6": options.rtc_announced_ipv6,
            "rtcMinPort": options.rtc_min_port,
            "rtcMaxPort": options.rtc_max_port,
            "rtcPortPerWorker": options.rtc_port_per_worker,
            "dtlsCertificateFile": options.dtls_files.as_ref().map(|(certificate, _)| certificate.display().to_string()),
            "dtlsPrivateKeyFile": options.dtls_files.as_ref().map(|(_, key)| key.display().to_string()),
        });
        Ok(pythonize::pythonize(py, &dump)?)
    }
}

impl ServerSettings {
    fn certificate(&self, py: Python<'_>) -> PyResult<&Certificate> {
        self.certificate.get().ok_or_else(|| invalid_state(py, "the DTLS certificate is not loaded yet"))
    }

    fn current_log_level(&self) -> LogLevel {
        *self.log_level.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
