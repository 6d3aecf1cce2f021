//! Storage: one connection type over SQLite and PostgreSQL, a pool whose backend is chosen
//! by the URL scheme, embedded migrations, and helpers that keep blocking work off the
//! async workers.

pub mod analyze;
pub mod checkpoint;
pub mod schema;
pub mod settled;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{AppError, AppResult};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Runs the same code against whichever concrete connection is inside a [`DbConn`].
/// For the few statements the multi-backend query builder cannot express
/// (`ON CONFLICT DO NOTHING`, multi-row inserts) while keeping one copy of the code.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}

/// Runs `$body` for `$rows` (a slice) in arrays of 100 rows, then of 64, 32, …, 1: for
/// SQLite's multi-row inserts. Diesel caches the prepared statement of a multi-row insert
/// from an array, whose SQL is the same each time, but parses an insert from a slice anew
/// on every call: parsing a 500-row insert took longer than running it, and when a
/// registration's one-row inserts (participant, badge, opt-ins, confirmation) became cached
/// statements, registrations went from 2,172 to 2,628 a second (BENCHMARKS.md, "Session
/// 9"). So every statement here is one of eight cached ones; a rest takes at most six.
/// PostgreSQL takes `COPY` instead (see `pg_insert_rows!`), or arrays as parameters where
/// rows may conflict (see [`PG_ARRAY_ROWS`]).
#[macro_export]
macro_rules! in_fixed_chunks {
    ($rows:expr, |$chunk:ident| $body:expr) => {{
        let rest: &[_] = &$rows[..];
        $crate::in_fixed_chunks!(@sizes rest, $chunk, $body, 100, 64, 32, 16, 8, 4, 2, 1);
    }};
    (@sizes $rest:ident, $chunk:ident, $body:expr, $($size:literal),+) => {{
        let mut $rest = $rest;
        $(
            let (whole, left) = $rest.as_chunks::<$size>();
            for $chunk in whole {
                $body;
            }
            $rest = left;
        )+
        let _ = $rest;
    }};
}

/// PostgreSQL: inserts `$rows` (a slice of references to insertable rows) into `$table` in
/// the caller's transaction and answers the number inserted. Fewer than
/// [`PG_COPY_FROM_ROWS`] go in by one `INSERT … VALUES`; more by one `COPY … FROM STDIN` in
/// binary form. A 50,000-row import stored 15 % more rows a second by `COPY` than by
/// array-parameter `INSERT … SELECT FROM unnest(…)`, and an export 8–15 % more (its
/// ledger rows); for one row, PostgreSQL spent more on an `unnest` of one-element arrays
/// than on `VALUES`, and registrations through the API ran 5–16 % faster without it
/// (BENCHMARKS.md, "Session 19"). Like every statement of the service on PostgreSQL,
/// neither is prepared (see `Manager::connect`). Neither takes `ON CONFLICT`: rows whose
/// key may be taken go in as arrays ([`PG_ARRAY_ROWS`]).
#[macro_export]
macro_rules! pg_insert_rows {
    ($c:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        let rows = $rows;
        if rows.is_empty() {
            Ok(0)
        } else if rows.len() < $crate::db::PG_COPY_FROM_ROWS {
            diesel::insert_into($table).values(rows.to_vec()).execute($c)
        } else {
            diesel::copy_from($table).from_insertable(rows.to_vec()).execute($c)
        }
    }};
}

/// Rows from which [`pg_insert_rows!`] sends a `COPY`. A `COPY` waits for the server twice
/// (its start, then its end), a multi-row `INSERT` once, and a `VALUES` list of a few dozen
/// rows is parsed in microseconds: a scan group's lead cards and a registration stay
/// `INSERT`s; an import's chunk, an export's page and a synced batch's lead cards above
/// this go by `COPY`.
pub const PG_COPY_FROM_ROWS: usize = 64;

/// Rows per array-parameter insert on PostgreSQL (`INSERT … SELECT * FROM unnest(…) ON
/// CONFLICT DO NOTHING`: scans and leads, whose keys may be taken), one statement for a
/// whole batch, a bound on what one statement holds; and rows per chunk of a PostgreSQL
/// import's participants (`attendees::store`).
pub const PG_ARRAY_ROWS: usize = 5000;

/// How long a transaction of [`Db::write_in_steps`] may keep other writes waiting. A
/// scan's answer waits for at most this, one step and a commit. It was 20 ms; with the
/// import's small steps while scans wait, 2 ms (three runs) and 5 ms (one run) measured
/// alike (BENCHMARKS.md, "Session 13"), and 5 ms commits less often.
pub const GIVE_WAY_AFTER: Duration = Duration::from_millis(5);

/// A closed vocabulary stored in a `Text` column and sent as a JSON string: declares the
/// enum with each variant's text, and gives it `as_str`, `FromStr`, `Display`, serde, and
/// diesel `ToSql`/`FromSql` for every backend whose `str`/`String` speak `Text` (SQLite,
/// PostgreSQL and `DbConn`'s `MultiBackend`). The text is the only form in the database and
/// on the wire, so values written before the enum existed read back unchanged.
///
/// Ordering follows the text, as `ORDER BY` on the column and as the `String`s these
/// replace did, so sorted output stays as it was.
macro_rules! text_enum {
    // The text is taken as `tt`, not `literal`: a `literal` fragment reaches derive macros
    // wrapped in an invisible group, which utoipa's schema derive does not see through (it
    // then lists the variant names instead of the texts).
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:tt ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            ::serde::Serialize, ::serde::Deserialize,
            ::diesel::AsExpression, ::diesel::FromSqlRow,
        )]
        #[diesel(sql_type = ::diesel::sql_types::Text)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::db::UnknownText;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::db::UnknownText { vocabulary: stringify!($name) }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<::std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> ::std::cmp::Ordering {
                self.as_str().cmp(other.as_str())
            }
        }

        impl<DB> ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            str: ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut ::diesel::serialize::Output<'b, '_, DB>) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB> ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB> for $name
        where
            DB: ::diesel::backend::Backend,
            String: ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> ::diesel::deserialize::Result<Self> {
                let text = <String as ::diesel::deserialize::FromSql<::diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                Ok(text.parse()?)
            }
        }
    };
}
pub(crate) use text_enum;

/// A stored or received text that is none of its vocabulary's values. It does not carry the
/// text itself: it may come from a request body, and errors reach the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known {vocabulary} value")]
pub struct UnknownText {
    pub vocabulary: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUrl {
    pub backend: Backend,
    /// What the driver receives: a file path (or `:memory:`) for SQLite, the URL for PostgreSQL.
    pub target: String,
}

impl DbUrl {
    /// Refuses any scheme but the two we serve, so a typo never silently creates a file.
    pub fn parse(url: &str) -> Result<DbUrl, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl { backend: Backend::Postgres, target: url.to_string() });
        }
        if url == "sqlite::memory:" {
            return Ok(DbUrl { backend: Backend::Sqlite, target: ":memory:".to_string() });
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// URL has no file path".to_string());
            }
            return Ok(DbUrl { backend: Backend::Sqlite, target: path.to_string() });
        }
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
        Err(format!("unsupported database URL scheme `{scheme}`: use sqlite://PATH, sqlite::memory: or postgres://…"))
    }
}

pub struct Manager {
    url: DbUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        match self.url.backend {
            Backend::Postgres => {
                let mut conn =
                    diesel::PgConnection::establish(&self.url.target).map_err(diesel::r2d2::Error::ConnectionError)?;
                // The service's statements go unprepared (one round trip each, as a cached
                // one), so PostgreSQL plans each with its values. A cached generic plan made
                // while a table was small (scans, leads, the ledger grow fast at an event)
                // stayed in use until statistics changed: with autovacuum off, a scan
                // lookup planned as a sequential scan cut batch sync to 738 scans/s.
                // Session-wide `plan_cache_mode = force_custom_plan`, used before, also
                // replanned every foreign-key check inside PostgreSQL, and a bulk insert
                // spent three quarters of its time there (BENCHMARKS.md, "Issue 16,
                // session 8").
                conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                // PostgreSQL's default cost of a random page read (4, for disks that seek)
                // made a scan batch's lookup of 500 badge codes among 55,000 a sequential
                // scan, 14-22 ms (by the index: 2.6 ms for 500 among 20,000, in psql). The
                // service's tables are read from memory or SSD, where 1.1 is the usual
                // setting. A value the operator set (server, database or role), even 4, is
                // kept.
                conn.batch_execute(
                    "SELECT set_config('random_page_cost', '1.1', false) FROM pg_settings \
                     WHERE name = 'random_page_cost' AND source = 'default'",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Pg(conn))
            }
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.url.target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // synchronous=FULL: a response that says "stored" must survive power loss,
                // not only a crash of this process (the scan batch contract). WAL keeps
                // readers from blocking the writer; busy_timeout queues writers instead of
                // failing them. secure_delete zeroes freed space, so an erased participant's
                // old values do not linger in the file. No automatic checkpoint: the
                // checkpoint thread (see `checkpoint`) does it without holding the write
                // lock; the WAL file is cut back to 64 MiB once it restarts.
                // The busy timeout comes first: switching to WAL needs a lock that another
                // connection of the pool may hold at start-up.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000;
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = FULL;
                     PRAGMA secure_delete = ON;
                     PRAGMA foreign_keys = ON;
                     PRAGMA cache_size = -32768;
                     PRAGMA wal_autocheckpoint = 0;
                     PRAGMA journal_size_limit = 67108864;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<Manager>;

#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// SQLite (a file): the one connection every write transaction of this process runs on,
    /// and its lock is the process's writer lock. SQLite has one writer at a time; queueing
    /// writers on this lock rather than in SQLite's busy handler, whose sleeps (up to 100 ms
    /// each) make tail latency explode under concurrent scans, keeps the tail short, and a
    /// connection's page cache, dropped whenever another connection wrote, stays warm.
    /// Other processes (the CLI) still meet the busy timeout. PostgreSQL and `:memory:`
    /// (a pool of one) write on pool connections.
    writer: Option<Arc<Mutex<DbConn>>>,
    /// Request writes waiting for the writer lock, committed together (see [`PendingWrites`]).
    pending: Arc<PendingWrites>,
    /// Threads blocked on the writer lock.
    waiting: Arc<AtomicUsize>,
    /// How many times the writer lock was taken.
    taken: Arc<AtomicUsize>,
    _checkpointer: Option<Arc<checkpoint::Checkpointer>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TxMode {
    Read,
    Write,
}

impl Db {
    /// Opens the pool and brings the schema up to date.
    pub fn connect(url: &str, pool_size: u32) -> Result<Db, String> {
        let url = DbUrl::parse(url)?;
        // Every connection to `:memory:` is its own empty database: keep exactly one.
        let size = if url.target == ":memory:" { 1 } else { pool_size.max(1) };
        let checkpoint_target =
            (url.backend == Backend::Sqlite && url.target != ":memory:").then(|| url.target.clone());
        let writer_manager = Manager { url: url.clone() };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .connection_timeout(Duration::from_secs(10))
            .build(Manager { url })
            .map_err(|e| format!("cannot open database: {e}"))?;
        let mut conn = pool.get().map_err(|e| format!("cannot open database: {e}"))?;
        run_migrations(&mut conn)?;
        let writer = match &checkpoint_target {
            Some(_) => {
                let conn = r2d2::ManageConnection::connect(&writer_manager)
                    .map_err(|e| format!("cannot open database: {e}"))?;
                Some(Arc::new(Mutex::new(conn)))
            }
            None => None,
        };
        let checkpointer = match (checkpoint_target, &writer) {
            (Some(target), Some(writer)) => Some(Arc::new(
                checkpoint::Checkpointer::start(target, writer.clone())
                    .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?,
            )),
            _ => None,
        };
        Ok(Db {
            pool,
            writer,
            pending: Arc::default(),
            waiting: Arc::default(),
            taken: Arc::default(),
            _checkpointer: checkpointer,
        })
    }

    /// Whether every write of the process waits for one lock (SQLite in a file): a long
    /// write then delays all others, and bulk writes go in chunks.
    pub fn has_one_writer(&self) -> bool {
        self.writer.is_some()
    }

    /// A bare pooled connection, outside any transaction: for inspection by tests and
    /// tools. The service's own reads and writes go through [`Db::read`] and [`Db::write`].
    pub fn get(&self) -> AppResult<r2d2::PooledConnection<Manager>> {
        Ok(self.pool.get()?)
    }

    /// A pooled connection; the wait is measured (`badgegate_db_pool_wait_seconds`).
    fn pooled(&self) -> AppResult<r2d2::PooledConnection<Manager>> {
        let started = std::time::Instant::now();
        let conn = self.pool.get();
        crate::measure::pool_wait("pool", started.elapsed());
        Ok(conn?)
    }

    /// This instance's pool right now: (idle, in use).
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.idle_connections, state.connections.saturating_sub(state.idle_connections))
    }

    /// Reads: on SQLite in one transaction (one snapshot of the WAL); on PostgreSQL at READ
    /// COMMITTED, in a READ ONLY transaction in debug builds so that a write slipped into a
    /// read path fails in the tests instead of committing without its ledger row. Runs on
    /// the blocking thread pool: an async worker never waits on the database.
    pub async fn read<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read_blocking(f)).await?
    }

    /// One write transaction, all or nothing; see [`Db::read`]. On SQLite, writes that
    /// wait for the writer lock at the same time share one commit, each in its own
    /// savepoint (see [`PendingWrites`]); the answer comes after that commit.
    pub async fn write<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        if self.writer.is_none() {
            return tokio::task::spawn_blocking(move || db.write_blocking(f)).await?;
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.pending.push(group_job(f, reply));
        tokio::task::spawn_blocking(move || db.drain_pending()).await?;
        // A closed channel: the job panicked, or the group could not begin (logged below).
        answer.await.map_err(|_| crate::error::AppError::internal("the write was not completed"))?
    }

    /// Runs `step` until it answers `Ok(false)`, in write transactions: one while no other
    /// write waits. On a database with one writer (SQLite), a transaction that has run for
    /// [`GIVE_WAY_AFTER`] while other writes wait for the lock is committed after the
    /// current step, and they run before the next step, in a new transaction. A step that
    /// fails rolls back its transaction; steps committed before it stay committed, and
    /// the caller undoes them. On PostgreSQL, one transaction. Blocking.
    pub fn write_in_steps<F>(&self, mut step: F) -> AppResult<()>
    where
        F: FnMut(&mut DbConn) -> AppResult<bool>,
    {
        let Some(writer) = &self.writer else {
            return self.write_blocking(|conn| {
                while step(conn)? {}
                Ok(())
            });
        };
        let mut more = true;
        while more {
            {
                let mut conn = lock_writer(writer, &self.waiting, &self.taken);
                let started = std::time::Instant::now();
                in_transaction(&mut conn, TxMode::Write, |c| {
                    while more {
                        more = step(c)?;
                        if started.elapsed() >= GIVE_WAY_AFTER && self.others_wait() {
                            break;
                        }
                    }
                    Ok(())
                })?;
            }
            if more {
                self.drain_pending();
                let taken = self.taken.load(Ordering::SeqCst);
                // The writer lock is not fair: this thread would take it back before a
                // woken waiter runs. Wait (briefly) until another thread has had it.
                let asked = std::time::Instant::now();
                while self.taken.load(Ordering::SeqCst) == taken
                    && self.waiting.load(Ordering::SeqCst) > 0
                    && asked.elapsed() < GIVE_WAY_AFTER
                {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        Ok(())
    }

    /// Whether other writes wait for the writer lock now (always false without one).
    pub fn others_wait(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) > 0 || !self.pending.is_empty()
    }

    /// Runs `f`, which makes several transactions of its own (an import on SQLite, in
    /// chunks), on the blocking thread pool.
    pub async fn blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&Db) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || f(&db)).await?
    }

    /// [`Db::write`] for a background thread (the mail worker): on SQLite the write joins
    /// the requests' group and shares their commit instead of taking the writer lock for a
    /// commit of its own, which every request would wait for.
    pub fn write_grouped_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        if self.writer.is_none() {
            return self.write_blocking(f);
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.pending.push(group_job(f, reply));
        self.drain_pending();
        answer.blocking_recv().map_err(|_| crate::error::AppError::internal("the write was not completed"))?
    }

    /// Takes the writer lock and runs the waiting writes in one transaction; nothing to
    /// do if an earlier drain already ran them.
    fn drain_pending(&self) {
        let Some(writer) = &self.writer else { return };
        let mut conn = lock_writer(writer, &self.waiting, &self.taken);
        let jobs = self.pending.take();
        if jobs.is_empty() {
            return;
        }
        let mut completions = Vec::new();
        let committed = in_transaction(&mut conn, TxMode::Write, |c| {
            completions = run_group(c, jobs)?;
            Ok(())
        });
        drop(conn);
        if let (Err(e), true) = (&committed, completions.is_empty()) {
            tracing::error!(error = %e, "a group of writes could not run");
        }
        for done in completions {
            done(committed.as_ref().map(|_| ()).map_err(group_commit_failed));
        }
    }

    /// [`Db::read`] for code already on a blocking thread (the CLI, background threads).
    pub fn read_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T>,
    {
        in_transaction(&mut *self.pooled()?, TxMode::Read, f)
    }

    /// [`Db::write`] for code already on a blocking thread.
    pub fn write_blocking<T, F>(&self, f: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConn) -> AppResult<T>,
    {
        match &self.writer {
            Some(writer) => {
                let mut conn = lock_writer(writer, &self.waiting, &self.taken);
                in_transaction(&mut conn, TxMode::Write, f)
            }
            None => in_transaction(&mut *self.pooled()?, TxMode::Write, f),
        }
    }

    /// Rewrites every table that ever held personal data so that no old row version stays
    /// in the files (`badgegate purge --compact`): VACUUM FULL on PostgreSQL; on SQLite a
    /// VACUUM of the whole file, then a TRUNCATE checkpoint so the WAL is empty.
    /// Blocking: run from the CLI or blocking work.
    pub fn compact(&self) -> Result<(), String> {
        let mut pooled;
        let mut locked;
        let conn: &mut DbConn = match &self.writer {
            // The writer lock keeps this process's writers out while the file is rewritten.
            Some(writer) => {
                locked = writer.lock().unwrap_or_else(PoisonError::into_inner);
                &mut locked
            }
            None => {
                pooled = self.pool.get().map_err(|e| e.to_string())?;
                &mut pooled
            }
        };
        match conn {
            DbConn::Sqlite(c) => {
                c.batch_execute("VACUUM").map_err(|e| format!("VACUUM failed: {e}"))?;
                let r: checkpoint::CheckpointResult = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .get_result(c)
                    .map_err(|e| format!("WAL checkpoint failed: {e}"))?;
                if r.busy != 0 {
                    return Err("the WAL could not be emptied while readers were active; run again".to_string());
                }
            }
            DbConn::Pg(c) => {
                let list: Vec<&str> = PersonalTable::ALL.iter().map(|t| t.table_name()).collect();
                c.batch_execute(&format!("VACUUM FULL {}", list.join(", ")))
                    .map_err(|e| format!("VACUUM FULL failed: {e}"))?;
                // ANALYZE keeps sample values (histogram bounds) of text columns in
                // pg_statistic, which no VACUUM clears. Migration 000008 stops collecting
                // them for personal columns; samples taken before it are removed here,
                // which needs a superuser or the table owner with access to the catalog.
                if let Err(e) = c.batch_execute(&format!(
                    "DELETE FROM pg_statistic s USING pg_attribute a
                      WHERE a.attrelid = s.starelid AND a.attnum = s.staattnum
                        AND a.attstattarget = 0 AND s.starelid IN ({})",
                    list.iter().map(|t| format!("'{t}'::regclass")).collect::<Vec<_>>().join(", ")
                )) {
                    tracing::warn!(error = %e, "cannot clear old statistics samples of personal columns; run purge --compact as a superuser once");
                }
            }
        }
        Ok(())
    }
}

/// Key of the PostgreSQL advisory lock held while migrating (any constant; "bgmigr").
const MIGRATION_LOCK: i64 = 0x6267_6d69_6772;

fn run_migrations(conn: &mut DbConn) -> Result<(), String> {
    let result = match conn {
        // Instances started together on one database would otherwise run the same
        // migration at once, and all but one would fail to start ("relation already
        // exists"). The lock is the session's: the others wait, then find nothing pending.
        DbConn::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .map_err(|e| format!("cannot take the migration lock: {e}"))?;
            let run = c.run_pending_migrations(PG_MIGRATIONS).map(|_| ());
            let unlocked = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            run.and_then(|()| unlocked.map_err(Into::into))
        }
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| format!("migrations failed: {e}"))
}

/// The tables whose rows ever carry personal data: contact fields, partners' notes and
/// answers, staff notes on requests, incident narratives, outgoing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalTable {
    Attendees,
    Scans,
    Leads,
    Requests,
    Incidents,
    IncidentUpdates,
    /// Recipient addresses and sealed bodies of outgoing mail.
    MailOutbox,
}

impl PersonalTable {
    pub const ALL: [PersonalTable; 7] = [
        PersonalTable::Attendees,
        PersonalTable::Scans,
        PersonalTable::Leads,
        PersonalTable::Requests,
        PersonalTable::Incidents,
        PersonalTable::IncidentUpdates,
        PersonalTable::MailOutbox,
    ];

    pub fn table_name(self) -> &'static str {
        match self {
            PersonalTable::Attendees => "attendees",
            PersonalTable::Scans => "scans",
            PersonalTable::Leads => "leads",
            PersonalTable::Requests => "requests",
            PersonalTable::Incidents => "incidents",
            PersonalTable::IncidentUpdates => "incident_updates",
            PersonalTable::MailOutbox => "mail_outbox",
        }
    }
}

thread_local! {
    /// Tables whose old row versions must leave the database files once the outermost write
    /// transaction on this thread commits. Work that needs it (erasure) may run nested in
    /// a caller's transaction, and neither SQLite's WAL nor PostgreSQL's VACUUM can be
    /// cleaned before the commit; so `write_tx` runs the scrub itself after it commits.
    static SCRUB_AFTER_COMMIT: std::cell::RefCell<Vec<PersonalTable>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Asks for the old versions of these tables' rows to be removed from the database files
/// after the current write transaction commits (nothing happens if it rolls back).
pub fn scrub_after_commit(tables: &[PersonalTable]) {
    SCRUB_AFTER_COMMIT.with(|pending| {
        let mut pending = pending.borrow_mut();
        for t in tables {
            if !pending.contains(t) {
                pending.push(*t);
            }
        }
    });
}

fn take_scrub_request() -> Vec<PersonalTable> {
    SCRUB_AFTER_COMMIT.with(|pending| std::mem::take(&mut *pending.borrow_mut()))
}

/// Removes old row versions from the files right after a commit.
///
/// SQLite: `secure_delete` already zeroed them in the main file, but the WAL still holds
/// the page images written before; a TRUNCATE checkpoint copies the current pages back and
/// cuts the WAL to zero bytes. The caller holds the writer lock, so no writer of this
/// process appends meanwhile. Readers still inside an older snapshot make it fail; then the
/// checkpoint thread retries until it succeeds, and the request does not wait for readers.
///
/// PostgreSQL: a plain VACUUM, which takes no lock that stops scans, makes the dead row
/// versions unreachable and their space reusable. It does not zero their bytes (pruning
/// compacts a page without clearing the hole, and index pages keep deleted tuples), so
/// the old values leave the files only when the tables are rewritten: `badgegate purge
/// --compact` (VACUUM FULL), on the schedule the README states. Rewriting here instead
/// would lock the scan tables for seconds on every erasure during a show.
fn scrub(conn: &mut DbConn, tables: &[PersonalTable]) {
    match conn {
        DbConn::Sqlite(c) => {
            // A short wait for readers: the writer mutex is held, so scans wait as long.
            let done = c.batch_execute("PRAGMA busy_timeout = 100").and_then(|_| {
                diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result::<checkpoint::CheckpointResult>(c)
            });
            if let Err(e) = c.batch_execute("PRAGMA busy_timeout = 10000") {
                tracing::error!(error = %e, "cannot restore the busy timeout");
            }
            match done {
                Ok(r) if r.busy == 0 => {}
                Ok(_) => checkpoint::request_truncate(),
                Err(e) => {
                    tracing::warn!(error = %e, "WAL truncation after erasure failed; the checkpoint thread retries");
                    checkpoint::request_truncate();
                }
            }
        }
        DbConn::Pg(c) => {
            let names: Vec<&str> = tables.iter().map(|t| t.table_name()).collect();
            let list = names.join(", ");
            // Its own statement: VACUUM refuses to run inside a transaction block.
            if let Err(e) = c.batch_execute(&format!("VACUUM {list}")) {
                tracing::error!(error = %e, tables = %list, "VACUUM after erasure failed; run `badgegate purge --compact`");
            }
        }
    }
}

// ---- Group commit ----
// Group commit for SQLite: write transactions that arrive while another is running wait
// for the writer lock together, then run one after another inside ONE transaction, each
// in its own savepoint, and are answered after its single commit.
//
// With `synchronous = FULL` every commit waits for the disk (an fsync of the WAL); under
// concurrent requests that wait, not the work, bounds the writes per second. Sharing it
// keeps each request's guarantees: its writes are all or nothing (the savepoint: a request
// that fails is rolled back alone, and the others commit), and its answer is sent only
// once they are durable. What changes is only that requests of one group see each
// other's writes in order, exactly as if they had run one after another, which they did.
//
// Only [`super::Db::write`] (request paths, `'static` closures) groups; background threads
// calling `write_blocking` take the lock alone. PostgreSQL has no writer lock and commits
// per connection; nothing here runs for it.

/// Jobs per transaction at most: a longer group would hold its first request's answer.
const MAX_GROUP: usize = 128;

/// SQLite's writer connection; the wait is measured like a pool's.
/// `waiting` counts the threads blocked here, which a long write gives way to
/// ([`Db::write_in_steps`]).
fn lock_writer<'a>(
    writer: &'a Mutex<DbConn>,
    waiting: &AtomicUsize,
    taken: &AtomicUsize,
) -> std::sync::MutexGuard<'a, DbConn> {
    let started = std::time::Instant::now();
    waiting.fetch_add(1, Ordering::SeqCst);
    let conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
    waiting.fetch_sub(1, Ordering::SeqCst);
    taken.fetch_add(1, Ordering::SeqCst);
    crate::measure::pool_wait("writer", started.elapsed());
    conn
}

/// Delivers a job's answer once the group's commit is known (`Err` when it failed).
pub type GroupCompletion = Box<dyn FnOnce(AppResult<()>) + Send>;
/// One request's transaction body: runs in its savepoint, answers its completion.
pub type GroupJob = Box<dyn FnOnce(&mut DbConn) -> GroupCompletion + Send>;

/// Write jobs waiting for the writer lock.
#[derive(Default)]
pub struct PendingWrites(Mutex<Vec<GroupJob>>);

impl PendingWrites {
    pub fn push(&self, job: GroupJob) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(job);
    }

    pub fn is_empty(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).is_empty()
    }

    /// The oldest waiting jobs, at most [`MAX_GROUP`]; the rest wait for the next drain
    /// (each job is followed by a drain of its own, so none is left behind).
    pub fn take(&self) -> Vec<GroupJob> {
        let mut pending = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let cut = pending.len().min(MAX_GROUP);
        let rest = pending.split_off(cut);
        std::mem::replace(&mut *pending, rest)
    }
}

/// Wraps a request's closure as a job: it runs in a savepoint, and its result is sent to
/// `reply` after the commit (its own error if it failed; the commit's error if that failed).
pub fn group_job<T, F>(f: F, reply: tokio::sync::oneshot::Sender<AppResult<T>>) -> GroupJob
where
    F: FnOnce(&mut DbConn) -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    Box::new(move |conn: &mut DbConn| {
        let releases_before = crate::measure::pending_mark();
        let result = savepoint(conn, f);
        if result.is_err() {
            crate::measure::discard_pending_since(releases_before);
        }
        let completion: GroupCompletion = Box::new(move |committed: AppResult<()>| {
            let answer = match (result, committed) {
                (Err(own), _) => Err(own),
                (Ok(_), Err(commit)) => Err(commit),
                (Ok(value), Ok(())) => Ok(value),
            };
            // The request may have gone away (client disconnected); nothing to tell.
            let _ = reply.send(answer);
        });
        completion
    })
}

/// Runs `jobs` in the open write transaction on `conn`; answers their completions. A job
/// that panicked has its savepoint rolled back and no completion: its caller sees the
/// reply channel closed.
pub fn run_group(conn: &mut DbConn, jobs: Vec<GroupJob>) -> AppResult<Vec<GroupCompletion>> {
    let mut done = Vec::with_capacity(jobs.len());
    for job in jobs {
        let releases_before = crate::measure::pending_mark();
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok(completion) => done.push(completion),
            Err(_) => {
                crate::measure::discard_pending_since(releases_before);
                tracing::error!("a write task panicked; its savepoint is rolled back, the group goes on");
                // Depth 1 is the group's transaction; deeper are the panicked job's savepoints.
                while matches!(
                    <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
                    Ok(Some(d)) if d.get() > 1
                ) {
                    <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
                }
            }
        }
    }
    Ok(done)
}

/// A commit error told to every job of the group.
pub fn group_commit_failed(e: &AppError) -> AppError {
    AppError::internal(format!("the group's commit failed: {e}"))
}

/// Opens the transaction of [`Db::read`] or [`Db::write`]. A write on SQLite starts with
/// `BEGIN IMMEDIATE` so the write lock is taken up front: a deferred transaction that read
/// first can fail with SQLITE_BUSY when it later tries to write, and no busy timeout helps
/// it. Erasures ask for a scrub (see [`scrub_after_commit`]); it runs after the commit,
/// still under the writer lock.
fn in_transaction<T, F>(conn: &mut DbConn, mode: TxMode, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T>,
{
    // Left over only if an earlier transaction on this thread failed before its end.
    take_scrub_request();
    crate::measure::discard_pending();
    // A closure that panicked left its transaction open on this connection (the writer's
    // lock is taken back from the poison): end it, or every later write would fail to begin.
    let depth = <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth();
    if !matches!(depth, Ok(None)) {
        tracing::error!("a transaction was left open by a failed task; rolling it back");
        if let Err(e) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            tracing::error!(error = %e, "rollback of the abandoned transaction failed");
        }
    }
    // PostgreSQL reads at READ COMMITTED: each statement sees what was committed when it
    // began, inside a transaction or not, so a read transaction buys no snapshot; it costs
    // two round trips on every authenticated request. Debug builds (the tests) keep it, as
    // READ ONLY, so that a write slipped into a read path fails there.
    if mode == TxMode::Read && matches!(conn, DbConn::Pg(_)) && !cfg!(debug_assertions) {
        return f(conn);
    }
    let begin = match (&*conn, mode) {
        (DbConn::Sqlite(_), TxMode::Write) => "BEGIN IMMEDIATE",
        (DbConn::Sqlite(_), TxMode::Read) => "BEGIN",
        (DbConn::Pg(_), TxMode::Write) => "BEGIN",
        (DbConn::Pg(_), TxMode::Read) => "BEGIN READ ONLY",
    };
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, begin)?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction_sql(c, begin)?,
    }
    match f(conn) {
        Ok(value) => {
            let committed = <DbConn as Connection>::TransactionManager::commit_transaction(conn);
            let scrub_tables = take_scrub_request();
            if committed.is_err() {
                crate::measure::discard_pending();
            }
            committed?;
            crate::measure::commit_pending();
            if !scrub_tables.is_empty() {
                scrub(conn, &scrub_tables);
            }
            Ok(value)
        }
        Err(e) => {
            take_scrub_request();
            crate::measure::discard_pending();
            if let Err(rollback) = <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// For work that must commit with the caller's other writes (the ledger row with the
/// release it records): refuses to run outside a transaction.
pub fn require_transaction(conn: &mut DbConn) -> AppResult<()> {
    match <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn).transaction_depth()? {
        Some(_) => Ok(()),
        None => Err(crate::error::AppError::internal("a release must run inside a transaction")),
    }
}

/// All or nothing inside the caller's transaction (a savepoint): the caller may go on
/// after it failed. Opens no transaction of its own: that is [`Db::write`]'s job.
pub fn savepoint<T, F>(conn: &mut DbConn, f: F) -> AppResult<T>
where
    F: FnOnce(&mut DbConn) -> AppResult<T>,
{
    require_transaction(conn)?;
    conn.transaction(f)
}

/// Time as stored: milliseconds since the Unix epoch, UTC (one portable column type).
pub fn now_ms() -> i64 {
    // i64 milliseconds reach far beyond any date `time` can hold, so the fallback never runs.
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

pub fn ms_to_rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

pub fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A time-ordered id for rows written in bulk (participants, badges, opt-ins, scans, leads,
/// the ledger): inserts land at the end of the primary-key index instead of at random
/// pages. It carries its creation time, so use it only where that time is no secret to
/// whoever sees the id (staff know when someone registered, a partner when it scanned).
pub fn new_sequential_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Escapes `%`, `_` and `\` for a LIKE pattern used with `ESCAPE '\'`.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }

    /// The options `.cargo/config.toml` gives the bundled SQLite: a build that lost them
    /// runs, only slower; one whose sub-journal spill threshold reached 128 KiB fails every
    /// write whose savepoint outgrows it ("database or disk is full").
    #[test]
    fn the_bundled_sqlite_has_the_repository_s_compile_options() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = diesel::SqliteConnection::establish(":memory:")?;
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)?
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "ENABLE_QPSG"), "{options:?}");
        let spill: u32 = options
            .iter()
            .find_map(|o| o.strip_prefix("STMTJRNL_SPILL="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no STMTJRNL_SPILL in {options:?}"));
        assert!((65_536..131_072).contains(&spill), "STMTJRNL_SPILL={spill}");
        Ok(())
    }

    #[test]
    fn database_urls_pick_the_backend_by_scheme() {
        assert_eq!(DbUrl::parse("postgres://u@h/db").map(|u| u.backend), Ok(Backend::Postgres));
        assert_eq!(DbUrl::parse("postgresql://u@h/db").map(|u| u.backend), Ok(Backend::Postgres));
        assert_eq!(DbUrl::parse("sqlite://data/x.db").map(|u| u.target), Ok("data/x.db".to_string()));
        assert_eq!(DbUrl::parse("sqlite::memory:").map(|u| u.target), Ok(":memory:".to_string()));
        assert!(DbUrl::parse("mysql://h/db").is_err_and(|e| e.contains("`mysql`")));
        assert!(DbUrl::parse("data/x.db").is_err());
    }

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_pattern("100%_A"), "%100\\%\\_a%");
    }
}
