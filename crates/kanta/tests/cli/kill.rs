//! Killed at any moment, an import leaves the store with all of the file or none of it.

use std::fmt::Write as _;
use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::helpers::{BACKENDS, Env};

fn big_file(rows: usize) -> String {
    let mut s = String::with_capacity(rows * 48);
    s.push_str("id,customer_id,occurred_at,amount\n");
    for i in 0..rows {
        let _ = writeln!(
            s,
            "t{i},c{},2024-{:02}-{:02}T10:00:00Z,{}.{:02}",
            i % 5000,
            i % 12 + 1,
            i % 28 + 1,
            i % 300,
            i % 100
        );
    }
    s
}

#[test]
fn a_killed_import_leaves_all_or_nothing() {
    let rows = 200_000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.file("big.csv", &big_file(rows));
        // How long a whole import takes here, to kill within it.
        let t = Instant::now();
        env.ok(&["import", "transactions", "big.csv"]);
        let full = t.elapsed();
        assert_eq!(env.count("transactions"), rows as i64);

        // Kill imports of a second file (new ids) at random moments.
        let second = big_file(rows).replace("\nt", "\nu");
        env.file("big2.csv", &second);
        let mut outcomes = Vec::new();
        for _ in 0..4 {
            let at = full.mul_f64(rng.random_range(0.05..1.1));
            let mut child = env
                .cmd()
                .args(["import", "transactions", "big2.csv"])
                .spawn()
                .expect("spawn");
            std::thread::sleep(at);
            let _ = child.kill();
            let _ = child.wait();
            let n = env.count("transactions");
            assert!(
                n == rows as i64 || n == 2 * rows as i64,
                "{backend}: killed after {at:?} of {full:?}, the store holds {n} transactions"
            );
            outcomes.push(n);
            if n == 2 * rows as i64 {
                break;
            }
        }
        // The next import finishes whatever state the kills left.
        env.ok(&["import", "transactions", "big2.csv"]);
        assert_eq!(
            env.count("transactions"),
            2 * rows as i64,
            "{backend}: {outcomes:?}"
        );
    }
}
