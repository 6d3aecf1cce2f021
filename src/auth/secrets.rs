//! Server-held secrets: given by the operator, or generated once from the OS RNG and kept
//! in the data directory (mode 0600). There is no built-in default.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub const MIN_SECRET_BYTES: usize = 32;

pub fn load_or_create(data_dir: &Path, file_name: &str, given: Option<&str>) -> Result<Vec<u8>, String> {
    if let Some(secret) = given {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!("{file_name}: a given secret must be at least {MIN_SECRET_BYTES} bytes"));
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(file_name);
    refuse_if_shared(&path)?;
    match fs::read_to_string(&path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| format!("{} is not a hex secret", path.display()))?;
            if bytes.len() < MIN_SECRET_BYTES {
                return Err(format!("{} holds a secret shorter than {MIN_SECRET_BYTES} bytes", path.display()));
            }
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = vec![0u8; MIN_SECRET_BYTES];
            getrandom::fill(&mut bytes).map_err(|e| format!("OS random generator failed: {e}"))?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            file.write_all(hex::encode(&bytes).as_bytes())
                .and_then(|_| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(bytes)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Refuses to use a file or directory that group or others may read, write or enter: it
/// holds a secret or personal data. The error names the file and the `chmod` that fixes it.
/// A missing path is fine (it will be created owner-only).
pub fn refuse_if_shared(path: &Path) -> Result<(), String> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mode = meta.permissions().mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let what = if mode & 0o044 != 0 {
        "readable"
    } else if mode & 0o022 != 0 {
        "writable"
    } else {
        "accessible"
    };
    let fix = if meta.is_dir() { "700" } else { "600" };
    Err(format!(
        "refusing to start: {path} is {what} by group or others; run: chmod {fix} {path}",
        path = path.display()
    ))
}

/// The data dir: refused when group or others may write in it (they could replace the
/// database or a secret), only warned about when they may list it (the files inside are
/// each checked with [`refuse_if_shared`], and a listing shows nothing but their names).
/// Refusing the second case too would stop every installation made before the umask.
pub fn check_data_dir(dir: &Path) -> Result<(), String> {
    let mode = match fs::metadata(dir) {
        Ok(meta) => meta.permissions().mode(),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    if mode & 0o022 != 0 {
        return Err(format!(
            "refusing to start: {path} is writable by group or others; run: chmod 700 {path}",
            path = dir.display()
        ));
    }
    if mode & 0o055 != 0 {
        tracing::warn!(fix = %format!("chmod 700 {}", dir.display()), "the data dir can be listed by group or others");
    }
    Ok(())
}

/// A fresh random token of `bytes` bytes, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> Result<String, getrandom::Error> {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
