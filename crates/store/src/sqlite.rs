//! The SQLite backend: one `records` table, schema migrations keyed on `user_version`.

use std::{path::Path, sync::Mutex};

use rusqlite::{params, Connection};

use crate::{Mutation, Record, Store, StoreError};

/// Migrations, applied in order; the schema version is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: records addressed by kind and key, plus a commit counter.
    "CREATE TABLE records (
         kind  TEXT NOT NULL,
         key   TEXT NOT NULL,
         value BLOB NOT NULL,
         PRIMARY KEY (kind, key)
     ) WITHOUT ROWID;
     CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
     INSERT INTO meta (name, value) VALUES ('revision', 0);",
    // 2: large values live in a rowid table (up to a page inline) with a small unique
    //    index on (kind, key), instead of overflowing a WITHOUT ROWID index b-tree.
    "CREATE TABLE records_v2 (
         id    INTEGER PRIMARY KEY,
         kind  TEXT NOT NULL,
         key   TEXT NOT NULL,
         value BLOB NOT NULL
     );
     INSERT INTO records_v2 (kind, key, value) SELECT kind, key, value FROM records;
     DROP TABLE records;
     ALTER TABLE records_v2 RENAME TO records;
     CREATE UNIQUE INDEX records_kind_key ON records (kind, key);",
];

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) `DIR/berth.db` and brings its schema up to date.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::DataDir { path: dir.display().to_string(), source })?;
        let conn = Connection::open(dir.join("berth.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        // Keep the working set in memory (negative = KiB) and checkpoint the WAL in larger,
        // rarer steps: pages rewritten between checkpoints are copied once.
        conn.pragma_update(None, "cache_size", -131_072)?;
        conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
        migrate(&conn)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::FutureSchema { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied store migration");
    }
    Ok(())
}

impl Store for SqliteStore {
    fn commit(&self, batch: &[Mutation]) -> Result<u64, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction()?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO records (kind, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
            )?;
            let mut delete = tx.prepare_cached("DELETE FROM records WHERE kind = ?1 AND key = ?2")?;
            for m in batch {
                match m {
                    Mutation::Put { kind, key, value } => put.execute(params![kind, key, value])?,
                    Mutation::Delete { kind, key } => delete.execute(params![kind, key])?,
                };
            }
        }
        let revision: i64 =
            tx.query_row("UPDATE meta SET value = value + 1 WHERE name = 'revision' RETURNING value", [], |r| {
                r.get(0)
            })?;
        tx.commit()?;
        Ok(revision as u64)
    }

    fn load(&self) -> Result<(Vec<Record>, u64), StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut stmt = conn.prepare("SELECT kind, key, value FROM records ORDER BY kind, key")?;
        let records = stmt
            .query_map([], |r| Ok(Record { kind: r.get(0)?, key: r.get(1)?, value: r.get(2)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        let revision: i64 = conn.query_row("SELECT value FROM meta WHERE name = 'revision'", [], |r| r.get(0))?;
        Ok((records, revision as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, value: &str) -> Mutation {
        Mutation::Put { kind: "cluster", key: key.into(), value: value.as_bytes().to_vec() }
    }

    #[test]
    fn commit_then_reopen_loads_everything() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SqliteStore::open(dir.path()).unwrap();
            assert_eq!(store.commit(&[put("a", "1"), put("b", "2")]).unwrap(), 1);
            assert_eq!(
                store.commit(&[put("a", "3"), Mutation::Delete { kind: "cluster", key: "b".into() }]).unwrap(),
                2
            );
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let (records, revision) = store.load().unwrap();
        assert_eq!(revision, 2);
        assert_eq!(records, vec![Record { kind: "cluster".into(), key: "a".into(), value: b"3".to_vec() }]);
        assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("berth.db")).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        assert!(matches!(SqliteStore::open(dir.path()), Err(StoreError::FutureSchema { found: 99, .. })));
    }

    #[test]
    fn runs_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = store.conn.lock().unwrap();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
    }
}
