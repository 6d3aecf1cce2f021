//! Property test of the release gate: for random worlds, every partner's export is exactly
//! the set the rule defines, and every exported participant has its ledger row.
//!
//! Worlds are built through the library's own registration, withdrawal and scan paths
//! (the same code the HTTP handlers call), then exported through the gate.

use std::collections::BTreeSet;

use badgegate::attendees::{self, ValidRegistration};
use badgegate::auth::users::{self, NewAccount};
use badgegate::auth::{PartnerScope, Role};
use badgegate::badges::{self, BadgeKey};
use badgegate::consent::{self, Source};
use badgegate::contact::ValidContact;
use badgegate::db::schema::{attendees as attendees_t, disclosures, events, partners};
use badgegate::db::{Db, DbConn, new_id, now_ms};
use badgegate::error::AppError;
use badgegate::events::EventRow;
use badgegate::gate::{self, Channel, Selection};
use badgegate::partners::PartnerRow;
use badgegate::scans::{self, Outcome, RejectReason, ValidScan};
use diesel::Connection;
use diesel::prelude::*;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum ScanKind {
    Valid,
    /// A badge of another event.
    OtherEvent,
    /// The participant's badge after it was reissued.
    Revoked,
    /// The same client_scan_id sent twice.
    Duplicate,
}

#[derive(Debug, Clone)]
struct Person {
    /// Where the opt-ins were given: the public form needs the address confirmed.
    origin: Origin,
    opt_in_all: bool,
    opt_in: Vec<bool>,
    withdraw_all: bool,
    withdraw: Vec<bool>,
    erased: bool,
    scans: Vec<(usize, ScanKind)>,
}

#[derive(Debug, Clone, Copy)]
enum Origin {
    /// Entered by staff: confirmed at once.
    Staff,
    /// The public form, the confirmation link never followed.
    FormUnconfirmed,
    /// The public form, the confirmation link followed.
    FormConfirmed,
}

#[derive(Debug, Clone)]
struct World {
    partners: usize,
    people: Vec<Person>,
}

fn scan_kind() -> impl Strategy<Value = ScanKind> {
    prop_oneof![
        4 => Just(ScanKind::Valid),
        1 => Just(ScanKind::OtherEvent),
        1 => Just(ScanKind::Revoked),
        1 => Just(ScanKind::Duplicate),
    ]
}

fn world() -> impl Strategy<Value = World> {
    (1usize..=3).prop_flat_map(|partners| {
        let origin = prop_oneof![Just(Origin::Staff), Just(Origin::FormUnconfirmed), Just(Origin::FormConfirmed)];
        let person = (
            origin,
            prop::bool::weighted(0.2),
            prop::collection::vec(prop::bool::weighted(0.3), partners),
            prop::bool::weighted(0.1),
            prop::collection::vec(prop::bool::weighted(0.2), partners),
            prop::bool::weighted(0.15),
            prop::collection::vec((0..partners, scan_kind()), 0..3),
        )
            .prop_map(|(origin, opt_in_all, opt_in, withdraw_all, withdraw, erased, scans)| Person {
                origin,
                opt_in_all,
                opt_in,
                withdraw_all,
                withdraw,
                erased,
                scans,
            });
        prop::collection::vec(person, 0..7).prop_map(move |people| World { partners, people })
    })
}

/// The rule, straight from its definition in the design notes.
fn expected(world: &World, partner: usize) -> BTreeSet<usize> {
    world
        .people
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let accepted_scan = p
                .scans
                .iter()
                .any(|(by, kind)| *by == partner && matches!(kind, ScanKind::Valid | ScanKind::Duplicate));
            // Double opt-in: a form opt-in counts only once the address is confirmed.
            let opt_ins_count = !matches!(p.origin, Origin::FormUnconfirmed);
            let basis = (opt_ins_count && (p.opt_in_all || p.opt_in[partner])) || accepted_scan;
            let withdrawn = p.withdraw_all || p.withdraw[partner];
            !p.erased && basis && !withdrawn
        })
        .map(|(i, _)| i)
        .collect()
}

fn insert_event(conn: &mut DbConn) -> EventRow {
    let now = now_ms();
    let row = EventRow {
        id: new_id(),
        name: "World".into(),
        slug: new_id(),
        starts_at: now - 86_400_000,
        ends_at: now + 86_400_000,
        venue: None,
        privacy_notice_version: "1".into(),
        released_fields: "name,company,address,phone,email".into(),
        created_at: now,
        scan_grace_hours: 72,
        time_zone: "UTC".into(),
        privacy_notice_url: None,
        organiser_contact: None,
        registration_closes_at: None,
        retention_days: 180,
        purged_at: None,
    };
    diesel::insert_into(events::table).values(&row).execute(conn).unwrap();
    row
}

fn register(
    conn: &mut DbConn,
    key: &BadgeKey,
    event: &EventRow,
    i: usize,
    all: bool,
    to: Vec<String>,
    origin: Origin,
) -> (String, String) {
    let reg = ValidRegistration {
        contact: ValidContact {
            name: format!("Person {i}"),
            email: format!("p{i}-{}@example.org", new_id()),
            company: Some("Co".into()),
            phone: None,
            address: None,
        },
        share_with_all_partners: all,
        share_with_partners: to,
        marketing_emails: false,
    };
    let source = if matches!(origin, Origin::Staff) { Source::StaffApi } else { Source::WebForm };
    let prepared = attendees::prepare(key, event, reg, source).unwrap();
    let payload = prepared.code.payload();
    let id = prepared.attendee.id.clone();
    attendees::store(conn, std::slice::from_ref(&prepared)).unwrap();
    if let (Origin::FormConfirmed, Some(token)) = (origin, &prepared.confirm_token) {
        let done = consent::confirm_by_token(conn, &event.id, token).unwrap();
        assert!(matches!(done, consent::Confirmation::Confirmed(_)));
    }
    (id, payload)
}

fn scan(conn: &mut DbConn, scope: &PartnerScope, badge: &str, client_scan_id: &str) -> Outcome {
    let valid = ValidScan {
        client_scan_id: client_scan_id.to_string(),
        badge: badge.to_string(),
        scanned_at: now_ms(),
        notes: None,
        rating: None,
        answers: None,
    };
    let mut outcomes = conn
        .transaction::<_, AppError, _>(|c| scans::process_batch(c, scope, std::slice::from_ref(&valid), None, now_ms()))
        .unwrap();
    outcomes.pop().unwrap()
}

fn check_world(conn: &mut DbConn, key: &BadgeKey, w: &World) -> Result<(), TestCaseError> {
    let event = insert_event(conn);
    let other = insert_event(conn);
    let (_, foreign_badge) = register(conn, key, &other, 999, false, vec![], Origin::Staff);
    let mut scopes = Vec::new();
    for p in 0..w.partners {
        let partner = PartnerRow {
            id: new_id(),
            event_id: event.id.clone(),
            name: format!("P{p}"),
            leads_suspended: false,
            created_at: now_ms(),
        };
        diesel::insert_into(partners::table).values(&partner).execute(conn).unwrap();
        let user = users::insert(
            conn,
            &NewAccount {
                email: format!("s{p}-{}@partner.example", new_id()),
                password_hash: "unused".into(),
                role: Role::Scanner,
                event_id: Some(event.id.clone()),
                partner_id: Some(partner.id.clone()),
            },
        )
        .unwrap();
        scopes.push(PartnerScope {
            user_id: user,
            role: Role::Scanner,
            event_id: event.id.clone(),
            partner_id: partner.id,
        });
    }
    let mut ids = Vec::new();
    for (i, person) in w.people.iter().enumerate() {
        let to: Vec<String> =
            person.opt_in.iter().enumerate().filter(|(_, b)| **b).map(|(p, _)| scopes[p].partner_id.clone()).collect();
        let (id, mut badge) = register(conn, key, &event, i, person.opt_in_all, to, person.origin);
        for (by, kind) in &person.scans {
            let scope = &scopes[*by];
            let outcome = match kind {
                ScanKind::Valid => scan(conn, scope, &badge, &new_id()),
                ScanKind::OtherEvent => scan(conn, scope, &foreign_badge, &new_id()),
                ScanKind::Duplicate => {
                    let cid = new_id();
                    scan(conn, scope, &badge, &cid);
                    scan(conn, scope, &badge, &cid)
                }
                ScanKind::Revoked => {
                    let fresh = badges::reissue(conn, key, &event.id, &id).unwrap();
                    let stale = scan(conn, scope, &badge, &new_id());
                    // Later scans of this participant use the new badge.
                    badge = fresh.payload();
                    let revoked = matches!(stale, Outcome::Rejected { reason: RejectReason::BadgeRevoked, .. });
                    prop_assert!(revoked, "a stale badge is rejected as revoked");
                    continue;
                }
            };
            if matches!(kind, ScanKind::OtherEvent) {
                let refused = matches!(outcome, Outcome::Rejected { reason: RejectReason::OtherEvent, .. });
                prop_assert!(refused, "another event's badge is refused");
            }
        }
        ids.push(id);
    }
    for (i, person) in w.people.iter().enumerate() {
        for (p, withdraw) in person.withdraw.iter().enumerate() {
            if *withdraw {
                consent::withdraw(conn, &event.id, &ids[i], Some(&scopes[p].partner_id), Source::StaffApi, None)
                    .unwrap();
            }
        }
        if person.withdraw_all {
            consent::withdraw(conn, &event.id, &ids[i], None, Source::StaffApi, None).unwrap();
        }
        if person.erased {
            diesel::update(attendees_t::table.find(&ids[i]))
                .set(attendees_t::erased_at.eq(Some(now_ms())))
                .execute(conn)
                .unwrap();
        }
    }
    for (p, scope) in scopes.iter().enumerate() {
        let export_id = new_id();
        diesel::insert_into(badgegate::db::schema::exports::table)
            .values(&badgegate::exports::ExportRow {
                id: export_id.clone(),
                event_id: event.id.clone(),
                partner_id: scope.partner_id.clone(),
                user_id: scope.user_id.clone(),
                started_at: now_ms(),
                completed_at: None,
                row_count: None,
                sha256: None,
            })
            .execute(conn)
            .unwrap();
        let released = conn
            .transaction::<_, AppError, _>(|conn| {
                gate::release(
                    conn,
                    scope,
                    Channel::Export,
                    Selection::After { after: None, limit: 10_000 },
                    Some(&export_id),
                )
            })
            .unwrap();
        let got: BTreeSet<usize> =
            released.iter().map(|r| ids.iter().position(|id| *id == r.attendee_id).unwrap()).collect();
        prop_assert_eq!(&got, &expected(w, p), "partner {} in {:?}", p, w);
        let ledger: BTreeSet<String> = disclosures::table
            .filter(disclosures::export_id.eq(&export_id))
            .select(disclosures::attendee_id)
            .load::<String>(conn)
            .unwrap()
            .into_iter()
            .collect();
        let exported: BTreeSet<String> = released.iter().map(|r| r.attendee_id.clone()).collect();
        prop_assert_eq!(ledger, exported, "every exported row has its ledger row");
    }
    Ok(())
}

fn run(db: &Db, cases: u32) {
    let key = BadgeKey::new(&[42u8; 32]);
    let conn = std::cell::RefCell::new(db.get().unwrap());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases, ..ProptestConfig::default() });
    runner.run(&world(), |w| check_world(&mut conn.borrow_mut(), &key, &w)).unwrap();
}

#[test]
fn sqlite_exports_equal_the_rule_in_1000_worlds() {
    // In memory: one connection, nothing to fsync; each world is its own event.
    let db = Db::connect("sqlite::memory:", 1).unwrap();
    run(&db, 1000);
}

#[test]
fn postgres_exports_equal_the_rule_in_100_worlds() {
    let Some(admin_url) = crate::common::postgres_url_or_skip("postgres_exports_equal_the_rule_in_100_worlds") else {
        return;
    };
    let pg = crate::common::PgDatabase::create(&admin_url);
    let db = Db::connect(&pg.url, 1).unwrap();
    run(&db, 100);
}
