#!/bin/sh
# preload_test.sh LIB: runs sqlite3 and python3 on libhakmem.so (LD_PRELOAD
# is set by ctest) and checks their output. Exit 0 when both are right.
set -u
fail=0
out=$(sqlite3 ':memory:' <<'SQL'
CREATE TABLE t(id INTEGER PRIMARY KEY, g INTEGER, s TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO t SELECT i, i % 7, printf('row-%08d-%s', i, hex(randomblob(40))) FROM n;
CREATE INDEX t_s ON t(s);
SELECT g, count(*), sum(id) FROM t GROUP BY g ORDER BY g;
SELECT count(*), sum(length(s)) FROM t;
SELECT id FROM t ORDER BY s DESC LIMIT 1;
SQL
)
expect='0|2857|28578571
1|2858|28581429
2|2857|28564286
3|2857|28567143
4|2857|28570000
5|2857|28572857
6|2857|28575714
20000|1860000
20000'
if [ "$out" != "$expect" ]; then
  echo "sqlite3 under libhakmem: wrong output:"; echo "$out"; fail=1
fi
py=$(python3 -c '
import json
doc = {"items": [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 13)] * 5,
                  "v": i * 0.5} for i in range(50000)]}
s = json.dumps(doc, sort_keys=True)
back = json.loads(s)
print(len(s), sum(x["id"] for x in back["items"]), back["items"][49999]["name"])
')
if [ "$py" != "4513261 1249975000 item49999" ]; then
  echo "python3 under libhakmem: wrong output: $py"; fail=1
fi
exit $fail
