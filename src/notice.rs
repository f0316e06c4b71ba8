//! The privacy notice for a site's visitors, in English and German, made from what spurlos
//! really does for that site (its address truncation, Do Not Track, whether locations are
//! derived, the opt-out) and who runs it (the provider's name and contact from the
//! configuration): a change of settings changes the notice. Rendered by `http::notice` as a
//! page to embed, and as HTML and plain text to copy on the settings page.

use crate::tenancy::sites::Site;

/// What a notice says is decided from these.
pub struct NoticeFacts<'a> {
    pub site: &'a Site,
    pub provider_name: Option<&'a str>,
    pub provider_contact: Option<&'a str>,
    /// Whether locations are derived from addresses (a GeoIP database is configured).
    pub location: bool,
    /// Where spurlos is reached (for the opt-out's address).
    pub base: &'a str,
    /// How long the site's statistics are kept, every limit applied.
    pub kept: crate::stats::retention::Kept,
}

/// A notice: a title and paragraphs of plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub paragraphs: Vec<String>,
}

impl Notice {
    /// The notice as plain text, paragraphs apart.
    pub fn text(&self) -> String {
        let mut out = self.title.clone();
        for p in &self.paragraphs {
            out.push_str("\n\n");
            out.push_str(p);
        }
        out.push('\n');
        out
    }
}

/// The prefixes kept of IPv4 and IPv6 addresses for a site's mask.
fn prefixes(mask_bytes: u8) -> (&'static str, &'static str) {
    match mask_bytes {
        3 => ("/8", "/16"),
        2 => ("/16", "/32"),
        _ => ("/24", "/48"),
    }
}

/// The notice for `f.site`, in German when `german`.
pub fn notice(f: &NoticeFacts<'_>, german: bool) -> Notice {
    let site = &f.site.domain;
    let (v4, v6) = prefixes(f.site.ip_mask_bytes);
    let optout = format!("{}/opt-out", f.base.trim_end_matches('/'));
    let who = match (f.provider_name, f.provider_contact) {
        (Some(n), Some(c)) => format!("{n} ({c})"),
        (Some(n), None) => n.to_string(),
        (None, Some(c)) => c.to_string(),
        (None, None) => String::new(),
    };
    let mut p = Vec::new();
    if german {
        p.push(if who.is_empty() {
            format!("Diese Website ({site}) zählt Besuche mit spurlos, einer datenschutzfreundlichen Webanalyse, die ihr Hosting-Anbieter für den Betreiber der Website betreibt. Die Statistiken dienen nur dem Betreiber dieser Website; sie werden nicht mit anderen Websites verknüpft und nicht an Dritte weitergegeben.")
        } else {
            format!("Diese Website ({site}) zählt Besuche mit spurlos, einer datenschutzfreundlichen Webanalyse, die {who} für den Betreiber der Website betreibt. Die Statistiken dienen nur dem Betreiber dieser Website; sie werden nicht mit anderen Websites verknüpft und nicht an Dritte weitergegeben.")
        });
        p.push(format!(
            "Bei jedem Seitenaufruf werden gezählt: die Adresse der Seite, die verweisende Seite, der Zeitpunkt, Browser, Betriebssystem und Geräteklasse (aus der Browserkennung abgeleitet, die selbst nicht gespeichert wird){}.",
            if f.location { " sowie Land, Region und Stadt (aus der IP-Adresse abgeleitet)" } else { "" }
        ));
        p.push(format!("Ihre IP-Adresse wird sofort beim Eingang gekürzt (IPv4 auf {v4}, IPv6 auf {v6}), bevor irgendetwas anderes sie verwendet; die vollständige Adresse wird nie gespeichert."));
        p.push("Um Besucher zu zählen, wird aus der gekürzten Adresse, der Browserkennung und einem zufälligen Schlüssel, der täglich wechselt und nach zwei Tagen gelöscht wird, eine Kennung gebildet, die sich nicht zurückverfolgen lässt und jeden Tag eine andere ist. Es entstehen keine Profile über mehrere Tage oder Websites.".into());
        p.push(if f.site.respect_dnt {
            "Browser, die „Do Not Track“ oder „Global Privacy Control“ senden, werden nicht gezählt.".into()
        } else {
            "Die Signale „Do Not Track“ und „Global Privacy Control“ werden für diese Website nicht ausgewertet; nutzen Sie den Widerspruch unten.".into()
        });
        p.push("Es werden keine Cookies oder vergleichbaren Techniken zur Wiedererkennung verwendet, außer dem Widerspruchs-Cookie, wenn Sie widersprechen.".into());
        let sums = match f.kept.archive_months {
            Some(m) => format!("{m} Monate lang"),
            None => "solange der Betreiber der Website diesen Dienst nutzt".into(),
        };
        p.push(format!("Einzelne Seitenaufrufe und Besuche werden {} Tage lang aufbewahrt; danach bleiben nur Tagessummen ohne jede Besucherkennung, {sums}. Mit der Website wird alles gelöscht.", f.kept.events_days));
        if f.site.cnil {
            p.push("Diese Webanalyse ist nach den Bedingungen der französischen Datenschutzbehörde CNIL für einwilligungsfreie Reichweitenmessung eingerichtet: Statistiken nur für die eigene Nutzung der Website, keine websiteübergreifende Kennung, Aufbewahrung höchstens 25 Monate, Information der Besucher, Standort nicht genauer als die Stadt.".into());
        }
        p.push(format!("Sie können widersprechen: {optout} speichert ein Cookie in Ihrem Browser, damit Ihre Besuche nicht mehr gezählt werden."));
    } else {
        p.push(if who.is_empty() {
            format!("This website ({site}) counts visits with spurlos, a privacy-friendly web analytics service that its hosting provider runs for the website's operator. The statistics serve this website's operator only; they are not linked with other websites and not passed on to third parties.")
        } else {
            format!("This website ({site}) counts visits with spurlos, a privacy-friendly web analytics service that {who} runs for the website's operator. The statistics serve this website's operator only; they are not linked with other websites and not passed on to third parties.")
        });
        p.push(format!(
            "For every page view, spurlos counts: the page's address, the referring page, the time, the browser, operating system and device class (derived from the browser's User-Agent, which is not stored){}.",
            if f.location { ", and the country, region and city (derived from the IP address)" } else { "" }
        ));
        p.push(format!("Your IP address is shortened the moment it arrives (IPv4 to {v4}, IPv6 to {v6}), before anything else uses it; the full address is never stored."));
        p.push("To count visitors, the shortened address, the browser's User-Agent and a random key that changes every day and is deleted after two days are combined into an identifier that cannot be traced back and is a different one every day. No profiles across days or websites are made.".into());
        p.push(if f.site.respect_dnt {
            "Browsers that send Do Not Track or Global Privacy Control are not counted.".into()
        } else {
            "Do Not Track and Global Privacy Control are not evaluated for this website; use the opt-out below.".into()
        });
        p.push("No cookies or similar techniques recognise you, except the opt-out cookie if you opt out.".into());
        let sums = match f.kept.archive_months {
            Some(m) => format!("for {m} months"),
            None => "for as long as the website's operator uses this service".into(),
        };
        p.push(format!("Single page views and visits are kept for {} days; after that only daily totals without any visitor identifier remain, {sums}. Everything is deleted with the website.", f.kept.events_days));
        if f.site.cnil {
            p.push("This analytics is set up under the conditions of France's data protection authority CNIL for audience measurement exempt from consent: statistics for the website's own use only, no identifier across websites, data kept 25 months at most, visitors informed, location no finer than the city.".into());
        }
        p.push(format!("You may object: {optout} stores a cookie in your browser so that your visits are no longer counted."));
    }
    Notice {
        title: if german {
            format!("Webanalyse auf {site}")
        } else {
            format!("Web analytics on {site}")
        },
        paragraphs: p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::retention::Policy;
    use crate::tenancy::SiteId;

    fn site(mask: u8, dnt: bool) -> Site {
        Site {
            id: SiteId(1),
            domain: "example.com".into(),
            aliases: Vec::new(),
            timezone: "UTC".into(),
            ip_mask_bytes: mask,
            respect_dnt: dnt,
            excluded_ranges: Vec::new(),
            customer_id: None,
            retention_days: 760,
            archive_months: 0,
            cnil: false,
        }
    }

    #[test]
    fn the_notice_follows_the_settings() {
        let s = site(1, true);
        let facts = NoticeFacts {
            site: &s,
            provider_name: Some("Example Hosting GmbH"),
            provider_contact: Some("privacy@example.net"),
            location: true,
            base: "https://stats.example.net/",
            kept: Policy::default().kept(&s),
        };
        let en = notice(&facts, false).text();
        assert!(
            en.contains("Example Hosting GmbH (privacy@example.net)"),
            "{en}"
        );
        assert!(en.contains("IPv4 to /24, IPv6 to /48"), "{en}");
        assert!(en.contains("country, region and city"), "{en}");
        assert!(en.contains("https://stats.example.net/opt-out"), "{en}");
        assert!(en.contains("Do Not Track or Global Privacy Control are not counted"));
        let de = notice(&facts, true).text();
        assert!(de.starts_with("Webanalyse auf example.com"), "{de}");
        assert!(de.contains("IPv4 auf /24, IPv6 auf /48"), "{de}");
        let s = site(2, false);
        let facts = NoticeFacts {
            site: &s,
            provider_name: None,
            provider_contact: None,
            location: false,
            base: "https://stats.example.net",
            kept: Policy::default().kept(&s),
        };
        let en = notice(&facts, false).text();
        assert!(en.contains("IPv4 to /16, IPv6 to /32"), "{en}");
        assert!(en.contains("its hosting provider runs"), "{en}");
        assert!(!en.contains("country"), "{en}");
        assert!(en.contains("are not evaluated for this website"), "{en}");
        assert!(en.contains("kept for 760 days"), "{en}");
        assert!(!en.contains("CNIL"), "{en}");
        // CNIL mode under a provider's cap: the shorter limits, said so.
        let mut s = site(1, true);
        s.cnil = true;
        s.retention_days = 3650;
        let capped = Policy {
            max_days: Some(400),
        };
        let facts = NoticeFacts {
            site: &s,
            provider_name: None,
            provider_contact: None,
            location: false,
            base: "https://stats.example.net",
            kept: capped.kept(&s),
        };
        let en = notice(&facts, false).text();
        assert!(en.contains("kept for 400 days"), "{en}");
        assert!(en.contains("for 25 months"), "{en}");
        assert!(en.contains("CNIL"), "{en}");
        let de = notice(&facts, true).text();
        assert!(
            de.contains("400 Tage lang") && de.contains("25 Monate lang") && de.contains("CNIL"),
            "{de}"
        );
    }
}
