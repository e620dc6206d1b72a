use super::*;

fn bin(b: u8) -> Bin20 {
    Bin20([b; 20])
}

fn js_bin(b: &Bin20) -> String {
    let mut out = Vec::new();
    push_bin20_json(&mut out, b);
    String::from_utf8(out).unwrap()
}

/// The binary string as a Rust string (serde_json escapes it when serialising).
fn js_bin_str(b: &Bin20) -> String {
    b.0.iter().map(|&x| char::from(x)).collect()
}

fn limits() -> ParseLimits {
    ParseLimits::default()
}

#[test]
fn bin20_round_trips_every_byte_value() {
    for start in [0u8, 20, 120, 236] {
        let mut bytes = [0u8; 20];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = start.wrapping_add(i as u8);
        }
        let b = Bin20(bytes);
        let json = js_bin(&b);
        let back: Bin20 = serde_json::from_str(&json).unwrap();
        assert_eq!(back, b, "{json}");
    }
    // Characters above U+00FF, and wrong lengths in characters, are refused.
    assert!(decode_bin20(&"\u{100}".repeat(20)).is_none());
    assert!(decode_bin20(&"a".repeat(19)).is_none());
    assert!(decode_bin20(&"a".repeat(21)).is_none());
    // 20 characters that are 40 bytes of UTF-8 are fine.
    assert_eq!(decode_bin20(&"\u{ff}".repeat(20)), Some(bin(0xff)));
}

#[test]
fn parses_an_announce_with_offers() {
    let msg = format!(
        r#"{{"action":"announce","info_hash":{},"peer_id":{},"numwant":5,"uploaded":0,"downloaded":0,"left":100,"event":"started","offers":[{{"offer":{{"type":"offer","sdp":"v=0\r\n"}},"offer_id":{}}}]}}"#,
        js_bin(&bin(1)),
        js_bin(&bin(2)),
        js_bin(&bin(3))
    );
    let Request::Announce(a) = parse_request(msg.as_bytes(), &limits()).unwrap() else { panic!() };
    assert_eq!(a.info_hash, bin(1));
    assert_eq!(a.peer_id, bin(2));
    assert_eq!(a.event, Event::Started);
    assert_eq!(a.left, Some(100));
    assert_eq!(a.offers.len(), 1);
    assert_eq!(a.offers[0].offer_id, bin(3));
    assert_eq!(a.offers[0].offer.get(), r#"{"type":"offer","sdp":"v=0\r\n"}"#);
    assert!(a.answer.is_none());
}

#[test]
fn parses_answers_and_events() {
    let msg = format!(
        r#"{{"action":"announce","info_hash":{},"peer_id":{},"to_peer_id":{},"offer_id":{},"answer":{{"type":"answer","sdp":"x"}}}}"#,
        js_bin(&bin(1)),
        js_bin(&bin(2)),
        js_bin(&bin(4)),
        js_bin(&bin(3))
    );
    let Request::Announce(a) = parse_request(msg.as_bytes(), &limits()).unwrap() else { panic!() };
    let ans = a.answer.unwrap();
    assert_eq!((ans.to_peer_id, ans.offer_id), (bin(4), bin(3)));
    assert_eq!(a.event, Event::Update);
    assert_eq!(a.left, None);
    for (ev, want) in [("paused", Event::Update), ("completed", Event::Completed), ("stopped", Event::Stopped), ("update", Event::Update)] {
        let msg = format!(r#"{{"action":"announce","info_hash":{},"peer_id":{},"event":"{ev}"}}"#, js_bin(&bin(1)), js_bin(&bin(2)));
        let Request::Announce(a) = parse_request(msg.as_bytes(), &limits()).unwrap() else { panic!() };
        assert_eq!(a.event, want);
    }
}

#[test]
fn errors_name_action_and_info_hash_when_known() {
    let ih = js_bin(&bin(1));
    let e = parse_request(format!(r#"{{"action":"announce","info_hash":{ih},"peer_id":"short"}}"#).as_bytes(), &limits()).unwrap_err();
    assert_eq!((e.action, e.info_hash, e.reason.as_ref()), (Some(Action::Announce), Some(bin(1)), "invalid peer_id"));
    let e = parse_request(format!(r#"{{"action":"announce","info_hash":{ih},"peer_id":{ih},"event":"bogus"}}"#).as_bytes(), &limits()).unwrap_err();
    assert_eq!(e.reason, "invalid event");
    let e = parse_request(br#"{"action":"announce","info_hash":"abc","peer_id":"x"}"#, &limits()).unwrap_err();
    assert_eq!((e.action, e.info_hash), (Some(Action::Announce), None));
    assert_eq!(e.reason, "invalid info_hash");
    let e = parse_request(br#"{"action":"fly"}"#, &limits()).unwrap_err();
    assert!(e.reason.contains("invalid action"));
    assert!(parse_request(b"not json", &limits()).unwrap_err().reason.starts_with("invalid JSON"));
    assert!(parse_request(b"[1,2]", &limits()).is_err());
    let offers: Vec<String> = (0..11).map(|i| format!(r#"{{"offer":{{}},"offer_id":{}}}"#, js_bin(&bin(i)))).collect();
    let e = parse_request(format!(r#"{{"action":"announce","info_hash":{ih},"peer_id":{ih},"offers":[{}]}}"#, offers.join(",")).as_bytes(), &limits()).unwrap_err();
    assert!(e.reason.contains("too many offers"));
}

#[test]
fn scrape_one_many_or_none() {
    let one = format!(r#"{{"action":"scrape","info_hash":{}}}"#, js_bin(&bin(1)));
    let Request::Scrape(s) = parse_request(one.as_bytes(), &limits()).unwrap() else { panic!() };
    assert_eq!(s.info_hashes, vec![bin(1)]);
    let many = format!(r#"{{"action":"scrape","info_hash":[{},{}]}}"#, js_bin(&bin(1)), js_bin(&bin(2)));
    let Request::Scrape(s) = parse_request(many.as_bytes(), &limits()).unwrap() else { panic!() };
    assert_eq!(s.info_hashes, vec![bin(1), bin(2)]);
    let Request::Scrape(s) = parse_request(br#"{"action":"scrape"}"#, &limits()).unwrap() else { panic!() };
    assert!(s.info_hashes.is_empty());
}

#[test]
fn replies_are_json_with_binary_strings() {
    let r = Reply::Announce { info_hash: bin(0xff), counts: Counts { complete: 2, incomplete: 3 }, interval: 120 };
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["action"], "announce");
    assert_eq!(v["interval"], 120);
    assert_eq!(v["complete"], 2);
    assert_eq!(v["incomplete"], 3);
    assert_eq!(v["info_hash"].as_str().unwrap(), "\u{ff}".repeat(20));
    let offer: Box<RawValue> = RawValue::from_string(r#"{"type":"offer","sdp":"a\"b"}"#.into()).unwrap();
    let r = Reply::Offer { info_hash: bin(0), peer_id: bin(b'"'), offer_id: bin(b'\\'), offer };
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["offer"]["sdp"], "a\"b");
    assert_eq!(v["peer_id"].as_str().unwrap(), "\"".repeat(20));
    assert_eq!(v["offer_id"].as_str().unwrap(), "\\".repeat(20));
    assert_eq!(v["info_hash"].as_str().unwrap(), "\u{0}".repeat(20));
    let r = Reply::Error { action: Some(Action::Announce), info_hash: Some(bin(7)), reason: "nope \"x\"".into() };
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["failure reason"], "nope \"x\"");
    assert_eq!(v["action"], "announce");
    assert_eq!(v["info_hash"].as_str().unwrap().chars().count(), 20);
    let r = Reply::Scrape { files: vec![(bin(1), Counts { complete: 1, incomplete: 0 })], min_request_interval: 600 };
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["files"]["\u{1}".repeat(20)]["complete"], 1);
    assert_eq!(v["flags"]["min_request_interval"], 600);
}

#[test]
fn what_browsers_send_takes_the_one_pass_path() {
    let id = js_bin_str(&bin(1));
    let browser = [
        serde_json::json!({"action": "announce", "info_hash": js_bin_str(&bin(2)), "peer_id": id, "numwant": 5,
            "uploaded": 0, "downloaded": 0, "left": 1000, "event": "started",
            "offers": [{"offer": {"type": "offer", "sdp": "v=0"}, "offer_id": js_bin_str(&bin(3))}]}),
        serde_json::json!({"action": "announce", "info_hash": js_bin_str(&bin(2)), "peer_id": id,
            "to_peer_id": js_bin_str(&bin(4)), "answer": {"type": "answer", "sdp": "v=0"}, "offer_id": js_bin_str(&bin(3))}),
        serde_json::json!({"action": "announce", "info_hash": js_bin_str(&bin(2)), "peer_id": id, "numwant": 5,
            "uploaded": 10, "downloaded": 20, "left": null, "offers": []}),
    ];
    for m in browser {
        let text = m.to_string();
        assert!(parse_announce_fast(text.as_bytes(), &limits()).is_some(), "{text}");
    }
}

proptest::proptest! {
    #[test]
    fn parser_never_panics_and_replies_are_json(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        fuzz_one(&data);
    }

    #[test]
    fn structured_messages_round_trip(peer in proptest::array::uniform20(proptest::prelude::any::<u8>()), left in proptest::option::of(0u64..1 << 40)) {
        let v = serde_json::json!({
            "action": "announce",
            "info_hash": js_bin_str(&bin(5)),
            "peer_id": js_bin_str(&Bin20(peer)),
            "left": left,
            "offers": [{"offer": {"type": "offer", "sdp": "s"}, "offer_id": js_bin_str(&Bin20(peer))}],
        });
        let Request::Announce(a) = parse_request(v.to_string().as_bytes(), &limits()).unwrap() else { panic!() };
        proptest::prop_assert_eq!(a.peer_id, Bin20(peer));
        proptest::prop_assert_eq!(a.left, left);
        fuzz_one(v.to_string().as_bytes());
    }

    /// Announces with each field drawn from good, null, missing and wrong values: whenever the
    /// one-pass parser accepts one, the checked parser must read exactly the same request (the
    /// one-pass parser may pass a message on to the checked one, never read it differently).
    #[test]
    fn one_pass_and_checked_parsers_agree(
        picks in proptest::collection::vec(0usize..6, 10),
        n_offers in 0usize..13,
        peer in proptest::array::uniform20(proptest::prelude::any::<u8>()),
    ) {
        let id = js_bin_str(&Bin20(peer));
        let choose = |k: usize, options: Vec<Option<serde_json::Value>>| options[picks[k] % options.len()].clone();
        let fields: Vec<(&str, Option<serde_json::Value>)> = vec![
            ("action", choose(0, vec![Some(serde_json::json!("announce")), Some(serde_json::json!("announce")), Some(serde_json::json!("scrape")), Some(serde_json::json!(7)), None])),
            ("info_hash", choose(1, vec![Some(serde_json::json!(js_bin_str(&bin(3)))), Some(serde_json::json!("short")), Some(serde_json::json!([js_bin_str(&bin(3))])), Some(serde_json::json!(null)), None])),
            ("peer_id", choose(2, vec![Some(serde_json::json!(id.clone())), Some(serde_json::json!("\u{100}".repeat(20))), None])),
            ("event", choose(3, vec![Some(serde_json::json!("started")), Some(serde_json::json!("completed")), Some(serde_json::json!("paused")), Some(serde_json::json!("bogus")), Some(serde_json::json!(null)), None])),
            ("left", choose(4, vec![Some(serde_json::json!(0)), Some(serde_json::json!(12.5)), Some(serde_json::json!(-1)), Some(serde_json::json!("5")), Some(serde_json::json!(null)), None])),
            ("answer", choose(5, vec![Some(serde_json::json!({"type": "answer", "sdp": "a"})), Some(serde_json::json!(null)), None])),
            ("to_peer_id", choose(6, vec![Some(serde_json::json!(id.clone())), Some(serde_json::json!(1)), None])),
            ("offer_id", choose(7, vec![Some(serde_json::json!(js_bin_str(&bin(9)))), Some(serde_json::json!(null)), None])),
            ("numwant", choose(8, vec![Some(serde_json::json!(50)), Some(serde_json::json!("x")), None])),
            ("offers", choose(9, vec![
                Some(serde_json::json!((0..n_offers).map(|i| serde_json::json!({"offer": {"sdp": i}, "offer_id": js_bin_str(&bin(i as u8))})).collect::<Vec<_>>())),
                Some(serde_json::json!([{"offer": 1}])),
                Some(serde_json::json!(null)),
                None,
            ])),
        ];
        let mut obj = serde_json::Map::new();
        for (k, v) in fields {
            if let Some(v) = v {
                obj.insert(k.to_owned(), v);
            }
        }
        let text = serde_json::Value::Object(obj).to_string();
        let fast = parse_announce_fast(text.as_bytes(), &limits());
        let checked = parse_request_checked(text.as_bytes(), &limits());
        if let Some(fast) = &fast {
            proptest::prop_assert_eq!(format!("{:?}", Ok::<_, ParseError>(Request::Announce(fast.clone()))), format!("{checked:?}"));
        }
        fuzz_one(text.as_bytes());
    }

    #[test]
    fn bin20_json_round_trip(bytes in proptest::array::uniform20(proptest::prelude::any::<u8>())) {
        let b = Bin20(bytes);
        let back: Bin20 = serde_json::from_str(&js_bin(&b)).unwrap();
        proptest::prop_assert_eq!(back, b);
    }
}

#[test]
fn bin20_json_escapes_quotes_backslashes_control_characters_and_del() {
    let mut b = [b'a'; 20];
    b[..7].copy_from_slice(&[b'"', b'\\', 0, 0x1f, 0x7f, 0x80, 0xff]);
    let expected = "\"\\\"\\\\\\u0000\\u001f\\u007f\u{80}\u{ff}aaaaaaaaaaaaa\"";
    assert_eq!(js_bin(&Bin20(b)), expected);
    // Appended after what is there, nothing of the room it reserved left behind.
    let mut out = b"{\"x\":".to_vec();
    push_bin20_json(&mut out, &Bin20(b));
    assert_eq!(out, [b"{\"x\":".as_slice(), expected.as_bytes()].concat());
}

#[test]
fn bin20_json_reads_back_as_the_same_byte_for_every_byte_value() {
    for byte in 0..=255u8 {
        let mut b = [byte; 20];
        b[19] = b'z';
        let text = js_bin(&Bin20(b));
        let back: String = serde_json::from_str(&text).expect("a JSON string");
        let bytes: Vec<u8> = back.chars().map(|c| u8::try_from(u32::from(c)).expect("U+0000..U+00FF")).collect();
        assert_eq!(bytes, b, "byte {byte:#04x}: {text}");
    }
}
