//! OCI and Docker manifests as `PUT /v2/…/manifests/` and ECR's PutImage receive them,
//! under each media type a client may claim.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TYPES: [Option<&str>; 5] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
];

fuzz_target!(|data: &[u8]| {
    for content_type in TYPES {
        let _ = berth_registry::manifest::parse(data, content_type);
    }
});
