//! File identity and the checkpoint file.
//!
//! Files are identified by (device, inode), not by path: after a rotation by
//! rename the path names a new file, while the old file keeps its own offset
//! under its own identity. The path is stored only for humans.
//!
//! The file is replaced atomically (write a temporary file, fsync, rename,
//! fsync the directory), so a crash at any moment leaves either the old or
//! the new checkpoints, never a torn mix.

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ShipperError;

const FILE_NAME: &str = "checkpoints.json";
const TEMP_NAME: &str = "checkpoints.json.tmp";
const FORMAT_VERSION: u32 = 1;

/// A file's identity on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileKey {
    pub dev: u64,
    pub ino: u64,
}

impl FileKey {
    pub fn of(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        FileKey {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }
}

/// How far one file has been delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    #[serde(flatten)]
    pub key: FileKey,
    /// Where the file was when last seen, for humans reading the file.
    pub path: String,
    /// Every byte before this offset is acknowledged by Kafka.
    pub offset: u64,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    files: Vec<Checkpoint>,
}

/// The checkpoint file in its directory.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    dir: PathBuf,
}

impl CheckpointFile {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CheckpointFile { dir: dir.into() }
    }

    /// The file holding the checkpoints.
    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The saved checkpoints; none when nothing was saved yet.
    pub fn load(&self) -> Result<HashMap<FileKey, Checkpoint>, ShipperError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(source) => return Err(ShipperError::CheckpointRead { path, source }),
        };
        let on_disk: OnDisk =
            serde_json::from_slice(&bytes).map_err(|source| ShipperError::CheckpointCorrupt {
                path: path.clone(),
                source,
            })?;
        if on_disk.version != FORMAT_VERSION {
            let message = format!("unknown checkpoint format version {}", on_disk.version);
            return Err(ShipperError::CheckpointCorrupt {
                path,
                source: serde::de::Error::custom(message),
            });
        }
        Ok(on_disk.files.into_iter().map(|c| (c.key, c)).collect())
    }

    /// Replaces the saved checkpoints with `checkpoints`, atomically and
    /// durably. Blocking: call it off the async threads.
    pub fn save(&self, checkpoints: Vec<Checkpoint>) -> Result<(), ShipperError> {
        let on_disk = OnDisk {
            version: FORMAT_VERSION,
            files: checkpoints,
        };
        self.replace(&on_disk)
            .map_err(|source| ShipperError::CheckpointWrite {
                path: self.path(),
                source,
            })
    }

    fn replace(&self, on_disk: &OnDisk) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let temp = self.dir.join(TEMP_NAME);
        let mut file = File::create(&temp)?;
        serde_json::to_writer_pretty(&mut file, on_disk)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, self.path())?;
        sync_dir(&self.dir)
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
