//! Parsers for web-server access-log lines: Apache/nginx combined and common, vhost_combined
//! (with or without the port, ISPConfig's layout), nginx JSON and Caddy JSON, and detection of
//! the format from a file's first lines. A line that fits no format is an error naming why;
//! nothing here panics on any input (property-tested below).

use crate::ingest::privacy::ClientAddr;
use std::net::IpAddr;

/// Longest line read; longer lines are skipped (`Skip::TooLong`).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// A log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"` (Apache and nginx default).
    Combined,
    /// `%h %l %u %t "%r" %>s %b`.
    Common,
    /// `%v:%p %h ...combined` (Apache's vhost_combined); also `%v %h ...` (ISPConfig).
    #[value(name = "vhost_combined")]
    #[serde(rename = "vhost_combined")]
    VhostCombined,
    /// One JSON object per line from an nginx `log_format ... escape=json` (README).
    NginxJson,
    /// Caddy's structured access log (`log { format json }`).
    CaddyJson,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::VhostCombined,
        Format::Combined,
        Format::Common,
        Format::CaddyJson,
        Format::NginxJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Combined => "combined",
            Format::Common => "common",
            Format::VhostCombined => "vhost_combined",
            Format::NginxJson => "nginx-json",
            Format::CaddyJson => "caddy-json",
        }
    }
}

/// One request as a log line tells it. The client address is a [`ClientAddr`]: it can only be
/// range-checked and truncated.
#[derive(Debug)]
pub struct Request {
    /// The virtual host (`%v`, the JSON logs' host), lower case, without port.
    pub vhost: Option<String>,
    pub client: ClientAddr,
    /// Unix seconds.
    pub ts: i64,
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    pub status: u16,
    /// Bytes sent (0 for `-`).
    pub bytes: u64,
    pub referrer: Option<String>,
    pub user_agent: String,
    /// The response's content type, where the log has it.
    pub content_type: Option<String>,
}

/// Why a line was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformed {
    TooLong,
    InvalidUtf8,
    Layout,
    Time,
    Address,
    Status,
    Request,
}

impl Malformed {
    pub fn as_str(self) -> &'static str {
        match self {
            Malformed::TooLong => "line too long",
            Malformed::InvalidUtf8 => "invalid UTF-8",
            Malformed::Layout => "does not fit the format",
            Malformed::Time => "impossible time",
            Malformed::Address => "no client address",
            Malformed::Status => "bad status",
            Malformed::Request => "bad request line",
        }
    }
}

/// Parses one line (without its line end) in `format`.
pub fn parse(format: Format, line: &[u8]) -> Result<Request, Malformed> {
    if line.len() > MAX_LINE_BYTES {
        return Err(Malformed::TooLong);
    }
    let line = std::str::from_utf8(line).map_err(|_| Malformed::InvalidUtf8)?;
    let line = line.trim_end_matches(['\r', '\n']);
    match format {
        Format::Combined => text(line, false, true),
        Format::Common => text(line, false, false),
        Format::VhostCombined => text(line, true, true),
        Format::NginxJson => nginx_json(line),
        Format::CaddyJson => caddy_json(line),
    }
}

/// The format most of `lines` parse in (`None`: none parses any).
pub fn detect<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Option<Format> {
    let lines: Vec<&[u8]> = lines
        .into_iter()
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(50)
        .collect();
    let mut best: Option<(usize, Format)> = None;
    for f in Format::ALL {
        let ok = lines.iter().filter(|l| parse(f, l).is_ok()).count();
        if ok > 0 && best.is_none_or(|(n, _)| ok > n) {
            best = Some((ok, f));
        }
    }
    best.map(|(_, f)| f)
}

/// A cursor over a text log line.
struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn token(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(' ');
        if s.is_empty() {
            return None;
        }
        let end = s.find(' ').unwrap_or(s.len());
        self.rest = &s[end..];
        Some(&s[..end])
    }

    /// `[...]`
    fn bracketed(&mut self) -> Option<&'a str> {
        let s = self.rest.trim_start_matches(' ').strip_prefix('[')?;
        let end = s.find(']')?;
        self.rest = &s[end + 1..];
        Some(&s[..end])
    }

    /// `"..."` with Apache's and nginx's backslash escapes (`\"`, `\\`), unescaped.
    fn quoted(&mut self) -> Option<String> {
        let s = self.rest.trim_start_matches(' ').strip_prefix('"')?;
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &s[i + 1..];
                    return Some(out);
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => return None,
                },
                c => out.push(c),
            }
        }
        None
    }

    fn at_end(&self) -> bool {
        self.rest.trim().is_empty()
    }
}

fn text(line: &str, vhost: bool, combined: bool) -> Result<Request, Malformed> {
    let mut c = Cursor { rest: line };
    let host = if vhost {
        let v = c.token().ok_or(Malformed::Layout)?;
        Some(host_without_port(v).ok_or(Malformed::Layout)?)
    } else {
        None
    };
    let addr = c.token().ok_or(Malformed::Layout)?;
    let client = client_addr(addr)?;
    c.token().ok_or(Malformed::Layout)?; // %l
    c.token().ok_or(Malformed::Layout)?; // %u
    let ts = apache_time(c.bracketed().ok_or(Malformed::Layout)?)?;
    let request = c.quoted().ok_or(Malformed::Layout)?;
    let status = status(c.token().ok_or(Malformed::Layout)?)?;
    let bytes = byte_count(c.token().ok_or(Malformed::Layout)?)?;
    let (referrer, user_agent) = if combined {
        let r = c.quoted().ok_or(Malformed::Layout)?;
        let ua = c.quoted().ok_or(Malformed::Layout)?;
        (r, ua)
    } else {
        if !c.at_end() {
            return Err(Malformed::Layout);
        }
        (String::new(), String::new())
    };
    let (method, target) = request_line(&request)?;
    Ok(Request {
        vhost: host,
        client,
        ts,
        method,
        target,
        status,
        bytes,
        referrer: present(referrer),
        user_agent: if user_agent == "-" {
            String::new()
        } else {
            user_agent
        },
        content_type: None,
    })
}

/// `example.com:443` → `example.com`; `[2001:db8::1]:80` and bare IPs are not virtual hosts.
fn host_without_port(v: &str) -> Option<String> {
    let host = match v.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        Some(_) => return None,
        None => v,
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && host.parse::<IpAddr>().is_err()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    ok.then_some(host)
}

fn client_addr(s: &str) -> Result<ClientAddr, Malformed> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    s.parse::<IpAddr>()
        .map(ClientAddr::reported)
        .map_err(|_| Malformed::Address)
}

fn present(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty() && t != "-").then(|| t.to_string())
}

fn status(s: &str) -> Result<u16, Malformed> {
    match s.parse::<u16>() {
        Ok(n) if (100..=599).contains(&n) => Ok(n),
        _ => Err(Malformed::Status),
    }
}

fn byte_count(s: &str) -> Result<u64, Malformed> {
    if s == "-" {
        return Ok(0);
    }
    s.parse().map_err(|_| Malformed::Layout)
}

/// `GET /path?q HTTP/1.1` → (method, target).
fn request_line(r: &str) -> Result<(String, String), Malformed> {
    let mut parts = r.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().ok_or(Malformed::Request)?;
    let valid_method =
        !method.is_empty() && method.len() <= 16 && method.bytes().all(|b| b.is_ascii_uppercase());
    if !valid_method || target.is_empty() {
        return Err(Malformed::Request);
    }
    Ok((method.to_string(), target.to_string()))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `17/May/2015:10:05:03 +0000` → Unix seconds.
fn apache_time(s: &str) -> Result<i64, Malformed> {
    let b = s.as_bytes();
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return Err(Malformed::Time);
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, Malformed> {
        s.get(r)
            .filter(|t| t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or(Malformed::Time)
    };
    let day = num(0..2)?;
    let month = MONTHS
        .iter()
        .position(|m| s.get(3..6) == Some(*m))
        .ok_or(Malformed::Time)? as u32
        + 1;
    let year = num(7..11)? as i32;
    let (h, m, sec) = (num(12..14)?, num(15..17)?, num(18..20)?);
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(Malformed::Time),
    };
    let offset = sign * (num(22..24)? as i64 * 3600 + num(24..26)? as i64 * 60);
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day).ok_or(Malformed::Time)?;
    let time = chrono::NaiveTime::from_hms_opt(h, m, sec).ok_or(Malformed::Time)?;
    let ts = date.and_time(time).and_utc().timestamp() - offset;
    plausible_time(ts)
}

/// Times before 1995 or after 2200 are not web-server log times.
fn plausible_time(ts: i64) -> Result<i64, Malformed> {
    if (788_918_400..7_258_118_400).contains(&ts) {
        Ok(ts)
    } else {
        Err(Malformed::Time)
    }
}

fn json_object(line: &str) -> Result<serde_json::Map<String, serde_json::Value>, Malformed> {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(Malformed::Layout),
    }
}

type Json = serde_json::Map<String, serde_json::Value>;

fn str_of<'a>(m: &'a Json, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| m.get(*k).and_then(|v| v.as_str()))
}

fn num_of(m: &Json, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| match m.get(*k)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn json_time(m: &Json) -> Result<i64, Malformed> {
    if let Some(t) = str_of(m, &["time_iso8601", "timestamp", "time"]) {
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
            return plausible_time(dt.timestamp());
        }
    }
    if let Some(t) = str_of(m, &["time_local"]) {
        return apache_time(t);
    }
    match num_of(m, &["msec", "ts", "time", "timestamp"]) {
        Some(t) if t.is_finite() => plausible_time(t as i64),
        _ => Err(Malformed::Time),
    }
}

fn nginx_json(line: &str) -> Result<Request, Malformed> {
    let m = json_object(line)?;
    if m.get("request").is_some_and(|r| r.is_object()) {
        return Err(Malformed::Layout); // Caddy's
    }
    let addr = str_of(&m, &["remote_addr", "client_ip", "ip"]).ok_or(Malformed::Address)?;
    let client = client_addr(addr)?;
    let ts = json_time(&m)?;
    let (method, target) = match (
        str_of(&m, &["request_method", "method"]),
        str_of(&m, &["request_uri", "uri"]),
    ) {
        (Some(method), Some(uri)) => request_line(&format!("{method} {uri}"))?,
        _ => request_line(str_of(&m, &["request"]).ok_or(Malformed::Layout)?)?,
    };
    let status = match num_of(&m, &["status"]) {
        Some(s) if s.fract() == 0.0 && (100.0..=599.0).contains(&s) => s as u16,
        _ => return Err(Malformed::Status),
    };
    let bytes = num_of(&m, &["body_bytes_sent", "bytes_sent", "size"])
        .filter(|b| b.is_finite() && *b >= 0.0)
        .unwrap_or(0.0) as u64;
    let vhost =
        str_of(&m, &["host", "http_host", "server_name", "vhost"]).and_then(host_without_port);
    Ok(Request {
        vhost,
        client,
        ts,
        method,
        target,
        status,
        bytes,
        referrer: str_of(&m, &["http_referer", "referer", "referrer"])
            .and_then(|r| present(r.to_string())),
        user_agent: str_of(&m, &["http_user_agent", "user_agent"])
            .filter(|u| *u != "-")
            .unwrap_or_default()
            .to_string(),
        content_type: str_of(&m, &["sent_http_content_type", "content_type"])
            .and_then(|c| present(c.to_string())),
    })
}

/// The first value of a header in Caddy's `{"Name": ["value"]}` maps.
fn header<'a>(headers: Option<&'a serde_json::Value>, name: &str) -> Option<&'a str> {
    headers?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))?
        .1
        .as_array()?
        .first()?
        .as_str()
}

fn caddy_json(line: &str) -> Result<Request, Malformed> {
    let m = json_object(line)?;
    let r = m
        .get("request")
        .and_then(|r| r.as_object())
        .ok_or(Malformed::Layout)?;
    let addr = str_of(r, &["client_ip", "remote_ip"]).ok_or(Malformed::Address)?;
    let client = client_addr(addr)?;
    let ts = json_time(&m)?;
    let method = str_of(r, &["method"]).ok_or(Malformed::Request)?;
    let uri = str_of(r, &["uri"]).ok_or(Malformed::Request)?;
    let (method, target) = request_line(&format!("{method} {uri}"))?;
    let status = match num_of(&m, &["status"]) {
        Some(s) if s.fract() == 0.0 && (100.0..=599.0).contains(&s) => s as u16,
        _ => return Err(Malformed::Status),
    };
    let bytes = num_of(&m, &["size"])
        .filter(|b| b.is_finite() && *b >= 0.0)
        .unwrap_or(0.0) as u64;
    let headers = r.get("headers");
    Ok(Request {
        vhost: str_of(r, &["host"]).and_then(host_without_port),
        client,
        ts,
        method,
        target,
        status,
        bytes,
        referrer: header(headers, "Referer").and_then(|v| present(v.to_string())),
        user_agent: header(headers, "User-Agent")
            .unwrap_or_default()
            .to_string(),
        content_type: header(m.get("resp_headers"), "Content-Type")
            .and_then(|v| present(v.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const COMBINED: &str = r#"83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/x.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0""#;

    fn ip_in(r: &Request, net: &str) -> bool {
        r.client.is_in(&[net.parse().unwrap()])
    }

    #[test]
    fn combined_line() {
        let r = parse(Format::Combined, COMBINED.as_bytes()).unwrap();
        assert!(ip_in(&r, "83.149.9.216/32"));
        assert_eq!(r.ts, 1_431_857_103);
        assert_eq!(
            (r.method.as_str(), r.target.as_str()),
            ("GET", "/presentations/x.png")
        );
        assert_eq!((r.status, r.bytes), (200, 203_023));
        assert_eq!(
            r.referrer.as_deref(),
            Some("http://semicomplete.com/presentations/")
        );
        assert!(r.user_agent.starts_with("Mozilla/5.0"));
        assert_eq!(r.vhost, None);
        assert_eq!(detect([COMBINED.as_bytes()]), Some(Format::Combined));
    }

    #[test]
    fn offsets_escapes_and_dashes() {
        let l =
            r#"2001:db8::7 - bob [01/Jan/2024:01:30:00 +0130] "GET /a\"b HTTP/1.1" 304 - "-" "-""#;
        let r = parse(Format::Combined, l.as_bytes()).unwrap();
        assert_eq!(r.ts, 1_704_067_200);
        assert_eq!(r.target, "/a\"b");
        assert_eq!((r.status, r.bytes, r.referrer.clone()), (304, 0, None));
        assert_eq!(r.user_agent, "");
        assert!(ip_in(&r, "2001:db8::/32"));
    }

    #[test]
    fn common_and_vhost_layouts() {
        let common =
            r#"192.0.2.1 - - [10/Oct/2023:13:55:36 -0700] "GET /index.html HTTP/1.0" 200 2326"#;
        let r = parse(Format::Common, common.as_bytes()).unwrap();
        assert_eq!(r.ts, 1_696_971_336);
        assert_eq!(detect([common.as_bytes()]), Some(Format::Common));
        let vhost = format!("Shop.Example.com:443 {COMBINED}");
        let r = parse(Format::VhostCombined, vhost.as_bytes()).unwrap();
        assert_eq!(r.vhost.as_deref(), Some("shop.example.com"));
        assert_eq!(detect([vhost.as_bytes()]), Some(Format::VhostCombined));
        let isp = format!("blog.example.org {COMBINED}");
        let r = parse(Format::VhostCombined, isp.as_bytes()).unwrap();
        assert_eq!(r.vhost.as_deref(), Some("blog.example.org"));
        assert!(parse(Format::Combined, vhost.as_bytes()).is_err());
        assert!(parse(Format::VhostCombined, COMBINED.as_bytes()).is_err());
    }

    #[test]
    fn json_layouts() {
        let nginx = r#"{"time_iso8601":"2024-03-01T10:00:00+01:00","remote_addr":"198.51.100.4","request":"GET /p?utm_source=x HTTP/2.0","status":"200","body_bytes_sent":"512","http_referer":"","http_user_agent":"Mozilla/5.0 Firefox","host":"www.example.com"}"#;
        let r = parse(Format::NginxJson, nginx.as_bytes()).unwrap();
        assert_eq!(r.ts, 1_709_283_600);
        assert_eq!(r.target, "/p?utm_source=x");
        assert_eq!((r.status, r.bytes, r.referrer.clone()), (200, 512, None));
        assert_eq!(r.vhost.as_deref(), Some("www.example.com"));
        assert_eq!(detect([nginx.as_bytes()]), Some(Format::NginxJson));
        let caddy = r#"{"level":"info","ts":1709283600.25,"logger":"http.log.access","msg":"handled request","request":{"remote_ip":"10.0.0.1","client_ip":"198.51.100.4","proto":"HTTP/2.0","method":"GET","host":"example.com:443","uri":"/docs/","headers":{"User-Agent":["Mozilla/5.0 Firefox"],"Referer":["https://duckduckgo.com/"]}},"size":1234,"status":200,"resp_headers":{"Content-Type":["text/html; charset=utf-8"]}}"#;
        let r = parse(Format::CaddyJson, caddy.as_bytes()).unwrap();
        assert!(ip_in(&r, "198.51.100.4/32"));
        assert_eq!((r.ts, r.status, r.bytes), (1_709_283_600, 200, 1234));
        assert_eq!(r.vhost.as_deref(), Some("example.com"));
        assert_eq!(r.referrer.as_deref(), Some("https://duckduckgo.com/"));
        assert_eq!(r.content_type.as_deref(), Some("text/html; charset=utf-8"));
        assert_eq!(detect([caddy.as_bytes()]), Some(Format::CaddyJson));
        assert!(parse(Format::NginxJson, caddy.as_bytes()).is_err());
    }

    #[test]
    fn bad_lines_say_why() {
        let cases: [(&[u8], Malformed); 6] = [
            (
                b"- - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"",
                Malformed::Address,
            ),
            (
                b"1.2.3.4 - - [31/Feb/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"",
                Malformed::Time,
            ),
            (
                b"1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"GET / HTTP/1.1\" 999 1 \"-\" \"x\"",
                Malformed::Status,
            ),
            (
                b"1.2.3.4 - - [17/May/2015:10:05:03 +0000] \"\\x16\\x03\" 400 1 \"-\" \"x\"",
                Malformed::Request,
            ),
            (b"1.2.3.4 - - [17/May/2015:10:05", Malformed::Layout),
            (b"1.2.3.4 \xff\xfe", Malformed::InvalidUtf8),
        ];
        for (line, why) in cases {
            assert_eq!(parse(Format::Combined, line).err(), Some(why), "{line:?}");
        }
        let long = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(
            parse(Format::Combined, &long).err(),
            Some(Malformed::TooLong)
        );
        assert_eq!(detect([&b"garbage"[..], b"\x00\x01"]), None);
    }

    proptest! {
        #[test]
        fn no_input_panics(line in proptest::collection::vec(any::<u8>(), 0..400)) {
            for f in Format::ALL {
                let _ = parse(f, &line);
            }
        }

        #[test]
        fn mutated_lines_never_panic(cut in 0usize..200, byte in any::<u8>(), at in 0usize..200) {
            let mut line = COMBINED.as_bytes().to_vec();
            let at = at.min(line.len() - 1);
            line[at] = byte;
            line.truncate(cut.max(1).min(line.len()));
            for f in Format::ALL {
                let _ = parse(f, &line);
            }
        }

        #[test]
        fn generated_combined_lines_parse(
            a in any::<[u8; 4]>(),
            ts in 900_000_000i64..4_000_000_000,
            path in "/[a-z0-9/._-]{0,40}",
            status in 100u16..600,
            bytes in any::<u32>(),
        ) {
            let t = chrono::DateTime::from_timestamp(ts, 0).unwrap();
            let line = format!(
                "{}.{}.{}.{} - - [{}] \"GET {path} HTTP/1.1\" {status} {bytes} \"-\" \"Mozilla/5.0\"",
                a[0], a[1], a[2], a[3], t.format("%d/%b/%Y:%H:%M:%S +0000")
            );
            let r = parse(Format::Combined, line.as_bytes()).unwrap();
            prop_assert_eq!(r.ts, ts);
            prop_assert_eq!(r.target, path);
            prop_assert_eq!((r.status, r.bytes), (status, bytes as u64));
        }
    }
}
