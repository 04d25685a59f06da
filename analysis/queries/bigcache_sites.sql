-- bigcache_sites.sql: which call sites benefit from BigCache. Per trace and
-- hakmem configuration, the sites with BigCache traffic, best hit rate
-- first, with the bytes they asked for (the sites the cache should keep).
-- Call sites are named by symbolization (hksim symbolize, or any hksim
-- report): function (file:line), else module+offset, else the address.
-- Usage: sqlite3 results.db < analysis/queries/bigcache_sites.sql
.headers on
.mode column
SELECT trace, label, site, site_label, site_allocs,
       printf('%.1f MiB', site_bytes / 1048576.0) AS asked,
       cache_hits, cache_misses, printf('%.1f%%', hit_rate * 100.0) AS hit_rate,
       runs
FROM site_bigcache
WHERE cache_hits + cache_misses > 0
ORDER BY trace, label, hit_rate DESC, site_bytes DESC;

-- Per configuration: how much of the allocation traffic the hitting sites
-- carry (sites with hit rate >= 50%).
SELECT trace, label, COUNT(*) AS sites_with_traffic,
       SUM(hit_rate >= 0.5) AS sites_hitting,
       printf('%.1f%%', 100.0 * SUM(CASE WHEN hit_rate >= 0.5 THEN site_bytes END)
                       / NULLIF(SUM(site_bytes), 0)) AS bytes_at_hitting_sites
FROM site_bigcache WHERE cache_hits + cache_misses > 0
GROUP BY trace_id, backend, policy ORDER BY trace, label;
