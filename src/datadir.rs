//! The data directory: created owner-only, and refused when its secrets or database files
//! are readable by others.

use std::os::unix::fs::DirBuilderExt;

use crate::auth::secrets;
use crate::config::Settings;

/// Every file this service creates is for its own user only: the data dir, the SQLite
/// database with its WAL, shared-memory and journal files (SQLite gives those the mode of
/// the database), and the generated secrets.
pub fn restrict_new_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Sets the umask, creates the data dir `0700` if missing, and refuses to start on a
/// secret file or SQLite file that group or others may read or write, or a data dir they
/// may write in: a copy of any of them gives away the participants' data or the keys.
/// Refusing (rather than fixing the mode silently) lets the operator find out who else may
/// already have read them.
pub fn prepare_data_dir(settings: &Settings) -> Result<(), String> {
    restrict_new_files();
    let dir = &settings.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    secrets::check_data_dir(dir)?;
    if settings.token_secret.is_none() {
        secrets::refuse_if_shared(&dir.join("token-secret"))?;
    }
    if settings.badge_secret.is_none() {
        secrets::refuse_if_shared(&dir.join("badge-secret"))?;
    }
    if let Ok(url) = crate::db::DbUrl::parse(&settings.database_url())
        && url.backend == crate::db::Backend::Sqlite
        && url.target != ":memory:"
    {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            secrets::refuse_if_shared(std::path::Path::new(&format!("{}{suffix}", url.target)))?;
        }
    }
    Ok(())
}
