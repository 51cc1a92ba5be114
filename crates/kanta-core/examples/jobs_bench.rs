//! The job queue's claim rate: workers of one process claim jobs of the `bench` kind
//! in batches of `CLAIM_BATCH`, as `kanta serve`'s workers do, and mark each batch
//! done, until none is left, and print what they did as JSON. Run two of these
//! processes at once on one PostgreSQL database to measure two instances
//! (`benches/jobs.sh` does, and checks that every job ran exactly once).
//!
//!   cargo run --release -p kanta-core --example jobs_bench -- URL enqueue N
//!   cargo run --release -p kanta-core --example jobs_bench -- URL work WORKERS

use std::time::{Duration, Instant};

use chrono::Utc;
use kanta_store::Store;
use kanta_store::jobs::NewJob;

const KIND: &str = "bench";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (url, what, n) = match args.as_slice() {
        [_, url, what, n] => (url.clone(), what.clone(), n.parse::<usize>()?),
        _ => return Err("usage: jobs_bench URL enqueue N | URL work WORKERS".into()),
    };
    let store = Store::open(&url).await?;
    match what.as_str() {
        "enqueue" => {
            let started = Instant::now();
            for i in 0..n {
                store
                    .enqueue(&NewJob {
                        kind: KIND.into(),
                        payload: serde_json::json!({ "n": i }),
                        unique_key: Some(format!("bench-{i}")),
                        run_at: Utc::now(),
                        max_attempts: 1,
                    })
                    .await?;
            }
            println!(
                "{{\"enqueued\": {n}, \"seconds\": {:.3}}}",
                started.elapsed().as_secs_f64()
            );
        }
        "work" => {
            let started = Instant::now();
            let pid = std::process::id();
            let mut tasks = Vec::new();
            for w in 0..n {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    let name = format!("bench:{pid}:{w}");
                    let mut done = 0u64;
                    // As kanta serve's workers do: claim a batch, run it, mark the
                    // batch done in one statement.
                    loop {
                        let jobs = store
                            .claim_jobs(
                                &name,
                                &[KIND],
                                Duration::from_secs(60),
                                Utc::now(),
                                kanta_core::jobs::CLAIM_BATCH,
                            )
                            .await?;
                        if jobs.is_empty() {
                            break;
                        }
                        let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
                        done += store.complete_jobs(&ids, &name).await?;
                    }
                    Ok::<u64, kanta_store::StoreError>(done)
                }));
            }
            let mut done = 0;
            for t in tasks {
                done += t.await??;
            }
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{{\"process\": {pid}, \"workers\": {n}, \"done\": {done}, \"seconds\": {secs:.3}, \"jobs_per_second\": {:.0}}}",
                done as f64 / secs
            );
        }
        other => return Err(format!("'{other}' is neither enqueue nor work").into()),
    }
    store.close().await;
    Ok(())
}
