SELECT CAST(sum(s.sign) AS BIGINT), CAST(sum(s.sign * s.pageviews) AS BIGINT), CAST(sum(CASE WHEN s.pageviews = 1 AND s.interactive = 0 THEN s.sign ELSE 0 END) AS BIGINT), CAST(sum(s.sign * (s.end_ts - s.start_ts)) AS BIGINT) FROM sessions s WHERE s.site_id = ? AND s.start_ts >= ? AND s.start_ts < ?
-- params: 7, 1717977600, 1718064000
