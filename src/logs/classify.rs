//! What a logged request counts as: a page view, a `404` event, a `File Download` event, or
//! nothing (and why). The rules are written down in README ("Statistics from web-server
//! logs"), next to GoAccess's and Matomo `import_logs.py`'s defaults.

use super::parse::Request;

/// What a request becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PageView,
    /// A page that was not found: event `404` with property `path` (like the tracker's).
    NotFound,
    /// A file download (PDF, archives, office documents, media): event `File Download` with
    /// property `url`, like Plausible's file-downloads tracking.
    Download,
    Skip(Skip),
}

/// Why a request is not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skip {
    /// Not a GET (HEAD, POST, OPTIONS, ...).
    Method,
    /// Stylesheets, scripts, images, fonts, feeds, source maps, `robots.txt`.
    Static,
    /// Redirects, client and server errors other than 404, partial content of pages.
    Status,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Method => "not GET",
            Skip::Static => "static file",
            Skip::Status => "redirect or error",
        }
    }
}

const STATIC: &[&str] = &[
    "css",
    "js",
    "mjs",
    "map",
    "json",
    "xml",
    "txt",
    "rss",
    "atom",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "webp",
    "avif",
    "svg",
    "ico",
    "bmp",
    "tif",
    "tiff",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "swf",
    "webmanifest",
    "wasm",
];

const DOWNLOADS: &[&str] = &[
    "pdf", "zip", "gz", "tgz", "bz2", "xz", "7z", "rar", "tar", "dmg", "exe", "msi", "deb", "rpm",
    "apk", "iso", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "csv", "epub",
    "mp3", "mp4", "m4a", "wav", "ogg", "webm", "mov", "avi", "mkv", "flac",
];

/// The path of a request target, without query or fragment.
pub fn path_of(target: &str) -> &str {
    let end = target.find(['?', '#']).unwrap_or(target.len());
    &target[..end]
}

fn extension(path: &str) -> Option<String> {
    let last = path.rsplit('/').next().unwrap_or_default();
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 12).then(|| ext.to_ascii_lowercase())
}

/// Classifies one request (bots are recognised later, by the same rules as live hits).
pub fn classify(r: &Request) -> Kind {
    if r.method != "GET" {
        return Kind::Skip(Skip::Method);
    }
    let path = path_of(&r.target);
    let ext = extension(path);
    let ext = ext.as_deref();
    let html = r.content_type.as_deref().map(|c| {
        let c = c.to_ascii_lowercase();
        c.starts_with("text/html") || c.starts_with("application/xhtml")
    });
    if ext.is_some_and(|e| DOWNLOADS.contains(&e)) {
        return match r.status {
            200 | 206 | 304 => Kind::Download,
            _ => Kind::Skip(Skip::Status),
        };
    }
    if ext.is_some_and(|e| STATIC.contains(&e)) || html == Some(false) {
        return Kind::Skip(Skip::Static);
    }
    match r.status {
        200..=205 | 304 => Kind::PageView,
        404 | 410 => Kind::NotFound,
        _ => Kind::Skip(Skip::Status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::privacy::ClientAddr;

    fn req(method: &str, target: &str, status: u16, ct: Option<&str>) -> Request {
        Request {
            vhost: None,
            client: ClientAddr::reported("192.0.2.1".parse().unwrap()),
            ts: 1_700_000_000,
            method: method.into(),
            target: target.into(),
            status,
            bytes: 1,
            referrer: None,
            user_agent: String::new(),
            content_type: ct.map(Into::into),
        }
    }

    #[test]
    fn pages_assets_downloads_and_errors() {
        let k = |m, t, s| classify(&req(m, t, s, None));
        assert_eq!(k("GET", "/", 200), Kind::PageView);
        assert_eq!(k("GET", "/blog/post-1?utm_source=x", 200), Kind::PageView);
        assert_eq!(k("GET", "/index.php", 304), Kind::PageView);
        assert_eq!(k("GET", "/v1.2/about", 200), Kind::PageView);
        assert_eq!(k("HEAD", "/", 200), Kind::Skip(Skip::Method));
        assert_eq!(k("POST", "/form", 200), Kind::Skip(Skip::Method));
        assert_eq!(k("GET", "/style.CSS?v=3", 200), Kind::Skip(Skip::Static));
        assert_eq!(k("GET", "/robots.txt", 200), Kind::Skip(Skip::Static));
        assert_eq!(k("GET", "/favicon.ico", 404), Kind::Skip(Skip::Static));
        assert_eq!(k("GET", "/old", 301), Kind::Skip(Skip::Status));
        assert_eq!(k("GET", "/x", 500), Kind::Skip(Skip::Status));
        assert_eq!(k("GET", "/missing", 404), Kind::NotFound);
        assert_eq!(k("GET", "/files/report.pdf", 200), Kind::Download);
        assert_eq!(k("GET", "/files/report.pdf", 404), Kind::Skip(Skip::Status));
        let typed = |ct| classify(&req("GET", "/api/data", 200, Some(ct)));
        assert_eq!(typed("application/json"), Kind::Skip(Skip::Static));
        assert_eq!(typed("text/html; charset=utf-8"), Kind::PageView);
    }
}
