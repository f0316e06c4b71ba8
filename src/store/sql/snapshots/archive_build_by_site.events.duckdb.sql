SELECT CAST(e.site_id AS BIGINT), (((e.ts + 7200) // 86400) * 86400), e.pathname, count(DISTINCT e.visitor_id), count(*) FILTER (WHERE e.name = 'pageview'), count(*) FROM events e WHERE e.site_id IN (7, 9) AND e.ts >= ? AND e.ts < ? GROUP BY 1, 2, 3
-- params: 1717977600, 1718064000
