SELECT e.pathname, count(DISTINCT e.visitor_id), count(*) FILTER (WHERE e.name = 'pageview'), count(*) FROM events e WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? GROUP BY 1
-- params: 7, 1717977600, 1718064000
