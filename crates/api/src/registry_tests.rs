use super::*;

#[test]
fn routes() {
    assert_eq!(parse_route("/v2/"), Some(Route::Base));
    assert_eq!(parse_route("/v2/_catalog"), Some(Route::Catalog));
    assert_eq!(parse_route("/v2/team/web/tags/list"), Some(Route::Tags { name: "team/web" }));
    assert_eq!(parse_route("/v2/web/blobs/uploads/"), Some(Route::Uploads { name: "web" }));
    assert_eq!(parse_route("/v2/web/blobs/uploads/abc"), Some(Route::Upload { name: "web", id: "abc" }));
    assert_eq!(parse_route("/v2/a/blobs/sha256:1"), Some(Route::Blob { name: "a", digest: "sha256:1" }));
    assert_eq!(parse_route("/v2/a/b/manifests/latest"), Some(Route::Manifest { name: "a/b", reference: "latest" }));
    assert_eq!(parse_route("/v2/a/referrers/sha256:1"), Some(Route::Referrers { name: "a", digest: "sha256:1" }));
    assert_eq!(parse_route("/v3/"), None);
}

#[test]
fn ranges() {
    assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
    assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
    assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
    assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
    assert_eq!(parse_range("bytes=100-", 100), None);
    assert_eq!(parse_range("bytes=9-2", 100), None);
    assert_eq!(parse_range("items=0-1", 100), None);
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("sha256%3Aab"), "sha256:ab");
    assert_eq!(percent_decode("a%2Fb"), "a/b");
    assert_eq!(percent_decode("100%"), "100%");
}
