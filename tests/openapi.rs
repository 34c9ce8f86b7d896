//! docs/openapi.json and the daemon's router describe the same routes.

mod common;

use std::collections::BTreeSet;

use common::*;

fn documented() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json"))
        .expect("openapi");
    let spec: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(
        spec["openapi"].as_str().map(|v| v.starts_with("3.")),
        Some(true)
    );
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            routes.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    routes
}

#[test]
fn openapi_lists_exactly_the_routes_the_server_declares() {
    let declared: BTreeSet<String> = kyso::server::API_ROUTES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(documented(), declared);
}

#[test]
fn every_declared_route_is_really_served() {
    let env = TestEnv::new(Signer::Personal);
    let site = "https://vanban.example.gov.vn";
    let d = Daemon::start(&env.hsm, &["--allow-origin", site]);
    for route in kyso::server::API_ROUTES {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path.replace("{id}", "0123abcd").replace("{index}", "0");
        let ct = matches!(method, "POST" | "PUT").then_some(
            if path.ends_with("/0") || path == "/v1/sign" {
                "application/pdf"
            } else {
                "application/json"
            },
        );
        let body: &[u8] = if ct == Some("application/json") {
            b"{}"
        } else {
            b""
        };
        let r = d.api(method, &path, Some(site), ct, body);
        // The router's fallback answers NOT_FOUND and a wrong method 405;
        // a real route answers anything else.
        assert_ne!(r.status, 405, "{route}: {}", r.text());
        if r.status == 404 {
            assert_ne!(r.code(), "NOT_FOUND", "{route} is not routed");
        }
    }
    let r = d.api("GET", "/v1/nothing-here", Some(site), None, b"");
    assert_eq!(
        r.code(),
        "NOT_FOUND",
        "the fallback check above must be able to fail"
    );
}
