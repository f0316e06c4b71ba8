SELECT (((e.ts + 7200) // 3600) * 3600), count(DISTINCT e.visitor_id), count(*) FILTER (WHERE e.name = 'pageview'), count(*) FROM events e WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? AND (e.source IN (?)) GROUP BY 1
-- params: 7, 1717977600, 1718064000, "Google"
