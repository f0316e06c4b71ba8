//! User-Agent → browser, OS and device class (woothee), and bot/headless detection (isbot).
//! The raw User-Agent is used here and for the visitor hash, and never stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// What spurlos keeps of a User-Agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAgentInfo {
    pub browser: String,
    /// Major version only.
    pub browser_version: String,
    pub os: String,
    pub os_version: String,
    /// `desktop`, `mobile` or `tablet`.
    pub device: String,
}

fn bots() -> &'static isbot::Bots {
    static BOTS: OnceLock<isbot::Bots> = OnceLock::new();
    BOTS.get_or_init(isbot::Bots::default)
}

/// Whether the User-Agent belongs to a crawler, monitor, script or headless/automated browser.
pub fn is_bot(ua: &str) -> bool {
    let ua = ua.trim();
    if ua.is_empty() || ua.len() < 10 {
        return true;
    }
    let lower = ua.to_ascii_lowercase();
    const AUTOMATION: [&str; 6] = [
        "headless",
        "phantomjs",
        "electron",
        "lighthouse",
        "puppeteer",
        "playwright",
    ];
    AUTOMATION.iter().any(|m| lower.contains(m)) || bots().is_bot(ua)
}

/// Parses a User-Agent. Unknown parts are empty strings.
pub fn parse(ua: &str) -> UserAgentInfo {
    static PARSER: OnceLock<woothee::parser::Parser> = OnceLock::new();
    let parser = PARSER.get_or_init(woothee::parser::Parser::new);
    let Some(r) = parser.parse(ua) else {
        return UserAgentInfo {
            device: "desktop".into(),
            ..Default::default()
        };
    };
    let known = |s: &str| {
        if s == "UNKNOWN" {
            String::new()
        } else {
            s.to_string()
        }
    };
    let lower = ua.to_ascii_lowercase();
    let device = if lower.contains("ipad")
        || lower.contains("tablet")
        || (lower.contains("android") && !lower.contains("mobile"))
    {
        "tablet"
    } else if r.category == "smartphone" || r.category == "mobilephone" {
        "mobile"
    } else {
        "desktop"
    };
    let version = known(r.version);
    let browser_version = version.split('.').next().unwrap_or("").to_string();
    let os_version = known(&r.os_version);
    UserAgentInfo {
        browser: known(r.name),
        browser_version,
        os: normalise_os(&known(r.os)),
        os_version,
        device: device.into(),
    }
}

fn normalise_os(os: &str) -> String {
    if os.starts_with("Windows") {
        "Windows".into()
    } else if os == "Mac OSX" {
        "macOS".into()
    } else {
        os.into()
    }
}

/// What the pipeline needs of a User-Agent: whether it is a bot, and its parsed parts.
#[derive(Debug, Clone)]
pub struct Classified {
    pub bot: bool,
    pub info: UserAgentInfo,
}

const CACHE_LIMIT: usize = 20_000;

/// [`is_bot`] and [`parse`] together, memoised: real traffic repeats a few thousand distinct
/// User-Agents, and both checks are regex-heavy. The cache lives only in memory and is dropped
/// whole when it grows past its limit.
pub fn classify(ua: &str) -> Arc<Classified> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Classified>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(ua) {
        return hit.clone();
    }
    let classified = Arc::new(Classified {
        bot: is_bot(ua),
        info: parse(ua),
    });
    let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= CACHE_LIMIT {
        map.clear();
    }
    map.insert(ua.to_string(), classified.clone());
    classified
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    const FIREFOX_WIN: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";

    #[test]
    fn parses_common_browsers() {
        let c = parse(CHROME_MAC);
        assert_eq!(
            (c.browser.as_str(), c.browser_version.as_str()),
            ("Chrome", "120")
        );
        assert_eq!((c.os.as_str(), c.device.as_str()), ("macOS", "desktop"));
        let s = parse(SAFARI_IPHONE);
        assert_eq!(
            (s.browser.as_str(), s.os.as_str(), s.device.as_str()),
            ("Safari", "iPhone", "mobile")
        );
        let f = parse(FIREFOX_WIN);
        assert_eq!((f.browser.as_str(), f.os.as_str()), ("Firefox", "Windows"));
    }

    #[test]
    fn detects_bots_and_headless() {
        assert!(is_bot(
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        ));
        assert!(is_bot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36"));
        assert!(is_bot("curl/8.0"));
        assert!(is_bot(""));
        assert!(!is_bot(CHROME_MAC));
        assert!(!is_bot(SAFARI_IPHONE));
    }
}
