//! The worker as a state machine: Channel requests in, answers out. It owns
//! the rooms; the event loop in [`crate::run`] only moves bytes and time.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::{json, Value};

use crate::channel::message::{RoomCreate, RoomRef};
use crate::channel::Request;
use crate::error::WorkerError;
use crate::logging::LogFilter;
use crate::room::Room;
use crate::settings::WorkerSettings;

pub struct Worker {
    pid: u32,
    log_filter: LogFilter,
    settings: Option<WorkerSettings>,
    rooms: HashMap<String, Room>,
    /// Room ids in creation order, for dumps.
    room_order: Vec<String>,
    started_at: Instant,
}

impl Worker {
    pub fn new(pid: u32, log_filter: LogFilter, now: Instant) -> Self {
        Self {
            pid,
            log_filter,
            settings: None,
            rooms: HashMap::new(),
            room_order: Vec::new(),
            started_at: now,
        }
    }

    /// Handles one request. Every failure is an answer; nothing here panics
    /// on what the Channel carries.
    pub fn handle_request(&mut self, request: Request, now: Instant) -> Result<Value, WorkerError> {
        if let Request::WorkerInit(settings) = request {
            return self.init(settings);
        }
        let Some(settings) = &self.settings else {
            return Err(WorkerError::invalid_state("worker.init must be the first request"));
        };
        match request {
            Request::WorkerInit(_) => unreachable!("handled above"),
            Request::WorkerDump => Ok(json!({
                "pid": self.pid,
                "logLevel": self.log_filter.get(),
                "rtcMinPort": settings.rtc_min_port,
                "rtcMaxPort": settings.rtc_max_port,
                "rtcListenIPv4": settings.rtc_listen_ipv4,
                "rtcListenIPv6": settings.rtc_listen_ipv6,
                "rtcAnnouncedIPv4": settings.rtc_announced_ipv4,
                "rtcAnnouncedIPv6": settings.rtc_announced_ipv6,
                "uptimeMs": now.saturating_duration_since(self.started_at).as_millis() as u64,
                "rooms": self.room_order,
            })),
            Request::WorkerUpdateSettings(update) => {
                self.log_filter.set(update.log_level);
                tracing::info!("logLevel is now {}", update.log_level);
                Ok(json!({ "logLevel": update.log_level }))
            }
            Request::RoomCreate(create) => self.create_room(create),
            Request::RoomClose(RoomRef { room_id }) => {
                self.rooms
                    .remove(&room_id)
                    .ok_or_else(|| unknown_room(&room_id))?;
                self.room_order.retain(|id| *id != room_id);
                tracing::debug!("room {room_id} closed");
                Ok(Value::Null)
            }
            Request::RoomDump(RoomRef { room_id }) => self
                .rooms
                .get(&room_id)
                .map(Room::dump)
                .ok_or_else(|| unknown_room(&room_id)),
        }
    }

    fn init(&mut self, settings: WorkerSettings) -> Result<Value, WorkerError> {
        if self.settings.is_some() {
            return Err(WorkerError::invalid_state("worker.init was already received"));
        }
        settings.validate()?;
        self.log_filter.set(settings.log_level);
        tracing::info!("ready on ports {}-{}", settings.rtc_min_port, settings.rtc_max_port);
        self.settings = Some(settings);
        Ok(json!({ "pid": self.pid }))
    }

    fn create_room(&mut self, create: RoomCreate) -> Result<Value, WorkerError> {
        if self.rooms.contains_key(&create.room_id) {
            return Err(WorkerError::value_error(format!(
                "a room with id '{}' exists already",
                create.room_id
            )));
        }
        let room = Room::new(
            create.room_id,
            create.media_codecs.as_ref(),
            create.force_unique_payload_types,
        )?;
        tracing::debug!("room {} created", room.id);
        let answer = json!({ "rtpCapabilities": room.rtp_capabilities });
        self.room_order.push(room.id.clone());
        self.rooms.insert(room.id.clone(), room);
        Ok(answer)
    }
}

fn unknown_room(room_id: &str) -> WorkerError {
    WorkerError::invalid_state(format!("no room with id '{room_id}' in this worker"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::message::UpdateSettings;
    use crate::error::ErrorKind;
    use crate::settings::{encode_hex, LogLevel};

    fn settings() -> WorkerSettings {
        WorkerSettings {
            log_level: LogLevel::Warn,
            rtc_listen_ipv4: Some("127.0.0.1".parse().unwrap()),
            rtc_listen_ipv6: None,
            rtc_announced_ipv4: None,
            rtc_announced_ipv6: None,
            rtc_min_port: 40000,
            rtc_max_port: 40999,
            dtls_certificate_der: encode_hex(b"cert"),
            dtls_private_key_der: encode_hex(b"key"),
        }
    }

    fn ready_worker() -> (Worker, Instant) {
        let now = Instant::now();
        let mut worker = Worker::new(42, LogFilter::new(LogLevel::Debug), now);
        worker.handle_request(Request::WorkerInit(settings()), now).unwrap();
        (worker, now)
    }

    fn create(room_id: &str) -> Request {
        Request::RoomCreate(RoomCreate {
            room_id: room_id.into(),
            media_codecs: None,
            force_unique_payload_types: false,
        })
    }

    #[test]
    fn requests_before_init_are_refused() {
        let now = Instant::now();
        let mut worker = Worker::new(1, LogFilter::new(LogLevel::Debug), now);
        let err = worker.handle_request(Request::WorkerDump, now).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidStateError);
    }

    #[test]
    fn init_applies_the_log_level_and_happens_once() {
        let (mut worker, now) = ready_worker();
        assert_eq!(worker.log_filter.get(), LogLevel::Warn);
        let err = worker.handle_request(Request::WorkerInit(settings()), now).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidStateError);
    }

    #[test]
    fn rooms_are_created_dumped_and_closed_in_order() {
        let (mut worker, now) = ready_worker();
        worker.handle_request(create("a"), now).unwrap();
        worker.handle_request(create("b"), now).unwrap();
        let dump = worker.handle_request(Request::WorkerDump, now).unwrap();
        assert_eq!(dump["rooms"], json!(["a", "b"]));
        assert_eq!(dump["pid"], json!(42));
        assert_eq!(dump["rtcMinPort"], json!(40000));

        let err = worker.handle_request(create("a"), now).unwrap_err();
        assert_eq!(err.kind, ErrorKind::ValueError);

        let room = worker
            .handle_request(Request::RoomDump(RoomRef { room_id: "b".into() }), now)
            .unwrap();
        assert_eq!(room["id"], json!("b"));
        assert!(room["rtpCapabilities"]["codecs"].as_array().unwrap().len() > 4);

        worker.handle_request(Request::RoomClose(RoomRef { room_id: "a".into() }), now).unwrap();
        let dump = worker.handle_request(Request::WorkerDump, now).unwrap();
        assert_eq!(dump["rooms"], json!(["b"]));
        let err = worker
            .handle_request(Request::RoomClose(RoomRef { room_id: "a".into() }), now)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidStateError);
    }

    #[test]
    fn a_room_with_bad_codecs_is_not_created() {
        let (mut worker, now) = ready_worker();
        let err = worker
            .handle_request(
                Request::RoomCreate(RoomCreate {
                    room_id: "x".into(),
                    media_codecs: Some(json!([{"kind": "video", "mimeType": "video/H265"}])),
                    force_unique_payload_types: false,
                }),
                now,
            )
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::UnsupportedError);
        let dump = worker.handle_request(Request::WorkerDump, now).unwrap();
        assert_eq!(dump["rooms"], json!([]));
    }

    #[test]
    fn update_settings_changes_the_log_level() {
        let (mut worker, now) = ready_worker();
        worker
            .handle_request(
                Request::WorkerUpdateSettings(UpdateSettings { log_level: LogLevel::Error }),
                now,
            )
            .unwrap();
        let dump = worker.handle_request(Request::WorkerDump, now).unwrap();
        assert_eq!(dump["logLevel"], json!("error"));
    }
}
