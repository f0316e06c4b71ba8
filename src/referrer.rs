//! Referrer → source: search engines and social networks get their common names, other sites
//! their host name; self-referrals are dropped. Only host and path of a referrer are kept.

use url::Url;

/// What is kept of a referrer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Referrer {
    /// `host/path`, without scheme, query or fragment.
    pub referrer: String,
    /// The source name: "Google", "Facebook", or the referring host.
    pub source: String,
}

const KNOWN: &[(&str, &str)] = &[
    ("google", "Google"),
    ("bing.com", "Bing"),
    ("duckduckgo.com", "DuckDuckGo"),
    ("yahoo.com", "Yahoo!"),
    ("search.yahoo", "Yahoo!"),
    ("yandex", "Yandex"),
    ("baidu.com", "Baidu"),
    ("ecosia.org", "Ecosia"),
    ("qwant.com", "Qwant"),
    ("startpage.com", "Startpage"),
    ("search.brave.com", "Brave"),
    ("kagi.com", "Kagi"),
    ("facebook.com", "Facebook"),
    ("fb.me", "Facebook"),
    ("instagram.com", "Instagram"),
    ("t.co", "Twitter"),
    ("twitter.com", "Twitter"),
    ("x.com", "Twitter"),
    ("linkedin.com", "LinkedIn"),
    ("lnkd.in", "LinkedIn"),
    ("reddit.com", "Reddit"),
    ("news.ycombinator.com", "Hacker News"),
    ("youtube.com", "YouTube"),
    ("pinterest.com", "Pinterest"),
    ("xing.com", "XING"),
    ("github.com", "GitHub"),
    ("mastodon.social", "Mastodon"),
    ("bsky.app", "Bluesky"),
    ("chatgpt.com", "ChatGPT"),
    ("perplexity.ai", "Perplexity"),
];

/// The source name for a host, or the host itself.
pub fn source_for_host(host: &str) -> String {
    let host = host.trim_start_matches("www.").trim_start_matches("m.");
    for (pattern, name) in KNOWN {
        let matches = if pattern.contains('.') {
            host == *pattern
                || host
                    .strip_suffix(pattern)
                    .is_some_and(|rest| rest.ends_with('.'))
        } else {
            // "google" matches google.com, google.de, google.co.uk, news.google.com
            host.split('.').any(|label| label == *pattern)
        };
        if matches {
            return (*name).to_string();
        }
    }
    host.to_string()
}

/// The source name for a `utm_source` value: a known name ("google" → "Google"), or the
/// value as given.
pub fn source_for_utm(utm_source: &str) -> String {
    let lower = utm_source.trim().to_ascii_lowercase();
    let named = source_for_host(&lower);
    if named == lower.trim_start_matches("www.").trim_start_matches("m.") {
        utm_source.trim().to_string()
    } else {
        named
    }
}

/// Classifies a referrer URL seen on a page of a site with the given domains; `None` for an
/// empty, invalid or self referral.
pub fn classify(raw: &str, site_domains: &[String]) -> Option<Referrer> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let url = Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https" | "android-app") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let bare = host.trim_start_matches("www.");
    if site_domains.iter().any(|d| {
        let d = d.trim_start_matches("www.");
        bare == d || bare.ends_with(&format!(".{d}"))
    }) {
        return None;
    }
    let path = url.path();
    let referrer = if path == "/" {
        bare.to_string()
    } else {
        format!("{bare}{path}")
    };
    Some(Referrer {
        referrer,
        source: source_for_host(bare),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_search_social_and_others() {
        let d = vec!["example.com".to_string()];
        let g = classify("https://www.google.de/search?q=secret", &d).unwrap();
        assert_eq!(
            (g.source.as_str(), g.referrer.as_str()),
            ("Google", "google.de/search")
        );
        assert_eq!(classify("https://t.co/abc", &d).unwrap().source, "Twitter");
        assert_eq!(
            classify("https://l.facebook.com/", &d).unwrap().source,
            "Facebook"
        );
        assert_eq!(
            classify("https://blog.other.org/post?id=1", &d)
                .unwrap()
                .source,
            "blog.other.org"
        );
    }

    #[test]
    fn drops_self_referrals_and_junk() {
        let d = vec!["example.com".to_string()];
        assert_eq!(classify("https://example.com/a", &d), None);
        assert_eq!(classify("https://www.example.com/a", &d), None);
        assert_eq!(classify("https://shop.example.com/a", &d), None);
        assert_eq!(classify("not a url", &d), None);
        assert_eq!(classify("javascript:alert(1)", &d), None);
    }
}
