SELECT COALESCE(p0.value, '(none)'), count(DISTINCT e.visitor_id), count(*) FILTER (WHERE e.name = 'pageview'), count(*) FROM events e LEFT JOIN props p0 ON p0.event_id = e.event_id AND p0.site_id = ? AND p0.key = ? WHERE e.site_id = ? AND e.ts >= ? AND e.ts < ? AND NOT (regexp_matches(e.pathname, ?)) GROUP BY 1
-- params: 7, "plan", 7, 1717977600, 1718064000, "^/admin"
