use super::*;

fn file(path: &str) -> PublishedFile {
    PublishedFile {
        path: path.into(),
        url_path: format!("/static/webseed/{path}"),
        size: 42,
        etag: "\"e\"".into(),
        last_modified: 1_700_000_000,
        content_type: "video/mp4".into(),
        info_hash: InfoHash([7; 20]),
    }
}

#[test]
fn every_message_round_trips_through_a_frame() {
    let node_msgs = vec![
        NodeMessage::Hello {
            version: CHANNEL_VERSION,
            node: "edge-1".into(),
            token: "t".into(),
            folders: vec!["".into(), "movies".into()],
            resume: Some(Resume { log_id: "L".into(), seq: 9 }),
            public_url: Some("https://edge-1.example.org".into()),
            capabilities: vec![crate::fetch::FETCH_CAPABILITY.into()],
        },
        NodeMessage::FetchReport(crate::fetch::FetchReport {
            id: "c".into(),
            state: crate::fetch::FetchState::Downloading,
            done_bytes: 1,
            total_bytes: 2,
            reason: None,
        }),
        NodeMessage::Ack { seq: 3, files_served: 2, rejected: vec![RejectedFile { url_path: "/a".into(), reason: "missing".into() }] },
        NodeMessage::Stats(NodeStats { bytes_served: 1, requests: 2, errors: 3, peers: 4, swarms: 5, tracker_messages: 7, tracker_messages_per_sec: 8, disk_free_bytes: 6 }),
    ];
    for m in node_msgs {
        let frame = encode(&m);
        assert_eq!(frame_len(frame[..4].try_into().unwrap()).unwrap(), frame.len() - 4);
        assert_eq!(decode_frame::<NodeMessage>(&frame).unwrap(), Some((m, frame.len())));
    }
    let control_msgs = vec![
        ControlMessage::Welcome { version: 1, log_id: "L".into(), stats_interval_secs: 10 },
        ControlMessage::Discard(crate::fetch::Discard { id: "c".into() }),
        ControlMessage::Refused { reason: "no".into() },
        ControlMessage::Update {
            seq: 1,
            update: NodeUpdate::Snapshot {
                files: vec![file("a.mp4")],
                tracked: vec![TrackedVideo { path: "b.mp4".into(), info_hash: InfoHash([3; 20]) }],
                extra_info_hashes: vec![InfoHash([1; 20])],
                tracker: TrackerSettings { open: true },
            },
        },
        ControlMessage::Update {
            seq: 2,
            update: NodeUpdate::Delta {
                changes: vec![
                    Change::Upsert { file: file("b.mp4") },
                    Change::Track { video: TrackedVideo { path: "c.mp4".into(), info_hash: InfoHash([4; 20]) } },
                    Change::Remove { path: "a.mp4".into() },
                    Change::AllowInfoHash { info_hash: InfoHash([2; 20]) },
                    Change::RevokeInfoHash { info_hash: InfoHash([1; 20]) },
                    Change::Tracker { settings: TrackerSettings::default() },
                ],
            },
        },
    ];
    for m in control_msgs {
        let frame = encode(&m);
        assert_eq!(decode_frame::<ControlMessage>(&frame).unwrap(), Some((m, frame.len())));
    }
}

#[test]
fn partial_frames_wait_and_bad_ones_are_refused() {
    let frame = encode(&ControlMessage::Refused { reason: "x".into() });
    for cut in 0..frame.len() {
        assert_eq!(decode_frame::<ControlMessage>(&frame[..cut]), Ok(None), "cut at {cut}");
    }
    let mut two = frame.clone();
    two.extend_from_slice(&frame);
    let (_, used) = decode_frame::<ControlMessage>(&two).unwrap().unwrap();
    assert_eq!(used, frame.len(), "only the first frame is taken");
    let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
    assert_eq!(decode_frame::<ControlMessage>(&huge), Err(FrameError::TooLarge(MAX_FRAME + 1)));
    let mut garbage = 3u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(b"{x}");
    assert!(matches!(decode_frame::<ControlMessage>(&garbage), Err(FrameError::Malformed(_))));
    assert!(matches!(frame_header(MAX_FRAME + 1), Err(FrameError::TooLarge(_))));
}

#[test]
fn folders_hold_their_own_paths_only() {
    assert!(folder_holds("", "a.mp4"));
    assert!(folder_holds("movies", "movies/a.mp4"));
    assert!(folder_holds("/movies/", "movies/x/a.mp4"));
    assert!(!folder_holds("movies", "moviesX/a.mp4"));
    assert!(!folder_holds("movies", "movies"));
    assert!(!folder_holds("movies/x", "movies/a.mp4"));
}

#[test]
fn fuzz_entry_survives_arbitrary_bytes() {
    let mut seed = 0x1234_5678_u64;
    for len in 0..400 {
        let mut data: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        if len >= 4 {
            data[..4].copy_from_slice(&((len - 4) as u32).to_be_bytes());
        }
        fuzz_one(&data);
    }
    fuzz_one(&encode(&ControlMessage::Welcome { version: 1, log_id: "x".into(), stats_interval_secs: 1 }));
}

#[test]
fn an_older_nodes_hello_without_capabilities_is_read() {
    let old = r#"{"type":"hello","version":1,"node":"n","token":"t","folders":[],"resume":null}"#;
    match decode::<NodeMessage>(old.as_bytes()).unwrap() {
        NodeMessage::Hello { capabilities, public_url, .. } => assert!(capabilities.is_empty() && public_url.is_none()),
        other => panic!("{other:?}"),
    }
}
