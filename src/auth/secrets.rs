//! Server-held secrets: given by the operator, or generated once from the OS RNG and kept
//! in the data directory (mode 0600). There is no built-in default.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
