"""How fast SQLite itself reads the orders three ways, on the scale bench's store
(BENCHMARKS.md, "Issue 15: scale", third session): why `kanta score` reads one
`group_concat` list per customer rather than one row per order.

    python3 benches/sqlite_orders_scan.py [bench-data/scale/sqlite/kanta.db]

Prints the query plan and seconds of: a scan with `unixepoch` summed in SQLite (the
engine's own cost), every order row handed to Python, and the per-customer lists
`kanta-store/src/purchases.rs` reads.
"""
import sqlite3
import sys
import time

db = sys.argv[1] if len(sys.argv) > 1 else "bench-data/scale/sqlite/kanta.db"
c = sqlite3.connect(db)
queries = [
    ("scan, summed in SQLite",
     "SELECT count(*), sum(unixepoch(occurred_at)) FROM transactions WHERE kind = 'order'"),
    ("every order row",
     "SELECT customer_id, unixepoch(occurred_at), amount_minor FROM transactions WHERE kind = 'order'"),
    ("a list per customer",
     "SELECT customer_id, group_concat(unixepoch(occurred_at) || ' ' || amount_minor) "
     "FROM transactions WHERE kind = 'order' GROUP BY customer_id"),
]
for name, q in queries:
    plan = "; ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN " + q))
    t = time.time()
    rows = sum(1 for _ in c.execute(q))
    print(f"{name:24} {time.time() - t:6.1f} s  {rows:>9} rows  ({plan})")
