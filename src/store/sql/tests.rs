//! Snapshots of the SQL the shared builder writes for each dialect: a change to a query shows
//! up as a diff of `snapshots/*.sql` in review (and is run against real stores by the
//! integration suite). `SPURLOS_UPDATE_SNAPSHOTS=1 cargo test --lib store::sql` rewrites them.

use super::*;
use crate::stats::model::{Dimension, Filter, FilterOp, Metric, Offsets, TimeBucket, VisitField};
use std::path::PathBuf;

fn query(dimensions: Vec<Dimension>, filters: Vec<Filter>) -> AggregateQuery {
    AggregateQuery {
        site_id: 7,
        from_ts: 1_717_977_600,
        to_ts: 1_718_064_000,
        offsets: Offsets {
            base: 7200,
            transitions: vec![],
        },
        month_starts: vec![],
        dimensions,
        filters,
        metrics: vec![
            Metric::Visitors,
            Metric::Visits,
            Metric::Pageviews,
            Metric::BounceRate,
            Metric::VisitDuration,
            Metric::Events,
        ],
        exact: false,
        max_groups: None,
        by_site: vec![],
    }
}

fn filter(op: FilterOp, dimension: Dimension, value: &str) -> Filter {
    Filter {
        op,
        dimension,
        values: vec![value.to_string()],
    }
}

/// The queries whose SQL is pinned: one per shape the builder writes.
fn cases() -> Vec<(&'static str, AggregateQuery)> {
    vec![
        ("totals", query(vec![], vec![])),
        ("by_page", query(vec![Dimension::Page], vec![])),
        (
            "by_hour_filtered_by_source",
            query(
                vec![Dimension::Time(TimeBucket::Hour)],
                vec![filter(
                    FilterOp::Is,
                    Dimension::Visit(VisitField::Source),
                    "Google",
                )],
            ),
        ),
        (
            "by_entry_page_filtered_by_page",
            query(
                vec![Dimension::EntryPage],
                vec![filter(FilterOp::Contains, Dimension::Page, "/blog")],
            ),
        ),
        (
            "archive_build_by_site",
            AggregateQuery {
                by_site: vec![7, 9],
                exact: true,
                ..query(
                    vec![Dimension::Time(TimeBucket::Day), Dimension::Page],
                    vec![],
                )
            },
        ),
        (
            "by_prop_not_matching",
            query(
                vec![Dimension::Prop("plan".into())],
                vec![filter(FilterOp::MatchesNot, Dimension::Page, "^/admin")],
            ),
        ),
    ]
}

fn render(st: &Statement) -> String {
    let params: Vec<String> = st
        .params
        .iter()
        .map(|p| match p {
            Value::Text(t) => format!("{t:?}"),
            Value::UInt(n) => n.to_string(),
            Value::BigInt(n) => n.to_string(),
        })
        .collect();
    format!("{}\n-- params: {}\n", st.sql, params.join(", "))
}

#[test]
fn the_builder_writes_the_pinned_sql_for_both_dialects() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/store/sql/snapshots");
    let update = std::env::var_os("SPURLOS_UPDATE_SNAPSHOTS").is_some();
    let mut stale = Vec::new();
    for (name, q) in cases() {
        for (dialect, d) in [
            ("duckdb", Dialect::DuckDb),
            ("clickhouse", Dialect::ClickHouse),
        ] {
            for (kind, st) in [
                ("events", event_aggregate(&q, false, d)),
                ("sessions", session_aggregate(&q, d)),
            ] {
                let file = dir.join(format!("{name}.{kind}.{dialect}.sql"));
                let now = render(&st);
                if update {
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(&file, &now).unwrap();
                } else if std::fs::read_to_string(&file).ok().as_deref() != Some(now.as_str()) {
                    stale.push(format!("{}:\n{now}", file.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "SQL differs from the snapshots (SPURLOS_UPDATE_SNAPSHOTS=1 to accept):\n{}",
        stale.join("\n")
    );
}

#[test]
fn clickhouse_joins_name_their_subqueries() {
    // Current ClickHouse releases refuse a joined subquery without an alias (code 206).
    for (_, q) in cases() {
        for st in [
            event_aggregate(&q, false, Dialect::ClickHouse),
            session_aggregate(&q, Dialect::ClickHouse),
        ] {
            for join in st.sql.split(" JOIN (").skip(1) {
                let mut depth = 1;
                let close = join
                    .char_indices()
                    .find(|(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map(|(i, _)| i)
                    .unwrap();
                assert!(
                    join[close + 1..].trim_start().starts_with("AS "),
                    "{}",
                    st.sql
                );
            }
        }
    }
}
