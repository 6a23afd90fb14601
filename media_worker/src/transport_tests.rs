//! A transport connected to a str0m client through memory, with fake time:
//! ICE, DTLS, fingerprints and restarts without a socket or a clock.

use super::*;
use crate::crypto::fingerprint;
use std::net::Ipv4Addr;

const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000);

fn certificate() -> DtlsCert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["test".into()]).unwrap().self_signed(&key).unwrap();
    DtlsCert { certificate: cert.der().to_vec(), private_key: key.serialize_der() }
}

fn options() -> TransportOptions {
    TransportOptions { udp: true, tcp: false, prefer_ipv4: false, prefer_ipv6: false, prefer_udp: false, prefer_tcp: false, enable_sctp: false }
}

struct Call {
    now: Instant,
    server: Transport,
    client: Rtc,
    client_certificate: DtlsCert,
    notifications: Vec<TransportNotification>,
}

impl Call {
    /// A server transport and a full-ICE controlling client that knows the
    /// server's ICE credentials and sha-256 fingerprint, as a browser would.
    fn new() -> Self {
        let now = Instant::now();
        let socket = BoundSocket { protocol: Protocol::Udp, address: SERVER, announced_ip: None };
        let server = Transport::new("t".into(), "p".into(), &certificate(), vec![socket], options(), now).unwrap();
        let local = server.local_parameters();
        let client_certificate = certificate();
        let mut client = RtcConfig::new().set_rtp_mode(true).set_dtls_cert(client_certificate.clone()).build(now);
        client.add_local_candidate(Candidate::host(CLIENT, Protocol::Udp).unwrap());
        client.add_remote_candidate(Candidate::host(SERVER, Protocol::Udp).unwrap());
        let sha256 = local["dtlsLocalParameters"]["fingerprints"][0]["value"].as_str().unwrap().to_owned();
        let mut api = client.direct_api();
        api.set_ice_controlling(true);
        api.set_remote_ice_credentials(IceCreds {
            ufrag: local["iceLocalParameters"]["usernameFragment"].as_str().unwrap().into(),
            pass: local["iceLocalParameters"]["password"].as_str().unwrap().into(),
        });
        api.set_remote_fingerprint(format!("sha-256 {sha256}").parse().unwrap());
        // The server will be the DTLS client ("remote role: server").
        api.start_dtls(false).unwrap();
        Self { now, server, client, client_certificate, notifications: Vec::new() }
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
