//! A transport connected to a str0m client through memory, with fake time:
//! ICE, DTLS, fingerprints and restarts without a socket or a clock.

use super::*;
use std::net::IpAddr;
use crate::rtp::capabilities::MediaKind;
use crate::transport::webrtc::crypto::{certificate_pem, fingerprint, sdp_form};
use std::net::Ipv4Addr;
use crate::testing::{client_of, dtls_certificate};
use crate::sctp::ChannelOptions;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000);

fn options() -> TransportCreate {
    TransportCreate {
        peer_id: "p".into(),
        transport_id: "t".into(),
        udp: true,
        tcp: false,
        prefer_ipv4: false,
        prefer_ipv6: false,
        prefer_udp: false,
        prefer_tcp: false,
        enable_sctp: false,
    }
}

struct Call {
    now: Instant,
    server: WebRtcTransport,
    client: Rtc,
    client_certificate: DtlsCert,
    notifications: Vec<TransportNotification>,
    /// The channels the client saw open: label and stream id.
    client_opened: Vec<(String, Option<u16>)>,
}

impl Call {
    /// A server transport and a full-ICE controlling client that knows the
    /// server's ICE credentials and sha-256 fingerprint, as a browser would.
    fn new() -> Self {
        Self::with(options())
    }

    /// With SCTP both sides (the client the SCTP server, as the DTLS one).
    fn with_sctp() -> Self {
        let mut call = Self::with(TransportCreate { enable_sctp: true, ..options() });
        call.client.direct_api().start_sctp(false);
        call
    }

    fn with(options: TransportCreate) -> Self {
        let now = Instant::now();
        let socket = BoundSocket { protocol: Protocol::Udp, address: SERVER, announced_ip: None };
        let room = crate::rtp::capabilities::room_rtp_capabilities(None).unwrap();
        let table = crate::rtp::codec_table::transport_tables(&room, None);
        let server = WebRtcTransport::new(&options, &dtls_certificate(), vec![socket], table, now).unwrap();
        let client_certificate = dtls_certificate();
        let client = client_of(&server.local_parameters(), &client_certificate, RtcConfig::new(), (CLIENT, SERVER), now);
        Self { now, server, client, client_certificate, notifications: Vec::new(), client_opened: Vec::new() }
    }

    /// The client's fingerprint in `algorithm`, as `dtlsParameters` carry it.
    fn client_fingerprint(&self, algorithm: &str) -> Value {
        let digest = fingerprint(&self.client_certificate.certificate, algorithm).unwrap();
        json!({"algorithm": algorithm, "value": sdp_form(&digest)})
    }

    /// Moves packets both ways and advances fake time for `duration`.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            let client_timeout;
            loop {
                match self.client.poll_output().unwrap() {
                    Output::Transmit(transmit) => {
                        let bytes: Vec<u8> = transmit.contents.into();
                        self.server.handle_datagram(self.now, Protocol::Udp, CLIENT, SERVER, &bytes);
                    }
                    Output::Timeout(due) => {
                        client_timeout = due;
                        break;
                    }
                    Output::Event(str0m::Event::ChannelOpen(id, label)) => {
                        let stream_id = self.client.direct_api().sctp_stream_id_by_channel_id(id);
                        self.client_opened.push((label, stream_id));
                    }
                    Output::Event(_) => {}
                }
            }
            while let Some(datagram) = self.server.poll_datagram() {
                assert_eq!((datagram.source, datagram.destination), (SERVER, CLIENT));
                let input = Input::Receive(self.now, Receive::new(Protocol::Udp, SERVER, CLIENT, &datagram.contents).unwrap());
                self.client.handle_input(input).unwrap();
            }
            self.notifications.extend(self.server.take_notifications());
            let server_timeout = self.server.next_timeout().unwrap_or(end);
            let next = client_timeout.min(server_timeout).min(self.now + Duration::from_millis(20)).max(self.now + Duration::from_millis(1));
            self.now = next;
            self.client.handle_input(Input::Timeout(self.now)).unwrap();
            self.server.handle_timeout(self.now);
        }
    }

    fn events(&self, event: NotificationEvent, key: &str) -> Vec<String> {
        self.notifications
            .iter()
            .filter(|notification| notification.event == event)
            .map(|notification| notification.data[key].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

#[test]
fn a_client_connects_with_ice_and_dtls_and_the_certificate_is_checked() {
    let mut call = Call::new();
    call.run(Duration::from_millis(300));
    assert_eq!(call.server.ice_state(), IceState::Completed, "{:?}", call.notifications);
    // DTLS waits for the remote parameters: nothing connects before them.
    assert_eq!(call.server.dtls_state(), DtlsState::New);
    // pymediasoup sends its sha-512 fingerprint only.
    let remote = json!({"role": "server", "fingerprints": [call.client_fingerprint("sha-512")]});
    let answer = call.server.set_remote_dtls_parameters(&remote, call.now).unwrap();
    assert_eq!(answer, json!({"role": "client"}));
    call.run(Duration::from_secs(3));
    assert_eq!(call.server.dtls_state(), DtlsState::Connected, "{:?}", call.notifications);
    assert_eq!(call.events(NotificationEvent::TransportDtlsStateChange, "dtlsState"), ["connecting", "connected"]);
    let connected = call.notifications.iter().rev().find(|n| n.event == NotificationEvent::TransportDtlsStateChange).unwrap();
    let pem = connected.data["dtlsRemoteCert"].as_str().unwrap();
    assert_eq!(pem, certificate_pem(&call.client_certificate.certificate));
    let tuple = &call.server.dump()["iceSelectedTuple"];
    assert_eq!(tuple["remotePort"], json!(50000));
    assert_eq!(tuple["protocol"], json!("udp"));
    assert!(call.client.is_connected());
}

#[test]
fn a_certificate_that_does_not_match_the_fingerprint_fails_dtls() {
    let mut call = Call::new();
    call.run(Duration::from_millis(300));
    let mut wrong = call.client_fingerprint("sha-256");
    wrong["value"] = json!(sdp_form(&[0xAB; 32]));
    call.server.set_remote_dtls_parameters(&json!({"fingerprint": wrong}), call.now).unwrap();
    call.run(Duration::from_secs(3));
    assert_eq!(call.server.dtls_state(), DtlsState::Failed);
    assert_eq!(call.events(NotificationEvent::TransportDtlsStateChange, "dtlsState"), ["connecting", "failed"]);
    assert!(!call.client.is_connected());
}

#[test]
fn dtls_records_that_arrive_before_the_remote_parameters_are_kept() {
    let mut call = Call::new();
    // The client is the DTLS client here: its ClientHello comes right after ICE.
    let mut client = {
        let mut api = call.client.direct_api();
        let _ = &mut api;
        RtcConfig::new().set_rtp_mode(true).set_dtls_cert(call.client_certificate.clone()).build(call.now)
    };
    let local = call.server.local_parameters();
    client.add_local_candidate(Candidate::host(CLIENT, Protocol::Udp).unwrap());
    client.add_remote_candidate(Candidate::host(SERVER, Protocol::Udp).unwrap());
    let mut api = client.direct_api();
    api.set_ice_controlling(true);
    api.set_remote_ice_credentials(IceCreds {
        ufrag: local["iceLocalParameters"]["usernameFragment"].as_str().unwrap().into(),
        pass: local["iceLocalParameters"]["password"].as_str().unwrap().into(),
    });
    let sha256 = local["dtlsLocalParameters"]["fingerprints"][0]["value"].as_str().unwrap();
    api.set_remote_fingerprint(format!("sha-256 {sha256}").parse().unwrap());
    api.start_dtls(true).unwrap();
    call.client = client;
    call.run(Duration::from_millis(500));
    assert_eq!(call.server.dtls_state(), DtlsState::New);
    let remote = json!({"role": "client", "fingerprints": [call.client_fingerprint("sha-384")]});
    assert_eq!(call.server.set_remote_dtls_parameters(&remote, call.now).unwrap(), json!({"role": "server"}));
    // Well before the client's first retransmission (1 s): the held hello was used.
    call.run(Duration::from_millis(200));
    assert_eq!(call.server.dtls_state(), DtlsState::Connected, "{:?}", call.notifications);
}

#[test]
fn binding_requests_with_a_wrong_password_are_ignored() {
    let mut call = Call::new();
    call.client.direct_api().set_remote_ice_credentials(IceCreds {
        ufrag: call.server.local_credentials.ufrag.clone(),
        pass: "not-the-password".into(),
    });
    call.run(Duration::from_secs(2));
    assert_eq!(call.server.ice_state(), IceState::New);
    assert!(call.notifications.is_empty());
}

#[test]
fn an_ice_restart_changes_the_credentials_and_refuses_the_old_ones() {
    let mut call = Call::new();
    call.run(Duration::from_millis(300));
    assert_eq!(call.server.ice_state(), IceState::Completed);
    let before = call.server.local_credentials.clone();
    let parameters = call.server.restart_ice(call.now).unwrap();
    assert_ne!(parameters["usernameFragment"], json!(before.ufrag));
    assert_ne!(parameters["password"], json!(before.pass));
    // A client that keeps the old credentials is refused: after the consent window ICE drops.
    call.run(Duration::from_secs(25));
    assert_eq!(call.server.ice_state(), IceState::Disconnected);
}

#[test]
fn an_ice_restart_keeps_a_client_that_takes_the_new_credentials() {
    let mut call = Call::new();
    call.run(Duration::from_millis(300));
    let parameters = call.server.restart_ice(call.now).unwrap();
    call.client.direct_api().set_remote_ice_credentials(IceCreds {
        ufrag: parameters["usernameFragment"].as_str().unwrap().into(),
        pass: parameters["password"].as_str().unwrap().into(),
    });
    call.run(Duration::from_secs(30));
    assert_eq!(call.server.ice_state(), IceState::Completed, "{:?}", call.notifications);
    assert!(call.events(NotificationEvent::TransportIceStateChange, "iceState").iter().all(|state| state != "disconnected"));
}

#[test]
fn bad_remote_dtls_parameters_are_refused_and_change_nothing() {
    let mut call = Call::new();
    let cases = [
        (json!("x"), "must be a dict"),
        (json!({"role": "boss", "fingerprints": []}), "'auto', 'client' or 'server'"),
        (json!({"role": "client"}), "needs 'fingerprints'"),
        (json!({"fingerprints": [{"algorithm": "md5", "value": "AB:CD"}]}), "no fingerprint in sha-1"),
        (json!({"fingerprints": [{"algorithm": "sha-256", "value": "AB:CD"}]}), "has 2 bytes"),
        (json!({"fingerprints": [{"algorithm": "sha-256", "value": "nothex"}]}), "not hex pairs"),
    ];
    for (input, needle) in cases {
        let err = call.server.set_remote_dtls_parameters(&input, call.now).unwrap_err();
        assert!(err.message.contains(needle), "{input}: {err}");
    }
    assert_eq!(call.server.dump()["dtlsLocalParameters"]["role"], json!("auto"));
    assert_eq!(call.server.dtls_state(), DtlsState::New);
}

#[test]
fn garbage_datagrams_change_nothing() {
    let mut call = Call::new();
    let mut seed = 7u32;
    for len in 0..400usize {
        let bytes: Vec<u8> = (0..len % 97)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        call.server.handle_datagram(call.now, Protocol::Udp, CLIENT, SERVER, &bytes);
    }
    assert_eq!(call.server.ice_state(), IceState::New);
    call.run(Duration::from_millis(300));
    assert_eq!(call.server.ice_state(), IceState::Completed);
}

/// The design of payload types rests on this str0m behaviour (see
/// docs/transports.md): RTP whose payload type is only a placeholder in the
/// receiver's table (registered before the sender's codec was known) still
/// reaches the application, with its payload type untouched.
#[test]
fn str0m_delivers_rtp_whose_payload_type_is_a_placeholder() {
    use str0m::format::{Codec, FormatParams};
    use str0m::media::{Frequency, MediaKind, Mid, Pt};
    use str0m::rtp::{RtpWrite, SeqNo, Ssrc};

    let now = Instant::now();
    let mid = Mid::from("0");
    let ssrc = Ssrc::from(1234);
    // The server's table: the room's opus at 100; every other dynamic PT a placeholder.
    let mut server_config = RtcConfig::new().set_ice_lite(true).set_rtp_mode(true).clear_codecs();
    let table = server_config.codec_config();
    table.add_config(Pt::from(100), None, Codec::Opus, Frequency::FORTY_EIGHT_KHZ, Some(2), FormatParams::default());
    for pt in (96..=127u8).filter(|pt| *pt != 100) {
        table.add_config(Pt::from(pt), None, Codec::Vp8, Frequency::NINETY_KHZ, None, FormatParams::default());
    }
    let mut server = server_config.build(now);
    // The client's own table: opus at 109, as a browser might number it.
    let mut client_config = RtcConfig::new().set_rtp_mode(true).clear_codecs();
    client_config.codec_config().add_config(Pt::from(109), None, Codec::Opus, Frequency::FORTY_EIGHT_KHZ, Some(2), FormatParams::default());
    let mut client = client_config.build(now);

    server.add_local_candidate(Candidate::host(SERVER, Protocol::Udp).unwrap());
    client.add_local_candidate(Candidate::host(CLIENT, Protocol::Udp).unwrap());
    client.add_remote_candidate(Candidate::host(SERVER, Protocol::Udp).unwrap());
    let server_creds = server.direct_api().local_ice_credentials();
    let client_creds = client.direct_api().local_ice_credentials();
    let server_fp = server.direct_api().local_dtls_fingerprint().clone();
    let client_fp = client.direct_api().local_dtls_fingerprint().clone();
    {
        let mut api = server.direct_api();
        api.set_remote_ice_credentials(client_creds);
        api.set_remote_fingerprint(client_fp);
        api.start_dtls(true).unwrap();
        api.declare_media(mid, MediaKind::Audio);
        api.expect_stream_rx(ssrc, None, mid, None);
    }
    {
        let mut api = client.direct_api();
        api.set_ice_controlling(true);
        api.set_remote_ice_credentials(server_creds);
        api.set_remote_fingerprint(server_fp);
        api.start_dtls(false).unwrap();
        api.declare_media(mid, MediaKind::Audio);
        api.declare_stream_tx(ssrc, None, mid, None);
    }

    let mut now = now;
    let mut received = Vec::new();
    let mut sent = 0u64;
    for _ in 0..3000 {
        if client.is_connected() && sent < 50 {
            let write = RtpWrite::new(Pt::from(109), SeqNo::from(sent + 1), (sent * 960) as u32, now, vec![0xAB; 100]);
            client.direct_api().stream_tx(&ssrc).unwrap().write_rtp(write);
            sent += 1;
        }
        let mut timeouts = Vec::new();
        pump(&mut client, &mut server, CLIENT, SERVER, now, &mut received, &mut timeouts);
        pump(&mut server, &mut client, SERVER, CLIENT, now, &mut received, &mut timeouts);
        now = (*timeouts.iter().min().unwrap()).clamp(now + Duration::from_millis(1), now + Duration::from_millis(10));
        client.handle_input(Input::Timeout(now)).unwrap();
        server.handle_input(Input::Timeout(now)).unwrap();
        if received.len() >= 50 {
            break;
        }
    }
    assert!(client.is_connected() && server.is_connected());
    assert_eq!(received.len(), 50, "placeholder PT packets reached the server");
    assert!(received.iter().all(|pt| *pt == Pt::from(109)));
}

/// Moves everything `from` has to send into `to`; collects RTP payload types and timeouts.
fn pump(
    from: &mut Rtc,
    to: &mut Rtc,
    from_addr: SocketAddr,
    to_addr: SocketAddr,
    now: Instant,
    received: &mut Vec<str0m::media::Pt>,
    timeouts: &mut Vec<Instant>,
) {
    loop {
        match from.poll_output().unwrap() {
            Output::Transmit(transmit) => {
                let bytes: Vec<u8> = transmit.contents.into();
                let input = Input::Receive(now, Receive::new(Protocol::Udp, from_addr, to_addr, &bytes).unwrap());
                if to.accepts(&input) {
                    to.handle_input(input).unwrap();
                }
            }
            Output::Timeout(due) => {
                timeouts.push(due);
                break;
            }
            Output::Event(Event::RtpPacket(packet)) => received.push(packet.header.payload_type),
            Output::Event(_) => {}
        }
    }
}

#[test]
fn senders_and_receivers_share_a_mid_of_one_kind() {
    let mut call = Call::new();
    let now = call.now;
    let room = crate::rtp::capabilities::room_rtp_capabilities(None).unwrap();
    call.server.add_receiver("r", MediaKind::Video, &parsed_with_mid(&room, "0"), now).unwrap();
    // An SDP section that is sendrecv: the endpoint's video in, another's out.
    let err = call.server.add_sender("0", MediaKind::Audio, 5, None, now).unwrap_err();
    assert!(err.message.contains("another kind"), "{err}");
    call.server.add_sender("0", MediaKind::Video, 5, Some(6), now).unwrap();
    let err = call.server.add_sender("0", MediaKind::Video, 7, None, now).unwrap_err();
    assert!(err.message.contains("used by another stream"), "{err}");
    assert!(call.server.add_sender("", MediaKind::Video, 7, None, now).is_err());
    // Removing either side keeps the mid for the other.
    call.server.remove_sender("0", 5, now);
    assert!(call.server.rtc.media(str0m::media::Mid::from("0")).is_some());
    call.server.add_sender("0", MediaKind::Video, 5, Some(6), now).unwrap();
    call.server.remove_receiver("r", now);
    assert!(call.server.rtc.media(str0m::media::Mid::from("0")).is_some());
    call.server.remove_sender("0", 5, now);
    assert!(call.server.rtc.media(str0m::media::Mid::from("0")).is_none());
    // The other way round: a stream received on a mid a sender has (an
    // endpoint that starts sending on a section it received on).
    call.server.add_sender("1", MediaKind::Audio, 8, None, now).unwrap();
    let err = call.server.add_receiver("r", MediaKind::Video, &parsed_with_mid(&room, "1"), now).unwrap_err();
    assert!(err.message.contains("another kind"), "{err}");
    call.server.add_sender("2", MediaKind::Video, 9, None, now).unwrap();
    call.server.add_receiver("r", MediaKind::Video, &parsed_with_mid(&room, "2"), now).unwrap();
    call.server.remove_sender("2", 9, now);
    assert!(call.server.rtc.media(str0m::media::Mid::from("2")).is_some());
}

fn parsed_with_mid(room: &crate::rtp::capabilities::RtpCapabilities, mid: &str) -> crate::rtp::parameters::ReceiveParameters {
    let parameters = json!({
        "mid": mid,
        "codecs": [{"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000}],
        "encodings": [{"ssrc": 1111}],
    });
    crate::rtp::parameters::parse_receive_parameters(&parameters, MediaKind::Video, room).unwrap()
}


#[test]
fn a_channel_closed_before_the_association_is_up_holds_its_stream_then_closes() {
    let mut call = Call::with_sctp();
    let on = |stream_id: u16| ChannelOptions { stream_id: Some(stream_id), ..ChannelOptions::in_band("chat", "") };
    let early = call.server.open_data_channel(on(3), call.now).unwrap();
    call.server.close_data_channel(early, call.now);
    let in_band = call.server.open_data_channel(ChannelOptions::in_band("gone", ""), call.now).unwrap();
    call.server.close_data_channel(in_band, call.now);
    // str0m keeps both until the association is up: stream 3 is taken (an
    // error, where str0m would panic and end the transport).
    let error = call.server.open_data_channel(on(3), call.now).unwrap_err();
    assert!(error.message.contains("SCTP stream 3 is taken"), "{}", error.message);
    assert_ne!(call.server.free_stream_id(), Some(3));
    let kept = call.server.open_data_channel(on(4), call.now).unwrap();
    let remote = json!({"role": "server", "fingerprints": [call.client_fingerprint("sha-256")]});
    call.server.set_remote_dtls_parameters(&remote, call.now).unwrap();
    call.run(Duration::from_secs(3));
    assert_eq!(call.server.dtls_state(), DtlsState::Connected, "{:?}", call.notifications);
    // Up: a channel announced in band has its stream but is not open until
    // the endpoint acknowledges it; closed before, it is one of those too.
    let late = call.server.open_data_channel(ChannelOptions::in_band("late", ""), call.now).unwrap();
    call.now += Duration::from_millis(5);
    call.server.handle_timeout(call.now); // its stream given, its DCEP open sent
    call.server.close_data_channel(late, call.now);
    // str0m opens the closed channels and the transport closes them, never
    // taking them for the endpoint's (no event): it holds the one kept; the
    // client saw the in-band ones open, then reset.
    call.run(Duration::from_secs(2));
    let mut events = Vec::new();
    call.server.take_data_events(&mut events);
    assert_eq!(events, []);
    let dump = call.server.data_channels_dump();
    assert_eq!(dump.len(), 1, "{dump:?}");
    assert_eq!(dump[0]["sctpStreamParameters"]["streamId"], json!(4));
    assert!(call.server.data_channels().get(kept).is_some());
    let gone = call.client_opened.iter().find(|(label, _)| label == "gone").and_then(|(_, stream_id)| *stream_id).unwrap();
    assert!(call.client.direct_api().channel_id_by_sctp_stream_id(gone).is_none(), "{:?}", call.client_opened);
    assert!(call.client_opened.iter().any(|(label, _)| label == "late"), "{:?}", call.client_opened);
    // Its reset done, stream 3 opens again.
    let again = call.server.open_data_channel(on(3), call.now).unwrap();
    call.run(Duration::from_secs(1));
    assert_eq!(call.server.data_channels_dump().len(), 2);
    assert!(call.server.data_channels().get(again).is_some());
    assert_eq!(call.server.data_channels().closed_early(), 0);
}

