//! Truncate first: the client address type that can only be truncated or range-checked, and
//! the exclusion rules (opt-out cookie, DNT, Sec-GPC, bots, excluded ranges).

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The full client address of one request. It has no accessor, no `Display` and a redacting
/// `Debug`: the only things it can do are answer "is it in these ranges?" and turn into a
/// [`TruncatedIp`].
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// Picks the client address: the socket peer, or, when the peer is a trusted proxy, the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn from_request(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> Self {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(&peer) {
            return Self(peer);
        }
        let mut chosen = peer;
        if let Some(header) = forwarded_for {
            for part in header.rsplit(',') {
                let Some(ip) = parse_forwarded_entry(part) else {
                    break;
                };
                chosen = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
        }
        Self(chosen)
    }

    /// An address a server reports for its visitor (Matomo's `cip`, accepted only with the
    /// admin token): from here on it is treated like any other client address.
    pub fn reported(ip: IpAddr) -> Self {
        Self(ip)
    }

    /// The same address again, for the requests of one bulk body that share their sender.
    pub fn duplicate(&self) -> Self {
        Self(self.0)
    }

    /// Whether the address lies in one of `ranges` (the per-site "exclude these IPs" check).
    pub fn is_in(&self, ranges: &[IpNet]) -> bool {
        ranges.iter().any(|net| net.contains(&self.0))
    }

    /// Drops the host part. `mask_bytes` is the per-site setting 1, 2 or 3 (like Matomo):
    /// IPv4 keeps /24, /16 or /8; IPv6 keeps /48, /32 or /16.
    pub fn truncate(self, mask_bytes: u8) -> TruncatedIp {
        let (v4, v6) = match mask_bytes {
            0 | 1 => (24, 48),
            2 => (16, 32),
            _ => (8, 16),
        };
        let ip = match self.0 {
            IpAddr::V4(a) => IpAddr::V4(mask_v4(a, v4)),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4addr) => IpAddr::V4(mask_v4(v4addr, v4)),
                None => IpAddr::V6(mask_v6(a, v6)),
            },
        };
        TruncatedIp(ip)
    }
}

impl fmt::Debug for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientAddr(<not shown>)")
    }
}

fn parse_forwarded_entry(part: &str) -> Option<IpAddr> {
    let part = part.trim().trim_matches('"');
    if let Ok(ip) = part.parse() {
        return Some(ip);
    }
    // "1.2.3.4:5678" or "[::1]:5678"
    part.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

fn mask_v4(a: Ipv4Addr, keep: u32) -> Ipv4Addr {
    let bits = u32::from(a);
    Ipv4Addr::from(bits & (u32::MAX << (32 - keep)))
}

fn mask_v6(a: Ipv6Addr, keep: u32) -> Ipv6Addr {
    let bits = u128::from(a);
    Ipv6Addr::from(bits & (u128::MAX << (128 - keep)))
}

/// A client address with its host part removed. It never leaves the process either: it feeds
/// the GeoIP lookup and the visitor hash, and nothing stores it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TruncatedIp(IpAddr);

impl TruncatedIp {
    /// The truncated address, for GeoIP lookups.
    pub fn addr(&self) -> IpAddr {
        self.0
    }

    /// Bytes for the visitor hash.
    pub fn hash_bytes(&self) -> Vec<u8> {
        match self.0 {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }
}

impl fmt::Debug for TruncatedIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TruncatedIp(<not shown>)")
    }
}

/// Why a hit is not counted. Excluded hits are answered like counted ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    OptOutCookie,
    DoNotTrack,
    GlobalPrivacyControl,
    Bot,
    ExcludedRange,
    UnknownSite,
    /// Plausible's engagement pings (time on page, scroll depth): not stored yet.
    Engagement,
}

impl Exclusion {
    /// A stable name for headers and counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Exclusion::OptOutCookie => "opt-out",
            Exclusion::DoNotTrack => "dnt",
            Exclusion::GlobalPrivacyControl => "gpc",
            Exclusion::Bot => "bot",
            Exclusion::ExcludedRange => "excluded-ip",
            Exclusion::UnknownSite => "unknown-site",
            Exclusion::Engagement => "engagement",
        }
    }
}

/// The name of the one cookie spurlos sets: the visitor's opt-out.
pub const OPT_OUT_COOKIE: &str = "spurlos_optout";

/// Request signals that the privacy rules look at.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrivacySignals {
    pub opted_out: bool,
    pub dnt: bool,
    pub gpc: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn truncates_v4_and_v6_by_mask() {
        let a = ClientAddr("203.0.113.77".parse().unwrap());
        assert_eq!(a.truncate(1).addr().to_string(), "203.0.113.0");
        let a = ClientAddr("203.0.113.77".parse().unwrap());
        assert_eq!(a.truncate(2).addr().to_string(), "203.0.0.0");
        let a = ClientAddr("203.0.113.77".parse().unwrap());
        assert_eq!(a.truncate(3).addr().to_string(), "203.0.0.0");
        let a = ClientAddr("2001:db8:abcd:1234::1".parse().unwrap());
        assert_eq!(a.truncate(1).addr().to_string(), "2001:db8:abcd::");
        let a = ClientAddr("::ffff:198.51.100.9".parse().unwrap());
        assert_eq!(a.truncate(1).addr().to_string(), "198.51.100.0");
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let trusted = nets(&["127.0.0.0/8", "10.0.0.0/8"]);
        let a = ClientAddr::from_request(
            "127.0.0.1".parse().unwrap(),
            Some("198.51.100.7, 10.1.1.1"),
            &trusted,
        );
        assert!(a.is_in(&nets(&["198.51.100.7/32"])));
        let a =
            ClientAddr::from_request("192.0.2.1".parse().unwrap(), Some("198.51.100.7"), &trusted);
        assert!(a.is_in(&nets(&["192.0.2.1/32"])));
        let a = ClientAddr::from_request("127.0.0.1".parse().unwrap(), Some("garbage"), &trusted);
        assert!(a.is_in(&nets(&["127.0.0.1/32"])));
    }

    #[test]
    fn debug_never_shows_the_address() {
        let a = ClientAddr("198.51.100.7".parse().unwrap());
        assert!(!format!("{a:?}").contains("198"));
        assert!(!format!("{:?}", a.truncate(1)).contains("198"));
    }
}
