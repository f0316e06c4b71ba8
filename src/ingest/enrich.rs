//! Turning request fields into stored fields: URL normalisation (query stripped except UTM
//! tags, fragment only in hash mode), UTM tags, screen classes, props and length bounds.

use url::Url;

/// Longest stored path, referrer or prop value, in bytes.
pub const MAX_TEXT: usize = 2000;
/// Longest event name or prop key, in bytes.
pub const MAX_NAME: usize = 120;
/// Most props kept per event.
pub const MAX_PROPS: usize = 30;

/// Cuts `s` to at most `max` bytes on a character boundary; NUL characters, which text
/// columns cannot hold, become U+FFFD.
pub fn bounded(s: &str, max: usize) -> String {
    if s.contains('\0') {
        return bounded(&s.replace('\0', "\u{FFFD}"), max);
    }
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The parts of a page URL that are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageUrl {
    pub hostname: String,
    pub pathname: String,
    pub utm_source: String,
    pub utm_medium: String,
    pub utm_campaign: String,
    pub utm_content: String,
    pub utm_term: String,
}

/// Parses and normalises a page URL; `Err` names what is wrong.
pub fn page_url(raw: &str, hash_mode: bool) -> Result<PageUrl, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("not an absolute URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} is not http or https", url.scheme()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| "URL has no host".to_string())?
        .to_ascii_lowercase();
    let hostname = host.strip_prefix("www.").unwrap_or(&host).to_string();
    let decoded = percent_encoding::percent_decode_str(url.path()).decode_utf8_lossy();
    let mut pathname = decoded.into_owned();
    if hash_mode {
        if let Some(fragment) = url.fragment() {
            pathname.push('#');
            pathname.push_str(&percent_encoding::percent_decode_str(fragment).decode_utf8_lossy());
        }
    }
    let mut page = PageUrl {
        hostname: bounded(&hostname, 253),
        pathname: bounded(&pathname, MAX_TEXT),
        ..Default::default()
    };
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "utm_source" | "ref" | "source" if page.utm_source.is_empty() => &mut page.utm_source,
            "utm_medium" => &mut page.utm_medium,
            "utm_campaign" => &mut page.utm_campaign,
            "utm_content" => &mut page.utm_content,
            "utm_term" => &mut page.utm_term,
            _ => continue,
        };
        *slot = bounded(v.trim(), MAX_NAME * 2);
    }
    Ok(page)
}

/// Plausible's screen classes, from the page width in CSS pixels.
pub fn screen_class(width: Option<u32>) -> String {
    match width {
        None => String::new(),
        Some(w) if w < 576 => "Mobile".into(),
        Some(w) if w < 992 => "Tablet".into(),
        Some(w) if w < 1440 => "Laptop".into(),
        Some(_) => "Desktop".into(),
    }
}

/// Turns a props object (or a JSON string of one) into key/value pairs; scalars only. The
/// bounds are applied later, by [`bound_props`], as for every other path.
pub fn props(value: Option<&serde_json::Value>) -> Result<Vec<(String, String)>, String> {
    let parsed;
    let value = match value {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => {
            parsed = serde_json::from_str::<serde_json::Value>(s)
                .map_err(|_| "must be an object or a JSON string of one".to_string())?;
            &parsed
        }
        Some(v) => v,
    };
    let obj = value
        .as_object()
        .ok_or_else(|| "must be an object of scalar values".to_string())?;
    let mut out = Vec::new();
    for (k, v) in obj {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => continue,
            _ => {
                return Err(format!(
                    "value of {k:?} must be a string, number or boolean"
                ))
            }
        };
        out.push((k.clone(), text));
    }
    Ok(out)
}

/// The one bound on props, whatever path they came by (Plausible's `props`, Matomo's events,
/// dimensions and custom variables, imports): at most [`MAX_PROPS`] with a non-blank key, keys
/// cut to `2 * MAX_NAME` and values to [`MAX_TEXT`] bytes, NUL replaced.
pub fn bound_props(props: Vec<(String, String)>) -> Vec<(String, String)> {
    props
        .into_iter()
        .filter(|(k, _)| !k.trim().is_empty())
        .take(MAX_PROPS)
        .map(|(k, v)| (bounded(&k, MAX_NAME * 2), bounded(&v, MAX_TEXT)))
        .collect()
}

/// A link's address without query string and fragment (outbound links and downloads), which
/// may carry e-mail addresses or session tokens; bounded like a path.
pub fn link_url(raw: &str) -> String {
    let raw = raw.trim();
    let cut = raw.find(['?', '#']).unwrap_or(raw.len());
    bounded(&raw[..cut], MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_query_but_keeps_utm() {
        let p = page_url(
            "https://WWW.Example.com/a/b%20c?utm_source=news&email=x@y.z&utm_campaign=spring#top",
            false,
        )
        .unwrap();
        assert_eq!(p.hostname, "example.com");
        assert_eq!(p.pathname, "/a/b c");
        assert_eq!(p.utm_source, "news");
        assert_eq!(p.utm_campaign, "spring");
        let h = page_url("https://example.com/app#/settings", true).unwrap();
        assert_eq!(h.pathname, "/app#/settings");
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(page_url("/relative", false).is_err());
        assert!(page_url("javascript:alert(1)", false).is_err());
        assert!(page_url("ftp://example.com/", false).is_err());
    }

    #[test]
    fn bounds_strings_on_char_boundaries() {
        assert_eq!(bounded("äöü", 3), "ä");
        assert_eq!(bounded("abc", 10), "abc");
    }

    #[test]
    fn props_are_bounded_in_count_length_and_nul() {
        let many: Vec<_> = (0..100)
            .map(|i| (format!("k{i}"), "v\0".repeat(2000)))
            .chain([(" ".to_string(), "blank key".to_string())])
            .collect();
        let out = bound_props(many);
        assert_eq!(out.len(), MAX_PROPS);
        assert!(out
            .iter()
            .all(|(_, v)| v.len() <= MAX_TEXT && !v.contains('\0')));
        assert_eq!(
            link_url(" https://a.example/f.pdf?u=me@x.org#p "),
            "https://a.example/f.pdf"
        );
    }

    #[test]
    fn props_accept_objects_and_json_strings() {
        let v = serde_json::json!({"plan": "pro", "n": 3, "ok": true, "skip": null});
        assert_eq!(props(Some(&v)).unwrap().len(), 3);
        let s = serde_json::json!("{\"a\":\"b\"}");
        assert_eq!(props(Some(&s)).unwrap(), vec![("a".into(), "b".into())]);
        assert!(props(Some(&serde_json::json!([1, 2]))).is_err());
        assert!(props(Some(&serde_json::json!({"x": {"y": 1}}))).is_err());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn url_like() -> impl Strategy<Value = String> {
            prop_oneof![
                ".{0,300}",
                "(https?|ftp|javascript|data)://[a-zA-Z0-9.\\-\\[\\]:@%\u{0}]{0,40}(/[^ ?#]{0,40}){0,4}(\\?[^#]{0,80})?(#.{0,20})?",
            ]
        }

        proptest! {
            #[test]
            fn page_urls_never_panic_and_stay_bounded(raw in url_like(), hash in any::<bool>()) {
                if let Ok(p) = page_url(&raw, hash) {
                    prop_assert!(p.pathname.len() <= MAX_TEXT && p.hostname.len() <= 253);
                    prop_assert!(!p.pathname.contains('\0') && !p.hostname.contains('\0'));
                    for utm in [&p.utm_source, &p.utm_medium, &p.utm_campaign, &p.utm_content, &p.utm_term] {
                        prop_assert!(utm.len() <= MAX_NAME * 2 && !utm.contains('\0'));
                    }
                }
                let link = link_url(&raw);
                prop_assert!(link.len() <= MAX_TEXT && !link.contains('?') && !link.contains('#'));
            }

            #[test]
            fn props_are_always_bounded(pairs in prop::collection::vec((".{0,300}", ".{0,2500}"), 0..80)) {
                let out = bound_props(pairs);
                prop_assert!(out.len() <= MAX_PROPS);
                for (k, v) in &out {
                    prop_assert!(!k.trim().is_empty() && k.len() <= MAX_NAME * 2 && v.len() <= MAX_TEXT);
                    prop_assert!(!k.contains('\0') && !v.contains('\0'));
                }
            }
        }
    }
}
