//! The data directory: created private (0700: it holds the database, the blobs and the
//! generated credentials), and locked for as long as one server uses it, so a second
//! server on the same directory refuses to start instead of adopting the first one's
//! agent and containers.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

use crate::ServerError;

const LOCK_FILE: &str = "berth.lock";

/// Held while the server runs; dropping it releases the directory.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
#[error("data directory {path} is in use by another berth process{holder}; stop it first or use another --data-dir")]
pub struct LockError {
    path: PathBuf,
    holder: String,
}

/// Creates `dir` if needed, makes it private and locks it.
pub fn prepare(dir: &Path) -> Result<DataDirLock, ServerError> {
    let io = |source| ServerError::DataDir { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    make_private(dir).map_err(io)?;
    let path = dir.join(LOCK_FILE);
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let holder = match pid.trim() {
                "" => String::new(),
                p => format!(" (pid {p})"),
            };
            return Err(LockError { path: dir.to_path_buf(), holder }.into());
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    Ok(DataDirLock { _file: file })
}

#[cfg(unix)]
fn make_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn make_private(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_the_directory_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = prepare(&data).unwrap();
        let err = prepare(&data).unwrap_err().to_string();
        assert!(err.contains("in use by another berth process"), "{err}");
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
        }
        drop(first);
        assert!(prepare(&data).is_ok(), "released when the holder is dropped");
    }
}
