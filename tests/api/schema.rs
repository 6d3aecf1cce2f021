//! `src/db/schema.rs` is written by hand for both backends; this catches it drifting from
//! the migrations (a column added in SQL but not declared, a type or nullability that
//! differs), which diesel would only report as a runtime error on the first query.

use std::collections::BTreeMap;

use badgegate::db::Db;
use diesel::RunQueryDsl;
use diesel::sql_types::{Bool, Text};

use crate::common::{PgDatabase, postgres_url_or_skip};

/// (table, column) → (type as the database declares it, NOT NULL).
type Columns = BTreeMap<(String, String), (String, bool)>;

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
}

#[derive(Clone, Copy)]
enum Flavour {
    Sqlite,
    Postgres,
}

/// The diesel types of `schema.rs` and the one declared type each stands for per backend
/// (the migrations use the same DDL words on both).
fn sql_type(diesel_type: &str, flavour: Flavour) -> String {
    let (sqlite, postgres) = match diesel_type {
        "Text" => ("TEXT", "text"),
        "BigInt" => ("BIGINT", "bigint"),
        "Integer" => ("INTEGER", "integer"),
        "Bool" => ("BOOLEAN", "boolean"),
        other => panic!("schema.rs uses {other}, which this test does not map yet"),
    };
    match flavour {
        Flavour::Sqlite => sqlite.to_string(),
        Flavour::Postgres => postgres.to_string(),
    }
}

/// Reads the `diesel::table!` blocks of `src/db/schema.rs` as text.
fn declared(flavour: Flavour) -> Columns {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs");
    let text = std::fs::read_to_string(path).unwrap();
    let mut columns = Columns::new();
    let mut in_table = false;
    let mut table: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("diesel::table!") {
            in_table = true;
            table = None;
            continue;
        }
        if !in_table {
            continue;
        }
        if let Some((column, ty)) = line.split_once("->") {
            let table = table.clone().expect("a column before its table name");
            let ty = ty.trim().trim_end_matches(',').trim();
            let (ty, not_null) = match ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
                Some(inner) => (inner, false),
                None => (ty, true),
            };
            columns.insert((table, column.trim().to_string()), (sql_type(ty, flavour), not_null));
        } else if table.is_none() && line.ends_with('{') {
            // `name (primary key) {`
            table = Some(line.split(|c: char| c == '(' || c.is_whitespace()).next().unwrap().to_string());
        } else if line == "}" && table.is_some() {
            in_table = false;
        }
    }
    assert!(columns.len() > 50, "schema.rs parsed to only {} columns: has its layout changed?", columns.len());
    columns
}

fn actual(db: &Db, flavour: Flavour) -> Columns {
    let query = match flavour {
        // An INTEGER PRIMARY KEY is the rowid, never NULL, though `notnull` says 0.
        Flavour::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
             (p.\"notnull\" = 1 OR (p.pk > 0 AND upper(p.type) = 'INTEGER')) AS not_null \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\'"
        }
        Flavour::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             data_type::text AS data_type, (is_nullable = 'NO') AS not_null \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_\\_diesel%' ESCAPE '\\'"
        }
    };
    let mut conn = db.get().unwrap();
    let rows: Vec<Column> = diesel::sql_query(query).load(&mut *conn).unwrap();
    rows.into_iter().map(|c| ((c.table_name, c.column_name), (c.data_type, c.not_null))).collect()
}

/// Every difference, one line each, so a failure says what to fix.
fn differences(declared: &Columns, actual: &Columns) -> Vec<String> {
    let mut out = Vec::new();
    for (key, want) in declared {
        match actual.get(key) {
            None => out.push(format!("{}.{}: in schema.rs, not in the migrations", key.0, key.1)),
            Some(got) if got != want => out.push(format!(
                "{}.{}: schema.rs says {} {}, the migrations make {} {}",
                key.0,
                key.1,
                want.0,
                if want.1 { "NOT NULL" } else { "NULL" },
                got.0,
                if got.1 { "NOT NULL" } else { "NULL" },
            )),
            Some(_) => {}
        }
    }
    for key in actual.keys().filter(|k| !declared.contains_key(*k)) {
        out.push(format!("{}.{}: in the migrations, not in schema.rs", key.0, key.1));
    }
    out
}

/// The differences on one backend, each line prefixed with the migrations folder.
fn check(db: &Db, flavour: Flavour, backend: &str) -> Vec<String> {
    let diff = differences(&declared(flavour), &actual(db, flavour));
    diff.into_iter().map(|d| format!("migrations/{backend}: {d}")).collect()
}

#[test]
fn schema_rs_matches_the_migrations_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("schema.db").display()), 1).unwrap();
    let mut diff = check(&db, Flavour::Sqlite, "sqlite");
    drop(db);

    if let Some(admin_url) = postgres_url_or_skip("schema_rs_matches_the_migrations_on_both_backends") {
        let pg = PgDatabase::create(&admin_url);
        let db = Db::connect(&pg.url, 1).unwrap();
        diff.extend(check(&db, Flavour::Postgres, "postgres"));
    }
    assert!(diff.is_empty(), "src/db/schema.rs disagrees with the migrations:\n{}", diff.join("\n"));
}
