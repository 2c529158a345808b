//! A value a warm Lambda instance read once and keeps for a while (rates,
//! the list of every ad, the admin key), so a request does not pay a round
//! trip for what changes rarely. Each answer it gives without a read counts
//! as a `CacheHits` metric under the cache's name.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

#[derive(Debug)]
pub struct Kept<T> {
    /// What is kept, as the `Cache` dimension of its hits: `rates`, say.
    cache: &'static str,
    ttl: Duration,
    value: RwLock<Option<(Instant, Arc<T>)>>,
}

impl<T> Kept<T> {
    pub fn new(cache: &'static str, ttl: Duration) -> Self {
        Self {
            cache,
            ttl,
            value: RwLock::new(None),
        }
    }

    /// The kept value while it is younger than the TTL, else a fresh one from `read`.
    pub async fn get_or_read<E, F, R>(&self, read: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> R,
        R: Future<Output = Result<Arc<T>, E>>,
    {
        if let Some((read_at, value)) = self.value.read().await.as_ref()
            && read_at.elapsed() < self.ttl
        {
            astroshop_telemetry::metric("CacheHits", "Count", 1.0, Some(("Cache", self.cache)));
            return Ok(value.clone());
        }
        let value = read().await?;
        *self.value.write().await = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_read_again_only_once_it_is_older_than_the_ttl() {
        let reads = std::sync::atomic::AtomicU32::new(0);
        let read =
            || async { Ok::<_, ()>(Arc::new(reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst))) };
        let kept = Kept::new("test", Duration::from_millis(50));
        assert_eq!(*kept.get_or_read(read).await.unwrap(), 0);
        assert_eq!(*kept.get_or_read(read).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(*kept.get_or_read(read).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_failed_read_keeps_nothing() {
        let kept: Kept<u32> = Kept::new("test", Duration::from_secs(60));
        assert!(
            kept.get_or_read(|| async { Err::<Arc<u32>, _>("down") })
                .await
                .is_err()
        );
        assert_eq!(
            *kept
                .get_or_read(|| async { Ok::<_, ()>(Arc::new(7)) })
                .await
                .unwrap(),
            7
        );
    }
}
