//! `logs split`: a shared log cut into one log per site, in the input format, with every
//! client address truncated by its site's mask (unless kept on request), so that a customer
//! gets their own lines and nobody else's visitors. Lines of hosts that are no site's go to
//! `unknown-hosts.log`, unreadable lines nowhere (they are counted).

use super::parse::{self, Format, Malformed};
use crate::tenancy::sites::{Site, SiteRegistry};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file of lines whose host is no site's.
pub const UNKNOWN_HOSTS: &str = "unknown-hosts.log";
/// Most output files open at once (the others are reopened to append when needed).
const MAX_OPEN: usize = 256;

/// What a split wrote.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SplitStats {
    pub lines: u64,
    /// Lines and bytes written per output file name.
    pub files: BTreeMap<String, (u64, u64)>,
    pub malformed: BTreeMap<&'static str, u64>,
    /// Lines without a virtual host.
    pub no_vhost: u64,
}

/// Splits lines by virtual host into files in one directory.
pub struct Splitter {
    format: Format,
    sites: SiteRegistry,
    dir: PathBuf,
    keep_addresses: bool,
    open: HashMap<String, BufWriter<File>>,
    pub stats: SplitStats,
}

impl Splitter {
    /// Writes into `dir`, which must be empty or not exist yet.
    pub fn new(
        format: Format,
        sites: Vec<Site>,
        dir: &Path,
        keep_addresses: bool,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        if std::fs::read_dir(dir)?.next().is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} is not empty; name a new or empty directory",
                    dir.display()
                ),
            ));
        }
        let registry = SiteRegistry::default();
        registry.replace(sites);
        Ok(Self {
            format,
            sites: registry,
            dir: dir.to_path_buf(),
            keep_addresses,
            open: HashMap::new(),
            stats: SplitStats::default(),
        })
    }

    pub fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    /// Splits one line (without its end).
    pub fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.stats.lines += 1;
        let req = match parse::parse(self.format, line) {
            Ok(r) => r,
            Err(why) => {
                *self.stats.malformed.entry(why.as_str()).or_default() += 1;
                return Ok(());
            }
        };
        let Some(host) = req.vhost.as_deref() else {
            self.stats.no_vhost += 1;
            return Ok(());
        };
        let (name, mask) = match self.sites.by_domain(host) {
            Some(site) => (format!("{}.log", site.domain), site.ip_mask_bytes),
            None => (UNKNOWN_HOSTS.to_string(), 1),
        };
        let text = String::from_utf8_lossy(line);
        let out = if self.keep_addresses {
            text.into_owned()
        } else {
            let truncated = req.client.truncate(mask).addr().to_string();
            match rewrite_address(self.format, &text, &truncated) {
                Some(t) => t,
                None => {
                    *self
                        .stats
                        .malformed
                        .entry(Malformed::Address.as_str())
                        .or_default() += 1;
                    return Ok(());
                }
            }
        };
        self.write(&name, out.as_bytes())
    }

    fn write(&mut self, name: &str, line: &[u8]) -> std::io::Result<()> {
        if !self.open.contains_key(name) {
            if self.open.len() >= MAX_OPEN {
                // Close one; it is opened again to append when its site comes back.
                if let Some(k) = self.open.keys().next().cloned() {
                    if let Some(mut w) = self.open.remove(&k) {
                        w.flush()?;
                    }
                }
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))?;
            self.open
                .insert(name.to_string(), BufWriter::with_capacity(64 * 1024, f));
        }
        if let Some(w) = self.open.get_mut(name) {
            w.write_all(line)?;
            w.write_all(b"\n")?;
        }
        let slot = self.stats.files.entry(name.to_string()).or_default();
        slot.0 += 1;
        slot.1 += line.len() as u64 + 1;
        Ok(())
    }

    /// Writes out what is buffered.
    pub fn finish(&mut self) -> std::io::Result<()> {
        for w in self.open.values_mut() {
            w.flush()?;
        }
        self.open.clear();
        Ok(())
    }
}

/// The line with its client address replaced by `address` (`None`: no address found where the
/// format has it).
pub fn rewrite_address(format: Format, line: &str, address: &str) -> Option<String> {
    match format {
        Format::Combined | Format::Common | Format::VhostCombined => {
            let skip = usize::from(format == Format::VhostCombined);
            let mut start = 0;
            for _ in 0..skip {
                start += line[start..].find(' ')? + 1;
            }
            let end = start + line[start..].find(' ')?;
            Some(format!("{}{address}{}", &line[..start], &line[end..]))
        }
        Format::NginxJson => {
            let mut v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).ok()?;
            let mut found = false;
            for k in ["remote_addr", "client_ip", "ip"] {
                if let Some(slot) = v.get_mut(k) {
                    *slot = serde_json::Value::String(address.to_string());
                    found = true;
                }
            }
            // Other fields that carry addresses go.
            for k in [
                "http_x_forwarded_for",
                "http_x_real_ip",
                "realip_remote_addr",
            ] {
                v.remove(k);
            }
            found.then(|| serde_json::Value::Object(v).to_string())
        }
        Format::CaddyJson => {
            let mut v: serde_json::Value = serde_json::from_str(line).ok()?;
            let r = v.get_mut("request")?.as_object_mut()?;
            let mut found = false;
            for k in ["remote_ip", "client_ip"] {
                if let Some(slot) = r.get_mut(k) {
                    *slot = serde_json::Value::String(address.to_string());
                    found = true;
                }
            }
            r.remove("remote_port");
            if let Some(h) = r.get_mut("headers").and_then(|h| h.as_object_mut()) {
                h.retain(|k, _| {
                    ![
                        "x-forwarded-for",
                        "x-real-ip",
                        "forwarded",
                        "cf-connecting-ip",
                    ]
                    .contains(&k.to_ascii_lowercase().as_str())
                });
            }
            found.then(|| v.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_replaced_where_the_format_has_them() {
        let l = r#"a.example:443 198.51.100.77 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "x""#;
        assert_eq!(
            rewrite_address(Format::VhostCombined, l, "198.51.100.0").unwrap(),
            l.replace("198.51.100.77", "198.51.100.0")
        );
        let l =
            r#"198.51.100.77 - - [17/May/2015:10:05:03 +0000] "GET /198.51.100.77 HTTP/1.1" 200 1"#;
        assert_eq!(
            rewrite_address(Format::Common, l, "198.51.0.0").unwrap(),
            r#"198.51.0.0 - - [17/May/2015:10:05:03 +0000] "GET /198.51.100.77 HTTP/1.1" 200 1"#
        );
        let j = r#"{"remote_addr":"198.51.100.77","http_x_forwarded_for":"203.0.113.9","host":"a.example"}"#;
        let out = rewrite_address(Format::NginxJson, j, "198.51.100.0").unwrap();
        assert!(
            out.contains("198.51.100.0")
                && !out.contains("198.51.100.77")
                && !out.contains("203.0.113.9")
        );
        let c = r#"{"ts":1,"request":{"remote_ip":"10.0.0.1","remote_port":"5","client_ip":"198.51.100.77","host":"a.example","headers":{"X-Forwarded-For":["198.51.100.77"],"User-Agent":["x"]}},"status":200}"#;
        let out = rewrite_address(Format::CaddyJson, c, "198.51.100.0").unwrap();
        assert!(
            !out.contains("198.51.100.77") && !out.contains("10.0.0.1"),
            "{out}"
        );
        assert!(out.contains("User-Agent"));
        assert_eq!(rewrite_address(Format::Combined, "nospace", "x"), None);
    }
}
