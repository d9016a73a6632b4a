//! The election notification byte format: exact layout, legacy forms, and rejection of bad input.

use proptest::prelude::*;
use zab_core::election::{DecodeError, Notification, PeerState, Vote, NOTIFICATION_VERSION};
use zab_core::{Epoch, ServerId};
use zab_tree::Zxid;

fn sample() -> Notification {
    Notification {
        state: PeerState::Following,
        vote: Some(Vote { leader: ServerId(3), zxid: Some(Zxid::new(2, 7)), peer_epoch: Epoch(2) }),
        round: 5,
        sender: ServerId(1),
        version: NOTIFICATION_VERSION,
    }
}

/// Builds the first 28 bytes (state, leader, zxid, round) by hand.
fn head(state: i32, leader: i64, zxid: i64, round: i64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&state.to_be_bytes());
    b.extend_from_slice(&leader.to_be_bytes());
    b.extend_from_slice(&zxid.to_be_bytes());
    b.extend_from_slice(&round.to_be_bytes());
    b
}

fn long_form(state: i32, leader: i64, zxid: i64, round: i64, peer_epoch: i64, version: i32) -> Vec<u8> {
    let mut b = head(state, leader, zxid, round);
    b.extend_from_slice(&peer_epoch.to_be_bytes());
    b.extend_from_slice(&version.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes());
    b
}

#[test]
fn current_form_is_44_big_endian_bytes_with_an_empty_config() {
    let bytes = sample().encode();
    let expected: Vec<u8> = [
        &[0, 0, 0, 1][..],         // FOLLOWING
        &[0, 0, 0, 0, 0, 0, 0, 3], // leader 3
        &[0, 0, 0, 2, 0, 0, 0, 7], // zxid 0x200000007
        &[0, 0, 0, 0, 0, 0, 0, 5], // round 5
        &[0, 0, 0, 0, 0, 0, 0, 2], // peer epoch 2
        &[0, 0, 0, 2],             // version 2
        &[0, 0, 0, 0],             // config length 0
    ]
    .concat();
    assert_eq!(bytes, expected);
    assert_eq!(Notification::decode(ServerId(1), &bytes), Ok(sample()));
}

#[test]
fn the_sender_comes_from_the_connection_not_the_bytes() {
    let decoded = Notification::decode(ServerId(9), &sample().encode()).unwrap();
    assert_eq!(decoded.sender, ServerId(9));
}

#[test]
fn an_uninitialized_database_travels_as_zxid_minus_one() {
    let mut n = sample();
    n.vote = Some(Vote { leader: ServerId(3), zxid: None, peer_epoch: Epoch(0) });
    let bytes = n.encode();
    assert_eq!(&bytes[12..20], &(-1i64).to_be_bytes());
    assert_eq!(Notification::decode(ServerId(1), &bytes).unwrap().vote, n.vote);
}

#[test]
fn proposing_nobody_travels_as_minimum_longs() {
    let mut n = sample();
    n.state = PeerState::Looking;
    n.vote = None;
    let bytes = n.encode();
    for field in [4..12, 12..20, 28..36] {
        assert_eq!(&bytes[field], &i64::MIN.to_be_bytes());
    }
    assert_eq!(Notification::decode(ServerId(1), &bytes), Ok(n));
}

#[test]
fn the_28_byte_legacy_form_takes_the_peer_epoch_from_the_zxid() {
    let bytes = head(0, 4, Zxid::new(6, 1).0 as i64, 2);
    let n = Notification::decode(ServerId(4), &bytes).unwrap();
    assert_eq!(n.state, PeerState::Looking);
    assert_eq!(n.vote, Some(Vote { leader: ServerId(4), zxid: Some(Zxid::new(6, 1)), peer_epoch: Epoch(6) }));
    assert_eq!(n.round, 2);
    assert_eq!(n.version, 0);
}

#[test]
fn the_40_byte_legacy_form_carries_a_peer_epoch_and_no_version() {
    let mut bytes = head(2, 4, 17, 3);
    bytes.extend_from_slice(&9i64.to_be_bytes());
    bytes.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // unused padding
    let n = Notification::decode(ServerId(4), &bytes).unwrap();
    assert_eq!(n.state, PeerState::Leading);
    assert_eq!(n.vote.unwrap().peer_epoch, Epoch(9));
    assert_eq!(n.version, 0);
}

#[test]
fn version_zero_encodes_as_the_40_byte_form() {
    let mut n = sample();
    n.version = 0;
    let bytes = n.encode();
    assert_eq!(bytes.len(), 40);
    assert_eq!(Notification::decode(ServerId(1), &bytes), Ok(n));
}

#[test]
fn config_bytes_of_the_announced_length_are_accepted_and_discarded() {
    let mut bytes = long_form(0, 1, 5, 1, 0, 2);
    bytes.truncate(40);
    bytes.extend_from_slice(&3i32.to_be_bytes());
    bytes.extend_from_slice(b"a=b");
    let n = Notification::decode(ServerId(1), &bytes).unwrap();
    assert_eq!(n.version, 2);
    assert_eq!(n.vote.unwrap().zxid, Some(Zxid(5)));
}

#[test]
fn input_shorter_than_28_bytes_is_rejected() {
    let bytes = &sample().encode()[..27];
    assert_eq!(Notification::decode(ServerId(1), bytes), Err(DecodeError::TooShort { len: 27 }));
    assert_eq!(Notification::decode(ServerId(1), &[]), Err(DecodeError::TooShort { len: 0 }));
}

#[test]
fn lengths_between_the_known_forms_are_rejected() {
    for len in [29, 35, 36, 39, 41, 43] {
        let mut bytes = sample().encode();
        bytes.resize(len, 0);
        assert_eq!(
            Notification::decode(ServerId(1), &bytes),
            Err(DecodeError::BadLength { len }),
            "len {len}"
        );
    }
}

#[test]
fn an_unknown_state_ordinal_is_rejected() {
    let bytes = long_form(4, 1, 1, 1, 0, 2);
    assert_eq!(Notification::decode(ServerId(1), &bytes), Err(DecodeError::UnknownState { ordinal: 4 }));
    let bytes = long_form(-1, 1, 1, 1, 0, 2);
    assert_eq!(Notification::decode(ServerId(1), &bytes), Err(DecodeError::UnknownState { ordinal: -1 }));
}

#[test]
fn a_negative_leader_other_than_nobody_is_rejected() {
    let bytes = long_form(0, -5, 1, 1, 0, 2);
    assert_eq!(Notification::decode(ServerId(1), &bytes), Err(DecodeError::NegativeLeader { leader: -5 }));
}

#[test]
fn a_negative_round_is_rejected() {
    let bytes = long_form(0, 1, 1, -1, 0, 2);
    assert_eq!(Notification::decode(ServerId(1), &bytes), Err(DecodeError::NegativeRound { round: -1 }));
}

#[test]
fn a_peer_epoch_outside_32_bits_is_rejected() {
    for peer_epoch in [-2, 1 << 32] {
        let bytes = long_form(0, 1, 1, 1, peer_epoch, 2);
        assert_eq!(
            Notification::decode(ServerId(1), &bytes),
            Err(DecodeError::PeerEpochOutOfRange { peer_epoch })
        );
    }
}

#[test]
fn a_long_form_below_version_2_is_rejected() {
    let bytes = long_form(0, 1, 1, 1, 0, 1);
    assert_eq!(
        Notification::decode(ServerId(1), &bytes),
        Err(DecodeError::UnsupportedVersion { version: 1 })
    );
}

#[test]
fn a_config_length_that_disagrees_with_the_bytes_is_rejected() {
    for (config_len, extra) in [(-1i32, 0), (5, 4), (1, 0), (0, 2)] {
        let mut bytes = long_form(0, 1, 1, 1, 0, 2);
        bytes.truncate(40);
        bytes.extend_from_slice(&config_len.to_be_bytes());
        bytes.extend(std::iter::repeat_n(b'x', extra));
        assert_eq!(
            Notification::decode(ServerId(1), &bytes),
            Err(DecodeError::BadConfigLength { config_len, remaining: extra }),
            "config length {config_len} with {extra} bytes"
        );
    }
}

#[test]
fn decode_errors_say_what_was_expected() {
    let message = DecodeError::TooShort { len: 3 }.to_string();
    assert!(message.contains("3 bytes") && message.contains("28-byte"), "{message}");
    let message = DecodeError::UnknownState { ordinal: 9 }.to_string();
    assert!(message.contains('9') && message.contains("0..=3"), "{message}");
}

fn arb_notification() -> impl Strategy<Value = Notification> {
    let state = prop_oneof![
        Just(PeerState::Looking),
        Just(PeerState::Following),
        Just(PeerState::Leading),
        Just(PeerState::Observing)
    ];
    // u64::MAX is the one zxid with no encoding of its own (it reads back as "uninitialized").
    let zxid = prop_oneof![Just(None), (0..u64::MAX).prop_map(|z| Some(Zxid(z)))];
    let vote = (0..=i64::MAX as u64, zxid, any::<u32>()).prop_map(|(leader, zxid, epoch)| Vote {
        leader: ServerId(leader),
        zxid,
        peer_epoch: Epoch(epoch),
    });
    let version = prop_oneof![Just(0u32), 2..=u32::MAX];
    (state, proptest::option::of(vote), 0..=i64::MAX as u64, any::<u64>(), version).prop_map(
        |(state, vote, round, sender, version)| Notification {
            state,
            vote,
            round,
            sender: ServerId(sender),
            version,
        },
    )
}

proptest! {
    #[test]
    fn decode_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let _ = Notification::decode(ServerId(1), &bytes);
    }

    #[test]
    fn decode_never_panics_on_corrupted_valid_notifications(
        n in arb_notification(), index in any::<prop::sample::Index>(), byte in any::<u8>(), cut in 0usize..50,
    ) {
        let mut bytes = n.encode();
        let i = index.index(bytes.len());
        bytes[i] = byte;
        bytes.truncate(bytes.len().saturating_sub(cut % 20));
        let _ = Notification::decode(n.sender, &bytes);
    }

    #[test]
    fn encode_then_decode_is_the_identity(n in arb_notification()) {
        prop_assert_eq!(Notification::decode(n.sender, &n.encode()), Ok(n));
    }

    #[test]
    fn whatever_decodes_re_encodes_to_the_same_notification(
        state in -1i32..5,
        leader in prop_oneof![Just(i64::MIN), any::<i64>(), 0i64..10],
        zxid in prop_oneof![Just(-1i64), any::<i64>()],
        round in prop_oneof![any::<i64>(), 0i64..10],
        peer_epoch in prop_oneof![any::<i64>(), 0i64..10],
        version in prop_oneof![any::<i32>(), 0i32..4],
        form in 0u8..3,
    ) {
        let bytes = match form {
            0 => head(state, leader, zxid, round),
            1 => {
                let mut b = long_form(state, leader, zxid, round, peer_epoch, version);
                b.truncate(40);
                b
            }
            _ => long_form(state, leader, zxid, round, peer_epoch, version),
        };
        if let Ok(n) = Notification::decode(ServerId(2), &bytes) {
            prop_assert_eq!(Notification::decode(ServerId(2), &n.encode()), Ok(n));
        }
    }
}
