//! The privacy notice for visitors (issue 14, item 5): made from the site's settings and the
//! provider's name and contact, in English and German, embeddable like the opt-out page, and
//! on the owners' settings page; a change of settings changes it.

use super::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_privacy_notice_follows_the_settings() {
    let app = spawn_app_with(&[
        ("SPURLOS_PROVIDER_NAME", "Example Hosting <GmbH>"),
        ("SPURLOS_PROVIDER_CONTACT", "privacy@example.net"),
    ])
    .await;
    app.customer_sites(&[("shop.example", "acme")]).await;
    let get = |query: &str| {
        let url = format!("{}/privacy-notice?{query}", app.address);
        async move { reqwest::get(url).await.unwrap() }
    };
    let r = get("site=shop.example&lang=en").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("frame-ancestors *") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(r.headers().get("x-frame-options").is_none());
    let en = r.text().await.unwrap();
    for expected in [
        "<html lang=\"en\"",
        "Web analytics on shop.example",
        "Example Hosting &lt;GmbH&gt; (privacy@example.net)",
        "IPv4 to /24, IPv6 to /48",
        "Do Not Track or Global Privacy Control are not counted",
        "/opt-out stores a cookie",
    ] {
        assert!(en.contains(expected), "{expected}: {en}");
    }
    assert!(!en.contains("<script"), "{en}");
    let de = get("site=shop.example&lang=de").await.text().await.unwrap();
    for expected in [
        "<html lang=\"de\"",
        "Webanalyse auf shop.example",
        "IPv4 auf /24, IPv6 auf /48",
        "werden nicht gezählt",
    ] {
        assert!(de.contains(expected), "{expected}: {de}");
    }
    // Other settings, another notice.
    let (status, v) = app
        .admin(
            Method::PATCH,
            "/api/admin/sites/shop.example",
            Some(json!({"ip_mask_bytes": 2, "respect_dnt": false})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let en = get("site=shop.example&lang=en").await.text().await.unwrap();
    assert!(en.contains("IPv4 to /16, IPv6 to /32"), "{en}");
    assert!(en.contains("are not evaluated for this website"), "{en}");
    assert_eq!(get("site=nothing.example").await.status(), 404);
    // The owner's settings page has it to copy and to embed.
    app.user_with_password("ann@example.com", "acme", "a long password 3")
        .await;
    let r = app
        .login("ann@example.com", "a long password 3", "192.0.2.63")
        .await;
    let cookie = session_cookie(&r);
    let page = app
        .page_as(&cookie, "/dashboard/shop.example/settings")
        .await;
    for expected in [
        "id=\"notice\"",
        "id=\"notice-html\"",
        "id=\"notice-text\"",
        "IPv4 to /16, IPv6 to /32",
        "privacy-notice?site=shop.example&amp;amp;lang=en",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
}
