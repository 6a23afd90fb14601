//! A direct transport's data channels: no SCTP, the messages cross on the
//! media path, each frame naming its channel by stream id (unique on the
//! transport; Python picks its receivers', the worker its senders'). A
//! channel opened here for a DataSender on the transport queues its
//! messages for Python (bounded with the transport's packets, drops
//! counted); a channel of a DataReceiver on it takes the messages Python
//! writes (`dataReceiver.send()`), handed to the router as the channel's
//! [`DataEvent`]s like those of an SCTP transport.

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::DirectTransport;
use crate::channel::media::FrameKind;
use crate::error::WorkerError;
use crate::sctp::{ChannelCounters, ChannelOptions, ChannelRef, SCTP_MAX_MESSAGE_SIZE, SCTP_STREAMS};
use crate::transport::webrtc::{DataEvent, SendRefused};

/// One channel and what went through it.
#[derive(Debug)]
pub(super) struct DirectChannel {
    options: ChannelOptions,
    counters: ChannelCounters,
}

/// The channels of a direct transport, by reference.
#[derive(Debug, Default)]
pub(super) struct DirectChannels {
    channels: FxHashMap<ChannelRef, DirectChannel>,
    by_stream: FxHashMap<u16, ChannelRef>,
    next_ref: ChannelRef,
    events: Vec<DataEvent>,
}

impl DirectTransport {
    /// A channel for a DataReceiver or a DataSender on the transport, named
    /// by its stream id in the frames.
    pub fn open_data_channel(&mut self, options: ChannelOptions) -> Result<ChannelRef, WorkerError> {
        if self.closed {
            return Err(WorkerError::invalid_state(format!("transport {} is closed", self.id)));
        }
        let stream_id = options.stream_id.ok_or_else(|| WorkerError::value_error("a direct transport's channel needs a streamId"))?;
        let data = &mut self.data;
        if data.by_stream.contains_key(&stream_id) {
            return Err(WorkerError::value_error(format!("streamId {stream_id} is taken on transport {}", self.id)));
        }
        data.next_ref = data.next_ref.wrapping_add(1);
        let channel = data.next_ref;
        data.channels.insert(channel, DirectChannel { options, counters: ChannelCounters::default() });
        data.by_stream.insert(stream_id, channel);
        Ok(channel)
    }

    pub fn close_data_channel(&mut self, channel: ChannelRef) {
        if self.data.channels.remove(&channel).is_some() {
            self.data.by_stream.retain(|_, reference| *reference != channel);
        }
    }

    /// The lowest stream id no channel of the transport names.
    pub fn free_stream_id(&self) -> Option<u16> {
        (0..SCTP_STREAMS).find(|id| !self.data.by_stream.contains_key(id))
    }

    /// Queues a message for Python; refused (and counted) when it does not fit.
    pub fn send_data(&mut self, channel: ChannelRef, binary: bool, data: &[u8]) -> Result<(), SendRefused> {
        let Some(entry) = self.data.channels.get_mut(&channel) else { return Err(SendRefused::NoChannel) };
        let Some(stream_id) = entry.options.stream_id.filter(|_| !self.closed) else { return Err(SendRefused::NoChannel) };
        if data.len() > SCTP_MAX_MESSAGE_SIZE {
            entry.counters.messages_dropped += 1;
            return Err(SendRefused::TooLarge);
        }
        self.scratch.clear();
        self.scratch.push(u8::from(binary));
        self.scratch.extend_from_slice(data);
        if !self.queue.push(FrameKind::Data, self.handle, u32::from(stream_id), &self.scratch) {
            entry.counters.messages_dropped += 1;
            return Err(SendRefused::QueueFull);
        }
        entry.counters.sent(data.len());
        Ok(())
    }

    /// A message Python wrote on the channel with stream id `stream_id`.
    pub fn receive_data(&mut self, stream_id: u32, payload: &[u8]) {
        let Some((&flag, data)) = payload.split_first() else {
            return self.discard("a data frame without its binary flag".to_owned());
        };
        let found = u16::try_from(stream_id).ok().and_then(|id| self.data.by_stream.get(&id)).copied();
        let Some((channel, entry)) = found.and_then(|channel| Some((channel, self.data.channels.get_mut(&channel)?))) else {
            return self.discard(format!("stream {stream_id} is no channel of this transport"));
        };
        entry.counters.received(data.len());
        self.data.events.push(DataEvent::Message { channel, binary: flag != 0, data: data.to_vec() });
    }

    pub fn take_data_events(&mut self, into: &mut Vec<DataEvent>) {
        into.append(&mut self.data.events);
    }

    /// The channels in dumps and stats, oldest first.
    pub(super) fn data_channels_json(&self, now_ms: Option<u64>) -> Vec<Value> {
        let mut channels: Vec<_> = self.data.channels.iter().collect();
        channels.sort_by_key(|(reference, _)| **reference);
        channels
            .into_iter()
            .map(|(_, channel)| match now_ms {
                None => channel.options.to_json(),
                Some(now_ms) => channel.counters.stats(&channel.options, now_ms),
            })
            .collect()
    }
}
