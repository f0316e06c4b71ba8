//! The reading half of a log import: opens plain, gzip and zstd files (or standard input),
//! reads bounded lines, detects the format, assigns each line to a site (`--site` or by
//! virtual host), checks the site's excluded ranges on the full address and truncates it by
//! the site's mask at once: what leaves here is an [`Entry`] without a full address. Every line
//! that does not become an entry is counted by reason.

use super::classify::{classify, Kind};
use super::import::{Entry, EntryKind};
use super::parse::{self, Format, Malformed, MAX_LINE_BYTES};
use crate::tenancy::sites::{Site, SiteRegistry};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

/// How lines find their site.
#[derive(Debug, Clone)]
pub enum Assign {
    /// Every line belongs to this site (a per-site log).
    Site(Arc<Site>),
    /// By the line's virtual host: the site whose domain or alias it is.
    ByVhost,
}

/// First line numbers kept per reason.
const EXAMPLES: usize = 5;

/// What the reader saw of one site's lines.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SiteRead {
    /// All of them: pages, assets, bots.
    pub lines: u64,
    /// Not counted, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// From the site's excluded address ranges.
    pub excluded_ip: u64,
}

/// What the reader saw.
#[derive(Debug, Clone, Default)]
pub struct ReadStats {
    pub lines: u64,
    pub sites: BTreeMap<String, SiteRead>,
    /// Unreadable lines by reason: count and the first few `file:line`s.
    pub malformed: BTreeMap<Malformed, (u64, Vec<String>)>,
    /// Lines of hosts that are no site's, by host.
    pub unknown_hosts: HashMap<String, u64>,
    /// Lines of a shared log without a virtual host.
    pub no_vhost: u64,
}

impl ReadStats {
    /// The ten hosts with the most lines that belong to no site.
    pub fn top_unknown_hosts(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .unknown_hosts
            .iter()
            .map(|(h, n)| (h.clone(), *n))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(10);
        all
    }

    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().map(|(n, _)| n).sum()
    }
}

/// What a line became.
#[derive(Debug)]
pub enum Line {
    Entry(Entry),
    /// A line of a site that counts only as traffic (a static file, another method or
    /// status, an excluded address), also counted as not counted with its reason.
    Other(Other),
    /// Counted in the statistics as not counted, with its reason.
    Skipped,
    /// A virtual host of no site, when sites are to be created for them: create it
    /// ([`LineReader::add_site`]) or refuse it ([`LineReader::refuse_host`]), then read the
    /// line again.
    NewHost(String),
}

/// A line that counts only as traffic: its site, time, bytes sent and a digest of its fields
/// with the address truncated (to recognise it when it is imported again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Other {
    pub site: Arc<Site>,
    pub ts: i64,
    pub bytes: u64,
    pub digest: u64,
}

/// Turns lines into entries.
pub struct LineReader {
    pub format: Format,
    assign: Assign,
    sites: SiteRegistry,
    all_sites: Vec<Site>,
    create_unknown: bool,
    refused: std::collections::HashSet<String>,
    pub stats: ReadStats,
}

impl LineReader {
    pub fn new(format: Format, assign: Assign, sites: Vec<Site>) -> Self {
        let registry = SiteRegistry::default();
        registry.replace(sites.clone());
        Self {
            format,
            assign,
            sites: registry,
            all_sites: sites,
            create_unknown: false,
            refused: Default::default(),
            stats: ReadStats::default(),
        }
    }

    /// Answers [`Line::NewHost`] for virtual hosts of no site instead of skipping them.
    pub fn creating_sites(mut self) -> Self {
        self.create_unknown = true;
        self
    }

    /// A site made for a new host.
    pub fn add_site(&mut self, site: Site) {
        self.all_sites.push(site);
        self.sites.replace(self.all_sites.clone());
    }

    /// A host no site is made for: its lines are skipped like other unknown hosts'.
    pub fn refuse_host(&mut self, host: String) {
        self.refused.insert(host);
    }

    /// Reads one line (`line_no` counts from 1 in `file`) as an entry, or `None`.
    pub fn entry(&mut self, file: &str, line_no: u64, line: &[u8]) -> Option<Entry> {
        match self.line(file, line_no, line) {
            Line::Entry(e) => Some(e),
            _ => None,
        }
    }

    /// Reads one line (`line_no` counts from 1 in `file`).
    pub fn line(&mut self, file: &str, line_no: u64, line: &[u8]) -> Line {
        match self.read(file, line_no, line) {
            Ok(Outcome::Entry(e)) => Line::Entry(e),
            Ok(Outcome::Other(o)) => Line::Other(o),
            Ok(Outcome::Nothing) => Line::Skipped,
            Err(host) => {
                self.stats.lines -= 1;
                Line::NewHost(host)
            }
        }
    }

    fn read(&mut self, file: &str, line_no: u64, line: &[u8]) -> Result<Outcome, String> {
        self.stats.lines += 1;
        let req = match parse::parse(self.format, line) {
            Ok(r) => r,
            Err(why) => {
                let slot = self.stats.malformed.entry(why).or_default();
                slot.0 += 1;
                if slot.1.len() < EXAMPLES {
                    slot.1.push(format!("{file}:{line_no}"));
                }
                return Ok(Outcome::Nothing);
            }
        };
        let site = match &self.assign {
            Assign::Site(s) => s.clone(),
            Assign::ByVhost => {
                let Some(host) = req.vhost.as_deref() else {
                    self.stats.no_vhost += 1;
                    return Ok(Outcome::Nothing);
                };
                match self.sites.by_domain(host) {
                    Some(s) => s,
                    None if self.create_unknown && !self.refused.contains(host) => {
                        return Err(host.to_string());
                    }
                    None => {
                        if let Some(n) = self.stats.unknown_hosts.get_mut(host) {
                            *n += 1;
                        } else if self.stats.unknown_hosts.len() < 100_000 {
                            self.stats.unknown_hosts.insert(host.to_string(), 1);
                        }
                        return Ok(Outcome::Nothing);
                    }
                }
            }
        };
        if !self.stats.sites.contains_key(&site.domain) {
            self.stats
                .sites
                .insert(site.domain.clone(), SiteRead::default());
        }
        let Some(seen) = self.stats.sites.get_mut(&site.domain) else {
            return Ok(Outcome::Nothing);
        };
        seen.lines += 1;
        let kind = match classify(&req) {
            Kind::PageView => Some(EntryKind::Pageview),
            Kind::NotFound => Some(EntryKind::NotFound),
            Kind::Download => Some(EntryKind::Download),
            Kind::Skip(why) => {
                *seen.skipped.entry(why.as_str()).or_default() += 1;
                None
            }
        };
        let excluded = req.client.is_in(&site.excluded_ranges);
        // Truncate first: from here on only the site's truncated address exists.
        let ip = req.client.truncate(site.ip_mask_bytes).addr();
        let kind = match kind {
            Some(k) if !excluded => k,
            _ => {
                if excluded && kind.is_some() {
                    seen.excluded_ip += 1;
                }
                return Ok(Outcome::Other(Other {
                    site: site.clone(),
                    ts: req.ts,
                    bytes: req.bytes,
                    digest: line_digest(
                        &ip,
                        req.ts,
                        [
                            &req.method,
                            &req.target,
                            req.referrer.as_deref().unwrap_or(""),
                            &req.user_agent,
                        ],
                        req.status,
                    ),
                }));
            }
        };
        Ok(Outcome::Entry(Entry {
            host: req.vhost.unwrap_or_else(|| site.domain.clone()),
            site: site.domain.clone(),
            ip,
            ts: req.ts,
            kind,
            target: req.target,
            referrer: req.referrer,
            ua: req.user_agent,
            no_agent_field: self.format == Format::Common,
            status: req.status,
            bytes: req.bytes,
        }))
    }
}

/// What one line became, before sites are made for new hosts.
enum Outcome {
    Entry(Entry),
    Other(Other),
    Nothing,
}

/// A digest of a line's fields, the address truncated already (never the full one).
/// `fields`: method, target, referrer, User-Agent.
fn line_digest(ip: &std::net::IpAddr, ts: i64, fields: [&str; 4], status: u16) -> u64 {
    let mut h = blake3::Hasher::new();
    match ip {
        std::net::IpAddr::V4(a) => h.update(&a.octets()),
        std::net::IpAddr::V6(a) => h.update(&a.octets()),
    };
    h.update(&ts.to_le_bytes());
    for field in fields {
        h.update(&(field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    h.update(&status.to_le_bytes());
    super::import::first_u64(&h.finalize())
}

/// A byte counter around the file being read (the progress bar's position).
pub struct Counting<R> {
    inner: R,
    pub read: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a log file (`-`: standard input), decompressing gzip and zstd by their magic bytes.
/// Answers the reader and the file's size (0 for standard input), and counts the bytes read
/// from the file itself into `read`.
pub fn open(
    path: &str,
    read: Arc<std::sync::atomic::AtomicU64>,
) -> std::io::Result<(Box<dyn BufRead + Send>, u64)> {
    let (raw, size): (Box<dyn Read + Send>, u64) = if path == "-" {
        (Box::new(std::io::stdin()), 0)
    } else {
        let f = std::fs::File::open(path)?;
        let size = f.metadata().map(|m| m.len()).unwrap_or(0);
        (Box::new(f), size)
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, Counting { inner: raw, read });
    let magic = buffered.fill_buf()?.get(..4).map(<[u8]>::to_vec);
    let reader: Box<dyn BufRead + Send> = match magic.as_deref() {
        Some([0x1f, 0x8b, ..]) => Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )),
        Some([0x28, 0xb5, 0x2f, 0xfd]) => Box::new(BufReader::with_capacity(
            256 * 1024,
            ruzstd::decoding::StreamingDecoder::new(buffered)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?,
        )),
        _ => Box::new(buffered),
    };
    Ok((reader, size))
}

/// Reads the next line into `buf` (without its end), keeping at most [`MAX_LINE_BYTES`] + 1
/// bytes of it: a longer line is cut there and rejected by the parser, never held whole.
/// Answers false at the end of the input.
pub fn next_line(reader: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any);
        }
        any = true;
        let (part, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        let room = (MAX_LINE_BYTES + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
    }
}

/// The format of a file from its first lines (`None`: no line fits any format).
pub fn detect_in(
    reader: &mut dyn BufRead,
    sample: &mut Vec<Vec<u8>>,
) -> std::io::Result<Option<Format>> {
    let mut buf = Vec::new();
    while sample.len() < 50 && next_line(reader, &mut buf)? {
        sample.push(buf.clone());
    }
    Ok(parse::detect(sample.iter().map(Vec::as_slice)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::classify::Skip;
    use crate::tenancy::SiteId;

    fn site(domain: &str, aliases: &[&str], mask: u8) -> Site {
        Site {
            id: SiteId(1),
            domain: domain.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            timezone: "UTC".into(),
            ip_mask_bytes: mask,
            respect_dnt: true,
            excluded_ranges: vec!["192.0.2.0/24".parse().unwrap()],
            customer_id: None,
            retention_days: 760,
            archive_months: 0,
            cnil: false,
        }
    }

    #[test]
    fn lines_find_their_site_and_lose_the_host_part() {
        let sites = vec![site("example.com", &["example.net"], 2)];
        let mut r = LineReader::new(Format::VhostCombined, Assign::ByVhost, sites);
        let line = |host: &str, ip: &str, path: &str| {
            format!("{host}:443 {ip} - - [17/May/2015:10:05:03 +0000] \"GET {path} HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0 (X11; Linux) Firefox/120.0\"")
        };
        let e = r
            .entry(
                "f",
                1,
                line("www.example.net", "198.51.100.77", "/a?x=1").as_bytes(),
            )
            .unwrap();
        assert_eq!(e.site, "example.com");
        assert_eq!(e.host, "www.example.net");
        assert_eq!(e.ip.to_string(), "198.51.0.0");
        assert_eq!((e.kind, e.target.as_str()), (EntryKind::Pageview, "/a?x=1"));
        assert!(r
            .entry("f", 2, line("other.org", "198.51.100.77", "/").as_bytes())
            .is_none());
        assert!(r
            .entry("f", 3, line("example.com", "192.0.2.9", "/").as_bytes())
            .is_none());
        assert!(r
            .entry(
                "f",
                4,
                line("example.com", "198.51.100.7", "/a.css").as_bytes()
            )
            .is_none());
        assert!(r.entry("f", 5, b"nonsense").is_none());
        assert_eq!(
            r.stats.top_unknown_hosts(),
            vec![("other.org".to_string(), 1)]
        );
        let seen = &r.stats.sites["example.com"];
        assert_eq!(seen.excluded_ip, 1);
        assert_eq!(seen.skipped.get(Skip::Static.as_str()), Some(&1));
        assert_eq!(
            r.stats
                .malformed
                .get(&Malformed::Layout)
                .map(|m| m.1.clone()),
            Some(vec!["f:5".to_string()])
        );
        assert_eq!(seen.lines, 3);
    }

    #[test]
    fn long_lines_are_cut_and_files_decompressed() {
        use std::io::Write;
        let mut text = vec![b'x'; MAX_LINE_BYTES * 3];
        text.extend_from_slice(b"\r\nshort\nlast");
        let mut r: &[u8] = &text;
        let mut buf = Vec::new();
        assert!(next_line(&mut r, &mut buf).unwrap());
        assert_eq!(buf.len(), MAX_LINE_BYTES + 1);
        assert!(next_line(&mut r, &mut buf).unwrap());
        assert_eq!(buf, b"short");
        assert!(next_line(&mut r, &mut buf).unwrap());
        assert_eq!(buf, b"last");
        assert!(!next_line(&mut r, &mut buf).unwrap());

        let dir = tempfile::tempdir().unwrap();
        let gz = dir.path().join("a.log.gz");
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(b"one\ntwo\n").unwrap();
        enc.finish().unwrap();
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (mut f, size) = open(gz.to_str().unwrap(), counter.clone()).unwrap();
        assert!(next_line(&mut f, &mut buf).unwrap());
        assert_eq!(buf, b"one");
        assert!(next_line(&mut f, &mut buf).unwrap());
        assert!(!next_line(&mut f, &mut buf).unwrap());
        assert_eq!(counter.load(std::sync::atomic::Ordering::Relaxed), size);
        // zstd, as logrotate's `compresscmd zstd` writes it.
        let zst = dir.path().join("a.log.zst");
        let packed = ruzstd::encoding::compress_to_vec(
            &b"first line\nsecond line\n"[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        std::fs::write(&zst, packed).unwrap();
        let (mut f, _) = open(zst.to_str().unwrap(), Arc::default()).unwrap();
        assert!(next_line(&mut f, &mut buf).unwrap());
        assert_eq!(buf, b"first line");
        assert!(next_line(&mut f, &mut buf).unwrap());
        assert_eq!(buf, b"second line");
        assert!(!next_line(&mut f, &mut buf).unwrap());
    }
}
