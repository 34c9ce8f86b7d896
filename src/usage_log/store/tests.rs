use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rusqlite::Connection;

use super::*;
use crate::usage_log::report::Expiry;

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn open() -> (tempfile::TempDir, UsageLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = UsageLog::open(&dir.path().join("sub/log.sqlite3")).unwrap();
    (dir, log)
}

fn cert(n: u8) -> CertRef {
    CertRef {
        common_name: format!("Nguyễn Văn {n}"),
        serial: format!("0{n}"),
        issuer: "CN=CA".into(),
        sha256: format!("{n}").repeat(64),
        not_after: Some("2027-01-01T00:00:00Z".into()),
    }
}

fn entry(time: &str, op: Operation, outcome: Outcome) -> NewEntry {
    let mut e = NewEntry::now(op, outcome);
    e.time = at(time);
    e.os_user = "van.thu".into();
    e.host = "may-01".into();
    e
}

fn sign(time: &str, c: u8, origin: &str, outcome: Outcome) -> NewEntry {
    let mut e = entry(time, Operation::Sign, outcome);
    e.cert = Some(cert(c));
    e.token = Some(TokenRef {
        label: "TOKEN".into(),
        serial: "S1".into(),
    });
    e.origin = origin.into();
    e.document = Some(DocRef {
        name: "cong-van.pdf".into(),
        input_sha256: Some("AB".repeat(32)),
        output_sha256: (outcome == Outcome::Ok).then(|| "CD".repeat(32)),
        input_size: Some(1000),
        output_size: (outcome == Outcome::Ok).then_some(9000),
        pages: Some(2),
    });
    if outcome == Outcome::Failed {
        e.error_code = Some("PDF_ENCRYPTED".into());
    }
    e
}

fn raw(log: &UsageLog) -> Connection {
    Connection::open(log.path()).unwrap()
}

fn first_bad(log: &UsageLog) -> (i64, Problem) {
    let b = log.verify().unwrap().first_bad.expect("tampering detected");
    (b.id, b.problem)
}

#[test]
fn opens_in_wal_mode_with_full_sync_and_current_schema() {
    let (_d, log) = open();
    let conn = log.conn();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!((mode.as_str(), sync, version), ("wal", 2, schema::LATEST));
}

#[cfg(unix)]
#[test]
fn file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, log) = open();
    let mode = std::fs::metadata(log.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn record_and_query_round_trip_every_field() {
    let (_d, log) = open();
    let mut e = sign(
        "2026-02-01T09:00:00+07:00",
        1,
        "https://vanban.example.gov.vn",
        Outcome::Ok,
    );
    e.job_id = Some("job-1".into());
    e.detail = Some("ghi chú".into());
    e.pin_locked = true;
    let id = log.record(e.clone()).unwrap();
    assert_eq!(id, 1);
    let got = log.query(&Filter::default()).unwrap();
    assert_eq!(got.len(), 1);
    let g = &got[0];
    assert_eq!(
        (g.id, g.time_utc.as_str(), g.time_local.as_str()),
        (
            1,
            "2026-02-01T02:00:00.000000Z",
            "2026-02-01T09:00:00+07:00"
        )
    );
    assert_eq!(
        (g.operation, g.outcome, &g.error_code),
        (e.operation, e.outcome, &e.error_code)
    );
    assert_eq!(
        (&g.cert, &g.token, &g.document),
        (&e.cert, &e.token, &e.document)
    );
    assert_eq!(
        (&g.origin, &g.job_id, &g.os_user, &g.host),
        (&e.origin, &e.job_id, &e.os_user, &e.host)
    );
    assert_eq!(
        (g.pin_locked, &g.detail, &g.anchor),
        (true, &e.detail, &None)
    );
    assert_eq!(g.prev_hash, GENESIS);
    assert_eq!(g.hash, g.compute_hash());
}

#[test]
fn entries_without_cert_token_or_document_stay_absent() {
    let (_d, log) = open();
    log.record(entry(
        "2026-02-01T09:00:00+07:00",
        Operation::PairingDenied,
        Outcome::Ok,
    ))
    .unwrap();
    let g = &log.query(&Filter::default()).unwrap()[0];
    assert_eq!((&g.cert, &g.token, &g.document), (&None, &None, &None));
}

#[test]
fn every_operation_round_trips_and_chains() {
    let (_d, log) = open();
    for (i, op) in Operation::ALL.into_iter().enumerate() {
        let id = log
            .record(entry(
                &format!("2026-02-0{}T09:00:00+07:00", i + 1),
                op,
                Outcome::Ok,
            ))
            .unwrap();
        assert_eq!(id, i as i64 + 1);
    }
    let all = log.query(&Filter::default()).unwrap();
    assert_eq!(
        all.iter().map(|e| e.operation).collect::<Vec<_>>(),
        Operation::ALL.to_vec()
    );
    for w in all.windows(2) {
        assert_eq!(w[1].prev_hash, w[0].hash);
    }
    let v = log.verify().unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!(v.entries, 9);
}

#[test]
fn filters_select_entries() {
    let (_d, log) = open();
    log.record(sign("2026-01-10T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.record(sign(
        "2026-02-10T09:00:00+07:00",
        2,
        "https://a.gov.vn",
        Outcome::Failed,
    ))
    .unwrap();
    log.record(sign(
        "2026-03-10T09:00:00+07:00",
        1,
        "https://a.gov.vn",
        Outcome::Ok,
    ))
    .unwrap();
    let ids = |f: Filter| {
        log.query(&f)
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    let utc = |s: &str| at(s).with_timezone(&Utc);
    assert_eq!(
        ids(Filter {
            since: Some(utc("2026-02-01T00:00:00+07:00")),
            ..Default::default()
        }),
        [2, 3]
    );
    assert_eq!(
        ids(Filter {
            until: Some(utc("2026-02-10T09:00:00+07:00")),
            ..Default::default()
        }),
        [1]
    );
    assert_eq!(
        ids(Filter {
            cert: Some("02".into()),
            ..Default::default()
        }),
        [2]
    );
    assert_eq!(
        ids(Filter {
            cert: Some("văn 1".into()),
            ..Default::default()
        }),
        [1, 3]
    );
    assert_eq!(
        ids(Filter {
            cert: Some("1".repeat(64).to_lowercase()),
            ..Default::default()
        }),
        [1, 3]
    );
    assert_eq!(
        ids(Filter {
            cert: Some("%".into()),
            ..Default::default()
        }),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(Filter {
            origin: Some("https://a.gov.vn".into()),
            ..Default::default()
        }),
        [2, 3]
    );
    assert_eq!(
        ids(Filter {
            outcome: Some(Outcome::Failed),
            ..Default::default()
        }),
        [2]
    );
    assert_eq!(
        ids(Filter {
            limit: Some(2),
            ..Default::default()
        }),
        [2, 3]
    );
    assert_eq!(
        ids(Filter {
            operation: Some(Operation::Login),
            ..Default::default()
        }),
        Vec::<i64>::new()
    );
}

#[test]
fn edited_field_is_named() {
    let (_d, log) = open();
    for i in 1..=5 {
        log.record(sign(
            &format!("2026-01-0{i}T09:00:00+07:00"),
            1,
            "cli",
            Outcome::Ok,
        ))
        .unwrap();
    }
    raw(&log)
        .execute("UPDATE entries SET doc_name = 'other.pdf' WHERE id = 3", [])
        .unwrap();
    assert_eq!(first_bad(&log), (3, Problem::Edited));
}

#[test]
fn impossible_value_is_an_edit() {
    let (_d, log) = open();
    log.record(sign("2026-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.record(sign("2026-01-02T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    raw(&log)
        .execute("UPDATE entries SET outcome = 'fine' WHERE id = 2", [])
        .unwrap();
    assert_eq!(first_bad(&log), (2, Problem::Edited));
}

#[test]
fn deleted_rows_are_named() {
    let (_d, log) = open();
    for i in 1..=5 {
        log.record(sign(
            &format!("2026-01-0{i}T09:00:00+07:00"),
            1,
            "cli",
            Outcome::Ok,
        ))
        .unwrap();
    }
    raw(&log)
        .execute("DELETE FROM entries WHERE id = 2", [])
        .unwrap();
    assert_eq!(first_bad(&log), (3, Problem::Missing { from: 2, to: 2 }));
    raw(&log)
        .execute("DELETE FROM entries WHERE id = 1", [])
        .unwrap();
    assert_eq!(first_bad(&log), (3, Problem::PrefixRemoved));
}

#[test]
fn deleted_tail_is_caught_and_stays_caught() {
    let (_d, log) = open();
    for i in 1..=4 {
        log.record(sign(
            &format!("2026-01-0{i}T09:00:00+07:00"),
            1,
            "cli",
            Outcome::Ok,
        ))
        .unwrap();
    }
    raw(&log)
        .execute("DELETE FROM entries WHERE id >= 3", [])
        .unwrap();
    assert_eq!(first_bad(&log), (3, Problem::TailRemoved { head: 4 }));
    // A new entry continues from the recorded head, so the gap remains.
    assert_eq!(
        log.record(sign("2026-01-09T09:00:00+07:00", 1, "cli", Outcome::Ok))
            .unwrap(),
        5
    );
    assert_eq!(first_bad(&log), (5, Problem::Missing { from: 3, to: 4 }));
}

#[test]
fn swapped_rows_are_caught() {
    let (_d, log) = open();
    for i in 1..=4 {
        log.record(sign(
            &format!("2026-01-0{i}T09:00:00+07:00"),
            i,
            "cli",
            Outcome::Ok,
        ))
        .unwrap();
    }
    let c = raw(&log);
    c.execute_batch(
        "UPDATE entries SET id = -2 WHERE id = 2; UPDATE entries SET id = 2 WHERE id = 3; \
         UPDATE entries SET id = 3 WHERE id = -2;",
    )
    .unwrap();
    assert_eq!(first_bad(&log), (2, Problem::Edited));
}

#[test]
fn appended_rows_are_caught() {
    let (_d, log) = open();
    log.record(sign("2026-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.record(sign("2026-01-02T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    // Copy entry 2 as 3, with a correct chain link and hash: only the head
    // knows Kyso never wrote it.
    let mut e = log.query(&Filter::default()).unwrap().pop().unwrap();
    e.id = 3;
    e.prev_hash = e.hash.clone();
    e.hash = e.compute_hash();
    raw(&log)
        .execute(
            &format!(
                "INSERT INTO entries SELECT 3, {} FROM entries WHERE id = 2",
                &COLUMNS[4..]
            ),
            [],
        )
        .unwrap();
    raw(&log)
        .execute(
            "UPDATE entries SET prev_hash = ?1, hash = ?2 WHERE id = 3",
            [&e.prev_hash, &e.hash],
        )
        .unwrap();
    assert_eq!(first_bad(&log), (3, Problem::Unexpected { head: 2 }));
}

#[test]
fn prune_removes_a_prefix_logs_itself_and_keeps_the_chain_verifiable() {
    let (_d, log) = open();
    for m in 1..=6 {
        log.record(sign(
            &format!("2020-0{m}-01T09:00:00+07:00"),
            1,
            "cli",
            Outcome::Ok,
        ))
        .unwrap();
    }
    let cutoff = at("2020-04-01T00:00:00+07:00").with_timezone(&Utc);
    let id = log.prune(cutoff, "cli").unwrap().expect("something pruned");
    assert_eq!(id, 7);
    let all = log.query(&Filter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [4, 5, 6, 7]);
    let p = all.last().unwrap();
    assert_eq!(p.operation, Operation::Prune);
    assert_eq!(p.anchor.as_ref().unwrap().through_id, 3);
    assert_eq!(p.anchor.as_ref().unwrap().hash, all[0].prev_hash);
    assert!(p
        .detail
        .as_deref()
        .unwrap()
        .starts_with("removed 3 entries (#1 to #3)"));
    let v = log.verify().unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!((v.first_id, v.last_id), (Some(4), Some(7)));

    // Nothing older: nothing happens, no entry.
    assert_eq!(log.prune(cutoff, "cli").unwrap(), None);
    // A second prune that removes the first prune entry too still verifies.
    let id = log
        .prune(Utc::now() + chrono::TimeDelta::days(1), "cli")
        .unwrap()
        .unwrap();
    let all = log.query(&Filter::default()).unwrap();
    assert_eq!(all.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    assert!(log.verify().unwrap().is_ok());

    // Deleting a pruned log's first entry is still caught.
    log.record(sign("2026-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    raw(&log)
        .execute("DELETE FROM entries WHERE id = ?1", [id])
        .unwrap();
    assert_eq!(first_bad(&log), (id + 1, Problem::PrefixRemoved));
}

#[test]
fn prune_refuses_to_erase_tampering() {
    let (_d, log) = open();
    log.record(sign("2020-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.record(sign("2020-02-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    raw(&log)
        .execute("UPDATE entries SET origin = 'x' WHERE id = 1", [])
        .unwrap();
    let err = log.prune(Utc::now(), "cli").unwrap_err();
    assert_eq!(crate::describe::Describe::code(&err), "LOG_TAMPERED");
    assert_eq!(
        log.query(&Filter::default()).unwrap().len(),
        2,
        "nothing deleted"
    );
}

#[test]
fn prune_stops_at_the_first_recent_entry_even_if_the_clock_jumped() {
    let (_d, log) = open();
    log.record(sign("2020-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.record(sign("2026-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.record(sign("2019-01-01T09:00:00+07:00", 1, "cli", Outcome::Ok))
        .unwrap();
    log.prune(at("2025-01-01T00:00:00+07:00").with_timezone(&Utc), "cli")
        .unwrap();
    let ids: Vec<i64> = log
        .query(&Filter::default())
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [2, 3, 4]);
    assert!(log.verify().unwrap().is_ok());
}

#[test]
fn last_pin_change_is_per_token_serial() {
    let (_d, log) = open();
    let change = |time: &str, serial: &str, outcome: Outcome| {
        let mut e = entry(time, Operation::PinChange, outcome);
        e.token = Some(TokenRef {
            label: "T".into(),
            serial: serial.into(),
        });
        e
    };
    assert_eq!(log.last_pin_change("S1").unwrap(), None);
    log.record(change("2026-01-01T09:00:00+07:00", "S1", Outcome::Ok))
        .unwrap();
    log.record(change("2026-03-01T09:00:00+07:00", "S1", Outcome::Failed))
        .unwrap();
    log.record(change("2026-02-01T09:00:00+07:00", "S2", Outcome::Ok))
        .unwrap();
    assert_eq!(
        log.last_pin_change("S1").unwrap(),
        Some(at("2026-01-01T02:00:00Z").with_timezone(&Utc))
    );
    assert_eq!(
        log.last_pin_change("S2").unwrap(),
        Some(at("2026-02-01T02:00:00Z").with_timezone(&Utc))
    );
}

#[test]
fn newer_schema_is_refused() {
    let (_d, log) = open();
    raw(&log).pragma_update(None, "user_version", 99).unwrap();
    let path = log.path().to_owned();
    drop(log);
    let err = UsageLog::open(&path).unwrap_err();
    assert_eq!(crate::describe::Describe::code(&err), "LOG_TOO_NEW");
}

#[test]
fn a_file_that_is_not_a_database_is_reported_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite3");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    let err = UsageLog::open(&path).unwrap_err();
    assert_eq!(crate::describe::Describe::code(&err), "LOG_CORRUPT");
}

#[test]
fn unwritable_location_fails_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = UsageLog::open(&blocker.join("log.sqlite3")).unwrap_err();
    assert_eq!(crate::describe::Describe::code(&err), "LOG_OPEN");
}

#[test]
fn two_handles_on_one_file_form_one_chain() {
    let (_d, a) = open();
    let b = UsageLog::open(a.path()).unwrap();
    let threads: Vec<_> = [a, b]
        .into_iter()
        .map(|log| {
            std::thread::spawn(move || {
                for i in 0..25 {
                    log.record(sign(
                        &format!("2026-01-01T09:00:{i:02}+07:00"),
                        1,
                        "cli",
                        Outcome::Ok,
                    ))
                    .unwrap();
                }
                log
            })
        })
        .collect();
    let logs: Vec<UsageLog> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let v = logs[0].verify().unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!(v.entries, 50);
}

/// A seeded set of entries whose expected figures are known by hand.
pub(crate) fn seed_report(log: &UsageLog) {
    let rec = |e: NewEntry| {
        log.record(e).unwrap();
    };
    // Before the period: not counted.
    rec(sign("2025-12-31T23:59:59+07:00", 1, "cli", Outcome::Ok));
    // January: cert 1 signs 3 (one via the web), 1 failure.
    rec(sign("2026-01-01T00:00:00+07:00", 1, "cli", Outcome::Ok));
    rec(sign(
        "2026-01-15T10:00:00+07:00",
        1,
        "https://vanban.example.gov.vn",
        Outcome::Ok,
    ));
    rec(sign("2026-01-20T10:00:00+07:00", 1, "cli", Outcome::Ok));
    rec(sign("2026-01-21T10:00:00+07:00", 1, "cli", Outcome::Failed));
    // February: a batch of 2 with cert 2.
    for t in ["2026-02-03T08:00:00+07:00", "2026-02-03T08:00:01+07:00"] {
        let mut e = sign(t, 2, "https://vanban.example.gov.vn", Outcome::Ok);
        e.operation = Operation::BatchSign;
        e.job_id = Some("batch-1".into());
        rec(e);
    }
    // Logins, a wrong PIN, a lock, a PIN change, pairing and consent.
    rec(entry(
        "2026-03-01T08:00:00+07:00",
        Operation::Login,
        Outcome::Ok,
    ));
    let mut wrong = entry(
        "2026-03-02T08:00:00+07:00",
        Operation::LoginFailed,
        Outcome::Failed,
    );
    wrong.error_code = Some("PIN_INCORRECT".into());
    rec(wrong.clone());
    wrong.time = at("2026-03-02T08:01:00+07:00");
    wrong.pin_locked = true;
    wrong.token = Some(TokenRef {
        label: "TOKEN".into(),
        serial: "S1".into(),
    });
    rec(wrong);
    let mut locked = entry(
        "2026-03-03T08:00:00+07:00",
        Operation::LoginFailed,
        Outcome::Failed,
    );
    locked.error_code = Some("PIN_LOCKED".into());
    locked.pin_locked = true;
    rec(locked);
    rec(entry(
        "2026-04-01T08:00:00+07:00",
        Operation::PinChange,
        Outcome::Ok,
    ));
    rec(entry(
        "2026-04-02T08:00:00+07:00",
        Operation::PairingApproved,
        Outcome::Ok,
    ));
    rec(entry(
        "2026-04-03T08:00:00+07:00",
        Operation::PairingDenied,
        Outcome::Ok,
    ));
    rec(entry(
        "2026-04-04T08:00:00+07:00",
        Operation::ConsentRefused,
        Outcome::Ok,
    ));
    // The last instant of 30 June counts; 1 July does not.
    rec(sign("2026-06-30T23:59:59+07:00", 1, "cli", Outcome::Ok));
    rec(sign("2026-07-01T00:00:00+07:00", 1, "cli", Outcome::Ok));
}

#[test]
fn report_figures_match_the_seeded_entries() {
    let (_d, log) = open();
    seed_report(&log);
    let mut p = Period::local_days(
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(),
    )
    .unwrap();
    // The seed is in +07:00; make the period +07:00 whatever the test machine's zone.
    p.start_utc = at("2026-01-01T00:00:00+07:00").with_timezone(&Utc);
    p.end_utc = at("2026-07-01T00:00:00+07:00").with_timezone(&Utc);
    p.now = at("2026-12-10T00:00:00Z").with_timezone(&Utc);
    let r = log.report(&p).unwrap();
    let t = &r.totals;
    assert_eq!((t.signatures, t.signature_failures, t.batches), (6, 1, 1));
    assert_eq!(
        (
            t.logins,
            t.failed_logins,
            t.pin_changes,
            t.failed_pin_changes
        ),
        (1, 3, 1, 0)
    );
    assert_eq!(
        (
            t.pin_lock_incidents,
            t.pairings_approved,
            t.pairings_denied,
            t.consents_refused
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(t.entries, 15);
    let certs: Vec<_> = r
        .certificates
        .iter()
        .map(|c| (c.serial.as_str(), c.signatures, c.failures))
        .collect();
    assert_eq!(certs, [("01", 4, 1), ("02", 2, 0)]);
    assert_eq!(r.certificates[0].expiry, Expiry::Expiring);
    assert_eq!(r.certificates[0].days_left, Some(22));
    let months: Vec<_> = r
        .months
        .iter()
        .map(|m| (m.key.as_str(), m.signatures, m.failures))
        .collect();
    assert_eq!(
        months,
        [("2026-01", 3, 1), ("2026-02", 2, 0), ("2026-06", 1, 0)]
    );
    let origins: Vec<_> = r
        .origins
        .iter()
        .map(|m| (m.key.as_str(), m.signatures, m.failures))
        .collect();
    assert_eq!(
        origins,
        [("cli", 3, 1), ("https://vanban.example.gov.vn", 3, 0)]
    );
    let failures: Vec<_> = r
        .failures
        .iter()
        .map(|f| (f.operation.as_str(), f.code.as_str(), f.count))
        .collect();
    assert_eq!(
        failures,
        [
            ("login_failed", "PIN_INCORRECT", 2),
            ("login_failed", "PIN_LOCKED", 1),
            ("sign", "PDF_ENCRYPTED", 1)
        ]
    );
    assert_eq!(
        r.pin_lock_incidents
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        [10, 11]
    );
    assert!(r.integrity.is_ok());
    assert_eq!(r.integrity.last_id, Some(17));
}
