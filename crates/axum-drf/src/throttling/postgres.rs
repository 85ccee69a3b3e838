//! Counters shared between instances through their PostgreSQL database (the fallback when
//! no Redis is configured): DRF's history as a `BIGINT[]` per key, stepped by one function
//! call that locks just that key's row.

use std::sync::atomic::{AtomicU64, Ordering};

use super::store::{BoxFuture, CounterError, CounterStore, Record, Window};
use super::Rate;
use crate::store::{Database, Migration, Value};

/// The table and function the store needs (PostgreSQL only; nothing on SQLite).
pub const MIGRATION: Migration = Migration {
    name: "axum_drf_throttle_0001",
    // SQLite serves one machine: its instances count in memory.
    sqlite: "",
    postgres: r"
        CREATE TABLE drf_throttle (
            key TEXT PRIMARY KEY,
            hits BIGINT[] NOT NULL,   -- newest first, as DRF's list
            expire_at BIGINT NOT NULL
        );
        CREATE INDEX drf_throttle_expire_at ON drf_throttle (expire_at);
        CREATE FUNCTION drf_throttle_step(k TEXT, now_us BIGINT, period_us BIGINT,
                                          lim BIGINT, mode BIGINT,
                                          OUT count BIGINT, OUT oldest BIGINT)
        LANGUAGE plpgsql AS $$
        DECLARE h BIGINT[];
        BEGIN
            -- Creates or locks the key's row, returning its history.
            INSERT INTO drf_throttle AS t (key, hits, expire_at) VALUES (k, '{}', 0)
                ON CONFLICT (key) DO UPDATE SET expire_at = t.expire_at
                RETURNING t.hits INTO h;
            h := ARRAY(SELECT x FROM unnest(h) WITH ORDINALITY AS u(x, i)
                       WHERE x > now_us - period_us ORDER BY i);
            count := cardinality(h);
            oldest := h[count];
            IF (mode = 1 AND count < lim) OR mode = 2 THEN
                h := (now_us || h)[1:lim];
            END IF;
            UPDATE drf_throttle SET hits = h,
                expire_at = COALESCE(h[1], now_us - period_us) + period_us
                WHERE key = k;
        END $$;
    ",
};

const STEP: &str = "SELECT count, oldest FROM drf_throttle_step($1, $2, $3, $4, $5)";
const SWEEP: &str = "DELETE FROM drf_throttle WHERE expire_at < $1";
const SWEEP_EVERY: u64 = 1024;

/// Histories in the `drf_throttle` table of a PostgreSQL [`Database`] (see [`MIGRATION`]).
pub struct PgCounters {
    db: Database,
    steps: AtomicU64,
}

impl PgCounters {
    /// A store on `db`, which must be PostgreSQL and migrated with [`MIGRATION`].
    pub fn new(db: Database) -> Self {
        PgCounters {
            db,
            steps: AtomicU64::new(0),
        }
    }
}

impl CounterStore for PgCounters {
    fn step<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        now: i64,
        record: Record,
    ) -> BoxFuture<'a, Result<Window, CounterError>> {
        Box::pin(async move {
            let err = |e: crate::store::StoreError| CounterError {
                store: "postgres",
                message: e.to_string(),
            };
            if self.steps.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                // Keys whose every entry left its period; on the side, off the request.
                let db = self.db.clone();
                tokio::spawn(async move {
                    if let Err(e) = db.execute(SWEEP, vec![Value::Int(now)]).await {
                        tracing::warn!(error = %e, "throttle: cannot sweep expired counters");
                    }
                });
            }
            let params = vec![
                Value::Text(key.to_owned()),
                Value::Int(now),
                Value::Int(rate.period_micros()),
                Value::Int(i64::from(rate.requests)),
                Value::Int(record.code()),
            ];
            let rows = self.db.query(STEP, params).await.map_err(err)?;
            let row = rows.first().ok_or_else(|| CounterError {
                store: "postgres",
                message: "no row from drf_throttle_step".into(),
            })?;
            Ok(Window {
                count: u32::try_from(row.int(0).map_err(err)?).unwrap_or(u32::MAX),
                oldest: row.opt_int(1).map_err(err)?,
            })
        })
    }

    fn name(&self) -> &'static str {
        "postgres"
    }
}
