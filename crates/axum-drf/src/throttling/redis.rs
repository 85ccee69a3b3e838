//! Counters shared between instances through Redis, with this instance's memory as the
//! fallback while Redis cannot be reached: throttling then goes on per instance (limits are
//! per instance, not off) and the log says so once, and again when Redis is back.
//!
//! Each step is one Lua script (DRF's history as a Redis list, newest first), so it is
//! atomic on the server and costs one round trip.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::store::{BoxFuture, CounterError, CounterStore, MemoryCounters, Record, Window};
use super::Rate;
use crate::store::now_micros;

// KEYS[1]: the history. ARGV: now (µs, as text so Lua's doubles never round it), period
// (µs), limit, mode (0 look, 1 record if allowed, 2 record always).
//
// The oldest entry the trimming loop read last is the window's oldest, and only mode 2 can
// push past the limit (mode 1 pushes when `count < limit`), so only it trims: two calls
// fewer a step than reading the oldest again and trimming always (the script is what bounds
// one Redis: ~31 µs a call, `INFO commandstats`, before this).
const STEP: &str = r"
local key, now = KEYS[1], ARGV[1]
local t, period, limit, mode = tonumber(now), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local last = redis.call('LINDEX', key, -1)
while last and tonumber(last) <= t - period do
  redis.call('RPOP', key)
  last = redis.call('LINDEX', key, -1)
end
local count = redis.call('LLEN', key)
if (mode == 1 and count < limit) or mode == 2 then
  redis.call('LPUSH', key, now)
  if mode == 2 then redis.call('LTRIM', key, 0, limit - 1) end
  redis.call('PEXPIRE', key, math.ceil(period / 1000))
end
return {count, last or ''}
";

/// How long Redis is left alone after a failure before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Histories in Redis under `prefix`, falling back to memory while Redis is down.
pub struct RedisCounters {
    manager: ConnectionManager,
    script: redis::Script,
    prefix: String,
    fallback: MemoryCounters,
    down: AtomicBool,
    retry_at: AtomicI64,
}

impl RedisCounters {
    /// A store on `url` (`redis://host:port/db`) with keys under `prefix`. Connects lazily:
    /// an unreachable server does not stop start-up (the fallback serves meanwhile); only a
    /// malformed URL is an error.
    pub fn new(url: &str, prefix: impl Into<String>) -> Result<Self, CounterError> {
        let err = |e: redis::RedisError| CounterError {
            store: "redis",
            message: e.to_string(),
        };
        let client = redis::Client::open(url).map_err(err)?;
        // Short timeouts: a throttle must not hold a request up for long on a sick Redis.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(err)?;
        Ok(RedisCounters {
            manager,
            script: redis::Script::new(STEP),
            prefix: prefix.into(),
            fallback: MemoryCounters::new(),
            down: AtomicBool::new(false),
            retry_at: AtomicI64::new(0),
        })
    }

    /// Whether the last attempt to reach Redis failed (the fallback is in use).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    async fn remote(
        &self,
        key: &str,
        rate: Rate,
        now: i64,
        record: Record,
    ) -> redis::RedisResult<Window> {
        let mut conn = self.manager.clone();
        let (count, oldest): (u32, String) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(now.to_string())
            .arg(rate.period_micros())
            .arg(rate.requests)
            .arg(record.code())
            .invoke_async(&mut conn)
            .await?;
        Ok(Window {
            count,
            oldest: oldest.parse().ok(),
        })
    }
}

impl CounterStore for RedisCounters {
    fn step<'a>(
        &'a self,
        key: &'a str,
        rate: Rate,
        now: i64,
        record: Record,
    ) -> BoxFuture<'a, Result<Window, CounterError>> {
        Box::pin(async move {
            if self.is_down() && now_micros() < self.retry_at.load(Ordering::Relaxed) {
                return Ok(self.fallback.step_now(key, rate, now, record));
            }
            match self.remote(key, rate, now, record).await {
                Ok(window) => {
                    if self.down.swap(false, Ordering::Relaxed) {
                        tracing::warn!(
                            "throttle: Redis is reachable again; counters are shared again"
                        );
                    }
                    Ok(window)
                }
                Err(e) => {
                    let retry = now_micros() + RETRY_AFTER.as_micros() as i64;
                    self.retry_at.store(retry, Ordering::Relaxed);
                    if !self.down.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            error = %e,
                            "throttle: Redis unreachable; counting per instance until it is back"
                        );
                    }
                    Ok(self.fallback.step_now(key, rate, now, record))
                }
            }
        })
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script steps as the in-memory store does, in every mode: recording, refusing,
    /// looking, recording past the limit (trimmed to it), a lowered rate, and entries leaving
    /// their period. Against the Redis `.ci/run` starts on 127.0.0.1:6379; `remote` fails
    /// rather than falling back, so an unreachable Redis fails the test.
    #[tokio::test]
    async fn the_script_steps_as_memory_does() {
        const S: i64 = 1_000_000;
        let prefix = format!("axum-drf-test-{}:", hex::encode(rand::random::<[u8; 8]>()));
        let redis = RedisCounters::new("redis://127.0.0.1:6379", prefix).unwrap();
        let memory = MemoryCounters::new();
        let (three, two): (Rate, Rate) = ("3/min".parse().unwrap(), "2/min".parse().unwrap());
        let t0 = 1_000_000 * S;
        let steps = [
            (0, three, Record::IfAllowed),
            (1, three, Record::IfAllowed),
            (2, three, Record::No),
            (3, three, Record::IfAllowed),
            (4, three, Record::IfAllowed), // full: refused, not recorded
            (5, three, Record::Always),    // recorded past the limit, trimmed to it
            (6, two, Record::IfAllowed),   // a lowered rate: refused
            (7, two, Record::Always),      // trimmed to the lowered limit
            (63, three, Record::IfAllowed), // the oldest left their period
            (64, three, Record::No),
            (65, three, Record::Always),
            (300, three, Record::IfAllowed), // every entry left
        ];
        for (i, (at, rate, record)) in steps.into_iter().enumerate() {
            let now = t0 + at * S;
            let remote = redis
                .remote("k", rate, now, record)
                .await
                .expect("a Redis on 127.0.0.1:6379");
            let local = memory.step_now("k", rate, now, record);
            assert_eq!(remote, local, "step {i} ({at} s, {record:?})");
        }
    }
}
