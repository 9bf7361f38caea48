//! Lives and audience in both engines: going live opens one live (once), leaving live
//! closes it; a node's reports of a minute add up, the largest peak kept, and nodes sum.

use super::*;
use livecart_store::AudienceMinute;

#[test]
fn lives_follow_the_room_status_and_audience_adds_up() {
    both("audience", |s| {
        let room = s.create_room("m1", "Live").expect("room");
        assert!(s.lives(&room.id, 10).expect("lives").is_empty());
        s.set_room_status(&room.id, RoomStatus::Live).expect("live");
        s.set_room_status(&room.id, RoomStatus::Live)
            .expect("live again");
        let open = s.lives(&room.id, 10).expect("lives");
        assert_eq!(open.len(), 1, "going live twice is one live: {open:?}");
        assert_eq!(open[0].ended_ms, None);
        std::thread::sleep(std::time::Duration::from_millis(3));
        s.set_room_status(&room.id, RoomStatus::Ended).expect("end");
        let closed = s.lives(&room.id, 10).expect("lives");
        assert!(
            closed[0].ended_ms.is_some_and(|e| e > closed[0].started_ms),
            "{closed:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(3));
        s.set_room_status(&room.id, RoomStatus::Live).expect("live");
        let both_lives = s.lives(&room.id, 10).expect("lives");
        assert_eq!(both_lives.len(), 2);
        assert!(
            both_lives[0].started_ms > both_lives[1].started_ms,
            "newest first"
        );
        assert_eq!(s.lives(&room.id, 1).expect("lives").len(), 1);
        assert!(matches!(
            s.set_room_status("r_nope", RoomStatus::Live),
            Err(StoreError::NotFound(_))
        ));
        assert!(s.lives("r_nope", 10).expect("lives").is_empty());

        for (node, minute, viewer_ms, peak) in [
            ("n1", 60_000, 1_000, 3),
            ("n1", 60_000, 500, 2), // a later part of the same minute: adds, peak stays 3
            ("n2", 60_000, 250, 4), // another node's viewers
            ("n1", 120_000, 10, 1),
            ("n1", 180_000, 10, 1), // past the range asked for
        ] {
            s.record_audience(&room.id, node, minute, viewer_ms, peak)
                .expect("report");
        }
        let minute = |minute_ms, viewer_ms, peak| AudienceMinute {
            minute_ms,
            viewer_ms,
            peak,
        };
        assert_eq!(
            s.audience(&room.id, 60_000, 180_000).expect("audience"),
            [minute(60_000, 1_750, 7), minute(120_000, 10, 1)]
        );
    });
}
