//! Matomo's (Piwik's) HTTP Tracking API: what one tracking request's parameters mean to
//! spurlos. Client-side identifiers (`_id`, `uid`, `cid`, `_idts`, cookies) are never read:
//! the visitor id is always spurlos's own daily hash.

use std::net::IpAddr;

/// The parameters of one tracking request (query string, form body or bulk entry), in order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses `a=1&b=2` (a leading `?` is allowed).
    pub fn from_query(query: &str) -> Self {
        let query = query.trim_start_matches('?');
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Adds the parameters of `other` (a form body after the query string).
    pub fn extend(&mut self, other: Params) {
        self.0.extend(other.0);
    }

    /// The last non-empty value of `key` (a form body overrides the query string).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| v == "1" || v == "true")
    }

    /// Whether the request names a site at all (what makes `/js/` a tracking request).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a tracking request asks spurlos to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    pub site_id: u32,
    /// `rec=1`: Matomo records nothing without it.
    pub record: bool,
    /// `pageview`, an event name, or empty for requests that record nothing by themselves
    /// (`ca=1` without an action).
    pub name: String,
    pub url: String,
    pub referrer: Option<String>,
    pub props: Vec<(String, String)>,
    pub screen_width: Option<u32>,
    /// `ua`: the client's User-Agent when it tracks on behalf of a browser.
    pub user_agent: Option<String>,
    /// `new_visit=1`: end the visitor's current visit.
    pub new_visit: bool,
    /// `ping=1`: a heartbeat that only extends the visit.
    pub heartbeat: bool,
    /// `cip` (admin token only): the visitor's address when a server tracks for it.
    pub client_ip: Option<IpAddr>,
    /// `cdt` (admin token only): the hit's time, seconds since the epoch.
    pub time: Option<i64>,
    /// `bots=1`: record even when the User-Agent is a bot's.
    pub track_bots: bool,
    /// `send_image=0`: answer 204 instead of the GIF.
    pub send_image: bool,
}

/// A request Matomo would refuse too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// Event names for Matomo's special actions (Plausible's names where it has one).
pub const OUTBOUND: &str = "Outbound Link: Click";
pub const DOWNLOAD: &str = "File Download";
pub const SITE_SEARCH: &str = "Site Search";

/// Reads one tracking request. `admin` says whether it carried the admin `token_auth`, which
/// `cip` and `cdt` need (as in Matomo).
pub fn parse(p: &Params, admin: bool) -> Result<Tracked, Invalid> {
    let site_id = p
        .get("idsite")
        .ok_or_else(|| invalid("idsite", "is required"))?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid("idsite", "must be a site's numeric id"))?;
    let mut props: Vec<(String, String)> = Vec::new();
    let mut prop = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            props.push((k.to_string(), v.to_string()));
        }
    };
    let heartbeat = p.flag("ping");
    let name = if heartbeat {
        String::new()
    } else if let (Some(category), Some(action)) = (p.get("e_c"), p.get("e_a")) {
        prop("action", Some(action));
        prop("name", p.get("e_n"));
        if let Some(v) = p.get("e_v") {
            v.parse::<f64>()
                .map_err(|_| invalid("e_v", "must be a number"))?;
            prop("value", Some(v));
        }
        category.to_string()
    } else if p.get("e_c").is_some() || p.get("e_a").is_some() {
        return Err(invalid("e_c", "events need both e_c and e_a"));
    } else if let Some(link) = p.get("link") {
        prop("url", Some(&crate::ingest::enrich::link_url(link)));
        OUTBOUND.to_string()
    } else if let Some(file) = p.get("download") {
        prop("url", Some(&crate::ingest::enrich::link_url(file)));
        DOWNLOAD.to_string()
    } else if let Some(keyword) = p.get("search") {
        prop("keyword", Some(keyword));
        prop("category", p.get("search_cat"));
        if let Some(n) = p.get("search_count") {
            n.parse::<u64>()
                .map_err(|_| invalid("search_count", "must be a whole number"))?;
            prop("count", Some(n));
        }
        SITE_SEARCH.to_string()
    } else if let Some(goal) = p.get("idgoal") {
        let goal: u32 = goal
            .parse()
            .map_err(|_| invalid("idgoal", "must be a goal's numeric id"))?;
        if let Some(revenue) = p.get("revenue") {
            revenue
                .parse::<f64>()
                .map_err(|_| invalid("revenue", "must be a number"))?;
            prop("revenue", Some(revenue));
        }
        if goal == 0 {
            "Ecommerce Order".to_string()
        } else {
            format!("Goal {goal}")
        }
    } else if p.flag("ca") {
        String::new()
    } else {
        "pageview".to_string()
    };
    custom_props(p, &mut props)?;
    let url = p.get("url").unwrap_or_default().to_string();
    if url.is_empty() && !name.is_empty() {
        return Err(invalid("url", "is required"));
    }
    let screen_width = match p.get("res") {
        None => None,
        Some(res) => Some(
            res.split(['x', 'X'])
                .next()
                .and_then(|w| w.trim().parse::<u32>().ok())
                .filter(|w| *w <= 100_000)
                .ok_or_else(|| invalid("res", "must look like 1280x800"))?,
        ),
    };
    let client_ip = match p.get("cip") {
        None => None,
        Some(_) if !admin => return Err(invalid("cip", "needs the admin token_auth")),
        Some(ip) => Some(
            ip.trim()
                .parse()
                .map_err(|_| invalid("cip", "must be an IP address"))?,
        ),
    };
    let time = match p.get("cdt") {
        None => None,
        Some(_) if !admin => return Err(invalid("cdt", "needs the admin token_auth")),
        Some(t) => Some(parse_time(t).ok_or_else(|| {
            invalid(
                "cdt",
                "must be a Unix timestamp or a UTC time like 2024-06-10 08:00:00",
            )
        })?),
    };
    Ok(Tracked {
        site_id,
        record: p.flag("rec"),
        name,
        url,
        referrer: p.get("urlref").map(String::from),
        props,
        screen_width,
        user_agent: p.get("ua").map(String::from),
        new_visit: p.flag("new_visit"),
        heartbeat,
        client_ip,
        time,
        track_bots: p.flag("bots"),
        send_image: p.get("send_image") != Some("0"),
    })
}

/// `dimensionN`, and the custom variables `_cvar` (visit scope) and `cvar` (page scope), which
/// are JSON objects like `{"1": ["name", "value"]}`.
fn custom_props(p: &Params, props: &mut Vec<(String, String)>) -> Result<(), Invalid> {
    for (k, v) in &p.0 {
        if let Some(n) = k.strip_prefix("dimension") {
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                props.push((k.clone(), v.clone()));
            }
        }
    }
    for field in ["_cvar", "cvar"] {
        let Some(text) = p.get(field) else { continue };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| invalid(field_name(field), "must be a JSON object"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| invalid(field_name(field), "must be a JSON object"))?;
        for pair in obj.values() {
            match pair.as_array().map(Vec::as_slice) {
                Some([serde_json::Value::String(k), v]) if !k.is_empty() => {
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    props.push((k.clone(), v));
                }
                _ => {
                    return Err(invalid(
                        field_name(field),
                        "entries must be [name, value] pairs",
                    ))
                }
            }
        }
    }
    Ok(())
}

fn field_name(field: &str) -> &'static str {
    if field == "_cvar" {
        "_cvar"
    } else {
        "cvar"
    }
}

/// Hit times `cdt` may name: from 2000-01-01 up to 2100-01-01 (UTC seconds). Anything else is
/// a mistake, and far-off values would overflow the time arithmetic downstream.
const CDT_RANGE: std::ops::Range<i64> = 946_684_800..4_102_444_800;

/// `cdt`: seconds (or milliseconds) since the epoch, or `YYYY-MM-DD HH:MM:SS` in UTC, within
/// [`CDT_RANGE`].
fn parse_time(t: &str) -> Option<i64> {
    let t = t.trim();
    let secs = if let Ok(n) = t.parse::<f64>() {
        let secs = if n > 1e11 { n / 1000.0 } else { n };
        // Checked before the cast: `as` saturates, and a saturated time overflows later.
        (0.0..1e12).contains(&secs).then_some(secs as i64)?
    } else {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
            .ok()?
            .and_utc()
            .timestamp()
    };
    CDT_RANGE.contains(&secs).then_some(secs)
}

/// Matomo's answer to a tracked request: a transparent 1×1 GIF (43 bytes).
pub const GIF: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_q(q: &str) -> Result<Tracked, Invalid> {
        parse(&Params::from_query(q), false)
    }

    #[test]
    fn the_gif_is_43_bytes() {
        assert_eq!(GIF.len(), 43);
        assert!(GIF.starts_with(b"GIF89a"));
    }

    #[test]
    fn a_page_view() {
        let t = parse_q("?idsite=3&rec=1&url=https%3A%2F%2Fa.example%2Fx&action_name=X&urlref=https%3A%2F%2Fgoogle.com%2F&res=1280x800&_id=0123456789abcdef&uid=alice&send_image=0").unwrap();
        assert_eq!(t.site_id, 3);
        assert!(t.record);
        assert_eq!(t.name, "pageview");
        assert_eq!(t.url, "https://a.example/x");
        assert_eq!(t.referrer.as_deref(), Some("https://google.com/"));
        assert_eq!(t.screen_width, Some(1280));
        assert!(!t.send_image);
        // Client-side ids are not kept anywhere.
        assert!(t.props.is_empty());
    }

    #[test]
    fn events_searches_goals_links_and_custom_values() {
        let t = parse_q("idsite=1&rec=1&url=u&e_c=Video&e_a=Play&e_n=Intro&e_v=2.5&dimension1=blue&_cvar=%7B%221%22%3A%5B%22plan%22%2C%22pro%22%5D%7D").unwrap();
        assert_eq!(t.name, "Video");
        assert_eq!(
            t.props,
            vec![
                ("action".into(), "Play".into()),
                ("name".into(), "Intro".into()),
                ("value".into(), "2.5".into()),
                ("dimension1".into(), "blue".into()),
                ("plan".into(), "pro".into()),
            ]
        );
        let t = parse_q("idsite=1&rec=1&url=u&search=shoes&search_cat=all&search_count=4").unwrap();
        assert_eq!(t.name, SITE_SEARCH);
        assert_eq!(t.props.len(), 3);
        let t = parse_q("idsite=1&rec=1&url=u&idgoal=2&revenue=9.99").unwrap();
        assert_eq!((t.name.as_str(), t.props.len()), ("Goal 2", 1));
        let t = parse_q("idsite=1&rec=1&url=u&link=https%3A%2F%2Fout.example%2F").unwrap();
        assert_eq!(t.name, OUTBOUND);
        let t = parse_q("idsite=1&rec=1&url=u&download=https%3A%2F%2Fa.example%2Ff.pdf").unwrap();
        assert_eq!(t.name, DOWNLOAD);
        let t = parse_q("idsite=1&rec=1&url=u&ping=1").unwrap();
        assert!(t.heartbeat && t.name.is_empty());
    }

    #[test]
    fn bad_requests_name_the_parameter() {
        assert_eq!(parse_q("rec=1&url=u").unwrap_err().field, "idsite");
        assert_eq!(parse_q("idsite=abc&rec=1").unwrap_err().field, "idsite");
        assert_eq!(parse_q("idsite=0&rec=1").unwrap_err().field, "idsite");
        assert_eq!(parse_q("idsite=1&rec=1").unwrap_err().field, "url");
        assert_eq!(
            parse_q("idsite=1&rec=1&url=u&e_c=x").unwrap_err().field,
            "e_c"
        );
        assert_eq!(
            parse_q("idsite=1&rec=1&url=u&e_c=x&e_a=y&e_v=z")
                .unwrap_err()
                .field,
            "e_v"
        );
        assert_eq!(
            parse_q("idsite=1&rec=1&url=u&res=big").unwrap_err().field,
            "res"
        );
        assert_eq!(
            parse_q("idsite=1&rec=1&url=u&_cvar=%5B").unwrap_err().field,
            "_cvar"
        );
        // cip and cdt need the admin token.
        assert_eq!(
            parse_q("idsite=1&rec=1&url=u&cip=1.2.3.4")
                .unwrap_err()
                .field,
            "cip"
        );
        assert_eq!(
            parse_q("idsite=1&rec=1&url=u&cdt=1700000000")
                .unwrap_err()
                .field,
            "cdt"
        );
        let admin = parse(
            &Params::from_query("idsite=1&rec=1&url=u&cip=192.0.2.1&cdt=2024-06-10%2008:00:00"),
            true,
        )
        .unwrap();
        assert_eq!(admin.time, Some(1_718_006_400));
        assert!(admin.client_ip.is_some());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn pair() -> impl Strategy<Value = (String, String)> {
            let key = prop::sample::select(vec![
                "idsite",
                "rec",
                "url",
                "action_name",
                "urlref",
                "e_c",
                "e_a",
                "e_n",
                "e_v",
                "link",
                "download",
                "search",
                "search_cat",
                "search_count",
                "idgoal",
                "revenue",
                "ping",
                "ca",
                "res",
                "cip",
                "cdt",
                "_cvar",
                "cvar",
                "dimension1",
                "dimension18446744073709551616",
                "new_visit",
                "bots",
                "send_image",
                "ua",
            ]);
            let value = prop_oneof![
                ".{0,120}",
                "-?[0-9]{1,25}(\\.[0-9]{0,4})?(e-?[0-9]{1,3})?",
                "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}",
                "[0-9]{1,6}x[0-9]{1,6}",
                "\\{(\"[0-9]{1,3}\":\\[\".{0,8}\",(\".{0,8}\"|[0-9]{1,4}|null)\\],?){0,4}\\}",
            ];
            (key.prop_map(String::from), value)
        }

        proptest! {
            #[test]
            fn any_parameters_are_read_or_name_the_field(pairs in prop::collection::vec(pair(), 0..24), admin in any::<bool>()) {
                match parse(&Params(pairs), admin) {
                    Ok(t) => {
                        prop_assert!(t.site_id > 0);
                        if let Some(ts) = t.time {
                            prop_assert!(CDT_RANGE.contains(&ts));
                        }
                        prop_assert!(t.screen_width.is_none_or(|w| w <= 100_000));
                        prop_assert!(admin || (t.client_ip.is_none() && t.time.is_none()));
                    }
                    Err(e) => prop_assert!(!e.field.is_empty()),
                }
            }

            #[test]
            fn any_query_string_is_read(q in ".{0,600}", admin in any::<bool>()) {
                let _ = parse(&Params::from_query(&q), admin);
            }
        }
    }
}
