-- sqlite.sql: deterministic SQL workload for the recorder's tests and
-- bench (no randomness: the same allocation calls every run).
-- Scale with: sqlite3 :memory: -cmd ".parameter set @n 20000" < sqlite.sql
CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT, n REAL);
CREATE INDEX kv_v ON kv(v);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < coalesce(@n, 20000))
INSERT INTO kv SELECT i, printf('value-%08d-%s', (i * 7919) % 100003, substr('abcdefghijklmnop', 1 + i % 16)), i * 0.5 FROM c;
UPDATE kv SET v = v || '-x' WHERE k % 3 = 0;
DELETE FROM kv WHERE k % 5 = 0;
SELECT count(*), sum(length(v)), max(n) FROM kv;
SELECT substr(v, 1, 12) AS p, count(*) FROM kv GROUP BY p ORDER BY 2 DESC, 1 LIMIT 3;
SELECT group_concat(v, ',') IS NOT NULL FROM (SELECT v FROM kv ORDER BY v LIMIT 2000);
CREATE TABLE j AS SELECT json_object('k', k, 'v', v, 'a', json_array(k, n, v)) AS doc FROM kv WHERE k % 2 = 0;
SELECT count(*), sum(json_extract(doc, '$.k')) FROM j;
