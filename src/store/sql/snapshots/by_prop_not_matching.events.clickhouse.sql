SELECT [toString(if(has(prop_keys, ?), prop_values[indexOf(prop_keys, ?)], '(none)')) AS g0] AS dims, uniqExact(visitor_id), countIf(name = 'pageview'), count(*) FROM events WHERE site_id = ? AND ts >= ? AND ts < ? AND NOT (match(pathname, ?)) GROUP BY g0
-- params: "plan", "plan", 7, 1717977600, 1718064000, "^/admin"
