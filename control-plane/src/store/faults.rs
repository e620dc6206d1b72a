//! What a database error means for the admin (pure): SQLite result codes (extended ones too) and
//! PostgreSQL SQLSTATEs of the faults an admin can act on — a full disk, a read-only database, a
//! failing disk, a file that cannot be opened, a server short of resources — turned into one
//! sentence that says what happened and what to do, so that `vidseed admin` shows "the
//! database's disk is full (…): free space, then retry" rather than a bare "(code: 13)".

/// A database fault the admin can do something about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No space left where the database writes.
    DiskFull,
    /// The database (its file, folder or file system, or the PostgreSQL server) refuses writes.
    ReadOnly,
    /// The database file was moved or deleted while vidseed had it open.
    Moved,
    /// The disk or file system failed a read or a write; `op` says which, when SQLite said so.
    Io { op: Option<&'static str> },
    /// The database file (or its journal) cannot be opened.
    CantOpen,
    /// The database is locked by another writer for longer than the busy timeout.
    Busy,
    /// The database file is damaged, or is not a database.
    Corrupt,
    /// The database (or the PostgreSQL server) is out of memory, connections or another
    /// resource.
    Resources,
    /// The database server cannot be reached or went away.
    Unreachable,
}

impl Fault {
    /// What happened, as the start of a sentence.
    pub fn what(self) -> String {
        match self {
            Fault::DiskFull => "the database's disk is full".into(),
            Fault::ReadOnly => "the database is read-only".into(),
            Fault::Moved => "the database file was moved or deleted while in use".into(),
            Fault::Io { op: Some(op) } => format!("the database's disk failed ({op})"),
            Fault::Io { op: None } => "the database's disk failed (I/O error)".into(),
            Fault::CantOpen => "the database file cannot be opened".into(),
            Fault::Busy => "the database is locked by another writer".into(),
            Fault::Corrupt => "the database file is damaged".into(),
            Fault::Resources => "the database is out of resources".into(),
            Fault::Unreachable => "the database server cannot be reached".into(),
        }
    }

    /// What the admin can do.
    pub fn advice(self) -> &'static str {
        match self {
            Fault::DiskFull => "free space, then retry",
            Fault::ReadOnly => {
                "make the database writable again (file and folder permissions, `chattr -i`, a \
                 read-only mount, or a PostgreSQL standby or read-only setting), then retry"
            }
            Fault::Moved => "put the file back, or restart vidseed",
            Fault::Io { .. } => "check the disk and its file system (the kernel log), then retry",
            Fault::CantOpen => {
                "check that the state folder exists and that vidseed may read and write it, then \
                 retry"
            }
            Fault::Busy => "retry; check that no other program holds the database",
            Fault::Corrupt => "restore the database from a backup",
            Fault::Resources => {
                "free memory or connections on the database server (or raise its limits), then \
                 retry"
            }
            Fault::Unreachable => "check that the database server is running and reachable",
        }
    }

    /// "WHAT (DETAIL): ADVICE".
    pub fn sentence(self, detail: &str) -> String {
        format!("{} ({detail}): {}", self.what(), self.advice())
    }
}

/// The fault behind an SQLite (extended) result code, if it is one the admin can act on.
pub fn sqlite_fault(code: i32) -> Option<Fault> {
    // Extended codes keep the primary code in their low byte.
    Some(match code & 0xff {
        13 => Fault::DiskFull,
        8 => match code {
            // SQLITE_READONLY_DBMOVED
            1032 => Fault::Moved,
            _ => Fault::ReadOnly,
        },
        10 => Fault::Io {
            op: sqlite_io_op(code),
        },
        14 => Fault::CantOpen,
        5 => Fault::Busy,
        11 | 26 => Fault::Corrupt,
        7 => Fault::Resources,
        _ => return None,
    })
}

/// What SQLITE_IOERR_* was doing, for the extended codes that say it.
fn sqlite_io_op(code: i32) -> Option<&'static str> {
    Some(match code {
        266 => "reading",
        522 => "a short read",
        778 => "writing",
        1034 => "syncing to disk",
        1290 => "syncing a folder",
        1546 => "truncating",
        1802 => "reading file status",
        2058 => "unlocking",
        2314 => "taking a read lock",
        2570 => "deleting a file",
        3338 => "checking access",
        3594 => "checking a reserved lock",
        3850 => "locking",
        4106 => "closing",
        4618 => "opening shared memory",
        4874 => "sizing shared memory",
        5130 => "mapping shared memory",
        5386 => "seeking",
        6410 => "getting a temporary path",
        6666 => "mapping the file",
        7946 => "a corrupt file system",
        _ => return None,
    })
}

/// The fault behind a PostgreSQL SQLSTATE, if it is one the admin can act on.
pub fn postgres_fault(sqlstate: &str) -> Option<Fault> {
    Some(match sqlstate {
        "53100" => Fault::DiskFull,
        "25006" => Fault::ReadOnly,
        "58030" => Fault::Io { op: None },
        "3D000" | "3F000" => Fault::CantOpen,
        "55P03" | "40P01" => Fault::Busy,
        "XX001" | "XX002" => Fault::Corrupt,
        "57P01" | "57P02" | "57P03" => Fault::Unreachable,
        s if s.starts_with("53") => Fault::Resources,
        s if s.starts_with("08") => Fault::Unreachable,
        _ => return None,
    })
}

/// The fault behind an error of sqlx, whichever backend raised it.
pub fn fault_of(e: &sqlx::Error) -> Option<Fault> {
    match e {
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                db.code()
                    .and_then(|c| c.parse().ok())
                    .and_then(sqlite_fault)
            } else {
                db.code().and_then(|c| postgres_fault(&c))
            }
        }
        sqlx::Error::Io(io) => Some(match io.raw_os_error() {
            Some(ENOSPC) => Fault::DiskFull,
            Some(EROFS) => Fault::ReadOnly,
            _ => Fault::Unreachable,
        }),
        _ => None,
    }
}

/// Linux's "no space left on device" and "read-only file system".
const ENOSPC: i32 = 28;
const EROFS: i32 = 30;

/// The text of a database error: the fault's sentence when it is one, `otherwise` when not.
pub fn describe(e: &sqlx::Error, otherwise: impl FnOnce() -> String) -> String {
    match fault_of(e) {
        Some(fault) => fault.sentence(&detail(e)),
        None => otherwise(),
    }
}

/// The database's own words for the error, without sqlx's wrapping.
fn detail(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{}, code {code}", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes() {
        assert_eq!(sqlite_fault(13), Some(Fault::DiskFull));
        assert_eq!(sqlite_fault(8), Some(Fault::ReadOnly));
        // SQLITE_READONLY_RECOVERY, _CANTLOCK, _ROLLBACK, _DIRECTORY
        for code in [264, 520, 776, 1544] {
            assert_eq!(sqlite_fault(code), Some(Fault::ReadOnly), "{code}");
        }
        assert_eq!(sqlite_fault(1032), Some(Fault::Moved));
        assert_eq!(sqlite_fault(10), Some(Fault::Io { op: None }));
        assert_eq!(
            sqlite_fault(778),
            Some(Fault::Io {
                op: Some("writing")
            })
        );
        assert_eq!(
            sqlite_fault(1034),
            Some(Fault::Io {
                op: Some("syncing to disk")
            })
        );
        assert_eq!(sqlite_fault(14), Some(Fault::CantOpen));
        // SQLITE_CANTOPEN_ISDIR
        assert_eq!(sqlite_fault(526), Some(Fault::CantOpen));
        assert_eq!(sqlite_fault(5), Some(Fault::Busy));
        assert_eq!(sqlite_fault(11), Some(Fault::Corrupt));
        assert_eq!(sqlite_fault(26), Some(Fault::Corrupt));
        // Constraint violations and plain errors are the caller's business.
        assert_eq!(sqlite_fault(1), None);
        assert_eq!(sqlite_fault(19), None);
        assert_eq!(sqlite_fault(2067), None);
    }

    #[test]
    fn postgres_sqlstates() {
        assert_eq!(postgres_fault("53100"), Some(Fault::DiskFull));
        assert_eq!(postgres_fault("25006"), Some(Fault::ReadOnly));
        assert_eq!(postgres_fault("53200"), Some(Fault::Resources));
        assert_eq!(postgres_fault("53300"), Some(Fault::Resources));
        assert_eq!(postgres_fault("53400"), Some(Fault::Resources));
        assert_eq!(postgres_fault("58030"), Some(Fault::Io { op: None }));
        assert_eq!(postgres_fault("08006"), Some(Fault::Unreachable));
        assert_eq!(postgres_fault("57P01"), Some(Fault::Unreachable));
        assert_eq!(postgres_fault("23505"), None);
        assert_eq!(postgres_fault("42P01"), None);
    }

    #[test]
    fn sentences_say_what_and_what_to_do() {
        assert_eq!(
            Fault::DiskFull.sentence("database or disk is full, code 13"),
            "the database's disk is full (database or disk is full, code 13): free space, then \
             retry"
        );
        let read_only = Fault::ReadOnly.sentence("attempt to write a readonly database, code 8");
        assert!(
            read_only.starts_with("the database is read-only (attempt to write"),
            "{read_only}"
        );
        assert!(read_only.ends_with("then retry"), "{read_only}");
        assert!(Fault::Io {
            op: Some("writing")
        }
        .sentence("disk I/O error, code 778")
        .starts_with("the database's disk failed (writing) (disk I/O error, code 778): "));
    }

    #[test]
    fn io_errors_of_the_connection() {
        let full = sqlx::Error::Io(std::io::Error::from_raw_os_error(ENOSPC));
        assert_eq!(fault_of(&full), Some(Fault::DiskFull));
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        assert_eq!(fault_of(&refused), Some(Fault::Unreachable));
        assert!(describe(&refused, || unreachable!()).starts_with("the database server cannot"));
        let other = sqlx::Error::RowNotFound;
        assert_eq!(fault_of(&other), None);
        assert_eq!(describe(&other, || "plain".into()), "plain");
    }
}
