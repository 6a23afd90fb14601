//! The Channel between the extension and a worker: length-prefixed frames
//! ([`frame`]) carrying the JSON messages of one table ([`message`]; what the
//! worker reports unasked in [`notification`]), which both
//! sides derive from; what a worker is started with ([`settings`], the
//! data of `worker.init`); the worker's logs, carried as notifications
//! ([`logging`]); and the binary media path beside it, for direct
//! transports ([`media`]).

pub mod frame;
pub mod logging;
pub mod media;
pub mod message;
pub mod notification;
pub mod settings;

pub use frame::{encode_frame, encode_rfc4571, Decoded, FrameDecoder, MAX_FRAME_LEN, MAX_REQUEST_LEN, OVERSIZED_HEAD};
pub use message::{
    leading_id, LogRecord, Notification, NotificationEvent, Request, RequestFrame, Response, WorkerMessage, REQUEST_HEAD,
    RESPONSE_HEAD,
};
