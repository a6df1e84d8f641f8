//! The OCI distribution API on `/v2/`: routing, headers, streamed uploads and downloads.
//! Every request carries a registry token (`docker login` with the password from
//! GetAuthorizationToken); what it may do is decided by berth-registry.

use std::io::SeekFrom;

use berth_registry::{dist::accepts, manifest, DistError, Registry};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::{body::Incoming, header, Method, Request, Response, StatusCode};
use tokio::io::AsyncSeekExt;

use crate::body::{self, Body};

const API_VERSION: &str = "registry/2.0";

/// Answers one `/v2/...` request.
/// `registered(region, instance ARN)` says whether a container instance is still
/// registered: an agent's pull-only credentials work only while it is.
pub async fn handle(
    registry: &Registry,
    registered: &(dyn Fn(&str, &str) -> bool + Send + Sync),
    req: Request<Incoming>,
) -> Response<Body> {
    let mut response = match route(registry, registered, req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(code = e.code, message = %e.message, "registry request refused");
            let mut r = Response::new(body::full(e.body()));
            *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
            if e.status == 401 {
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Basic realm=\"berth registry\""),
                );
            }
            r
        }
    };
    response.headers_mut().insert("docker-distribution-api-version", header::HeaderValue::from_static(API_VERSION));
    response
}

/// What a `/v2/` path names.
#[derive(Debug, PartialEq)]
enum Route<'a> {
    Base,
    Catalog,
    Blob { name: &'a str, digest: &'a str },
    Uploads { name: &'a str },
    Upload { name: &'a str, id: &'a str },
    Manifest { name: &'a str, reference: &'a str },
    Tags { name: &'a str },
    Referrers { name: &'a str, digest: &'a str },
}

fn parse_route(path: &str) -> Option<Route<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags { name });
    }
    if let Some(name) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
        return Some(Route::Uploads { name });
    }
    if let Some(i) = rest.rfind("/blobs/uploads/") {
        return Some(Route::Upload { name: &rest[..i], id: &rest[i + "/blobs/uploads/".len()..] });
    }
    if let Some(i) = rest.rfind("/blobs/") {
        return Some(Route::Blob { name: &rest[..i], digest: &rest[i + "/blobs/".len()..] });
    }
    if let Some(i) = rest.rfind("/manifests/") {
        return Some(Route::Manifest { name: &rest[..i], reference: &rest[i + "/manifests/".len()..] });
    }
    if let Some(i) = rest.rfind("/referrers/") {
        return Some(Route::Referrers { name: &rest[..i], digest: &rest[i + "/referrers/".len()..] });
    }
    None
}

/// Decodes `%XX` escapes (and `+` as a space) in a query value.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(req: &Request<Incoming>, key: &str) -> Option<String> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn status(code: StatusCode, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = code;
    r
}

fn set(r: &mut Response<Body>, name: &'static str, value: &str) {
    if let Ok(v) = header::HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn json_response(value: &serde_json::Value, content_type: &'static str) -> Response<Body> {
    let bytes = serde_json::to_vec(value).expect("JSON serializes");
    let mut r = Response::new(body::full(bytes));
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
    r
}

async fn route(
    registry: &Registry,
    registered: &(dyn Fn(&str, &str) -> bool + Send + Sync),
    req: Request<Incoming>,
) -> Result<Response<Body>, DistError> {
    let grant = registry.authenticate(header_str(&req, header::AUTHORIZATION))?;
    if let Some(instance) = &grant.pull_only_for {
        if !registered(&grant.region, instance) {
            return Err(DistError::unauthorized(format!(
                "these credentials were issued to {instance}, which is no longer registered"
            )));
        }
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Err(DistError::new(403, "DENIED", "an agent's registry credentials can only pull"));
        }
    }
    let region = grant.region;
    let path = req.uri().path().to_string();
    let route = parse_route(&path)
        .ok_or_else(|| DistError::new(404, "NOT_FOUND", format!("no registry endpoint at {path}")))?;
    let method = req.method().clone();
    match (route, &method) {
        (Route::Base, &Method::GET | &Method::HEAD) => Ok(json_response(&serde_json::json!({}), "application/json")),
        (Route::Catalog, &Method::GET) => {
            let all = registry.catalog(&region);
            let (items, link) = paginate(&req, all, "/v2/_catalog")?;
            let mut r = json_response(&serde_json::json!({ "repositories": items }), "application/json");
            if let Some(l) = link {
                set(&mut r, "link", &l);
            }
            Ok(r)
        }
        (Route::Tags { name }, &Method::GET) => {
            let all = registry.tags(&region, name)?;
            let (items, link) = paginate(&req, all, &format!("/v2/{name}/tags/list"))?;
            let mut r = json_response(&serde_json::json!({ "name": name, "tags": items }), "application/json");
            if let Some(l) = link {
                set(&mut r, "link", &l);
            }
            Ok(r)
        }
        (Route::Blob { name, digest }, &Method::GET | &Method::HEAD) => {
            get_blob(registry, &region, name, digest, &req).await
        }
        (Route::Blob { .. }, &Method::DELETE) => Err(DistError::new(
            405,
            "UNSUPPORTED",
            "blobs are deleted by garbage collection once no image references them; delete the image instead",
        )),
        (Route::Uploads { name }, &Method::POST) => start_upload(registry, &region, name, req).await,
        (Route::Upload { name, id }, &Method::GET) => {
            let handle = registry.upload(&region, name, id)?;
            let size = handle.lock().await.as_ref().map(|f| f.size()).ok_or_else(DistError::upload_unknown)?;
            Ok(upload_status(StatusCode::NO_CONTENT, name, id, size))
        }
        (Route::Upload { name, id }, &Method::PATCH) => {
            let (name, id) = (name.to_string(), id.to_string());
            let size = append(registry, &region, &name, &id, req, true).await?;
            Ok(upload_status(StatusCode::ACCEPTED, &name, &id, size))
        }
        (Route::Upload { name, id }, &Method::PUT) => {
            let (name, id) = (name.to_string(), id.to_string());
            let finish = async {
                let digest = query_param(&req, "digest")
                    .ok_or_else(|| DistError::digest_invalid("the final PUT of an upload needs ?digest="))?;
                append(registry, &region, &name, &id, req, false).await?;
                registry.finish_upload(&region, &name, &id, &digest).await
            };
            let d = discard_on_error(registry, &region, &name, &id, finish).await?;
            Ok(blob_created(&name, d.as_str()))
        }
        (Route::Upload { name, id }, &Method::DELETE) => {
            registry.cancel_upload(&region, name, id).await?;
            Ok(status(StatusCode::NO_CONTENT, body::empty()))
        }
        (Route::Manifest { name, reference }, &Method::GET | &Method::HEAD) => {
            let image = registry.manifest(&region, name, reference)?;
            let accept: Vec<&str> = req
                .headers()
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            if !accepts(&accept, &image.media_type) {
                return Err(DistError::new(
                    404,
                    "MANIFEST_UNKNOWN",
                    format!("manifest '{reference}' is a {}, which the Accept header does not list", image.media_type),
                ));
            }
            let len = image.manifest.len();
            let body = if method == Method::HEAD { body::empty() } else { body::full(image.manifest.clone()) };
            let mut r = status(StatusCode::OK, body);
            set(&mut r, "content-type", &image.media_type);
            set(&mut r, "content-length", &len.to_string());
            set(&mut r, "docker-content-digest", &image.digest);
            set(&mut r, "etag", &format!("\"{}\"", image.digest));
            Ok(r)
        }
        (Route::Manifest { name, reference }, &Method::PUT) => {
            let content_type = header_str(&req, header::CONTENT_TYPE).map(str::to_string);
            let (name, reference) = (name.to_string(), reference.to_string());
            let bytes = Limited::new(req.into_body(), manifest::MAX_MANIFEST)
                .collect()
                .await
                .map_err(|_| {
                    DistError::new(
                        413,
                        "MANIFEST_INVALID",
                        format!("manifest is larger than {} bytes", manifest::MAX_MANIFEST),
                    )
                })?
                .to_bytes();
            let pushed = registry.put_manifest(&region, &name, &reference, bytes.to_vec(), content_type).await?;
            let mut r = status(StatusCode::CREATED, body::empty());
            set(&mut r, "location", &format!("/v2/{name}/manifests/{}", pushed.digest));
            set(&mut r, "docker-content-digest", pushed.digest.as_str());
            if let Some(s) = &pushed.subject {
                set(&mut r, "oci-subject", s);
            }
            Ok(r)
        }
        (Route::Manifest { name, reference }, &Method::DELETE) => {
            registry.delete_manifest(&region, name, reference).await?;
            Ok(status(StatusCode::ACCEPTED, body::empty()))
        }
        (Route::Referrers { name, digest }, &Method::GET) => {
            let artifact_type = query_param(&req, "artifactType");
            let manifests = registry.referrers(&region, name, digest, artifact_type.as_deref())?;
            let index =
                serde_json::json!({"schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": manifests});
            let mut r = json_response(&index, manifest::OCI_INDEX);
            if artifact_type.is_some() {
                set(&mut r, "oci-filters-applied", "artifactType");
            }
            Ok(r)
        }
        (_, m) => Err(DistError::new(405, "UNSUPPORTED", format!("{m} is not supported on {path}"))),
    }
}

/// `n`/`last` pagination of a sorted list, with the `Link` header for the next page.
fn paginate(req: &Request<Incoming>, all: Vec<String>, base: &str) -> Result<(Vec<String>, Option<String>), DistError> {
    let last = query_param(req, "last");
    let n = match query_param(req, "n") {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| DistError::new(400, "PAGINATION_NUMBER_INVALID", format!("n={n} is not a number")))?,
        ),
        None => None,
    };
    let rest: Vec<String> = all.into_iter().filter(|x| last.as_ref().is_none_or(|l| x > l)).collect();
    match n {
        Some(n) if rest.len() > n => {
            let page: Vec<String> = rest.into_iter().take(n).collect();
            let link = page.last().map(|l| format!("<{base}?n={n}&last={l}>; rel=\"next\""));
            Ok((page, link))
        }
        _ => Ok((rest, None)),
    }
}

async fn get_blob(
    registry: &Registry,
    region: &str,
    name: &str,
    digest: &str,
    req: &Request<Incoming>,
) -> Result<Response<Body>, DistError> {
    let (path, size) = registry.blob_file(region, name, digest)?;
    let range = match header_str(req, header::RANGE) {
        Some(r) => Some(parse_range(r, size).ok_or_else(|| {
            DistError::new(416, "BLOB_UNKNOWN", format!("range '{r}' is not satisfiable for a blob of {size} bytes"))
        })?),
        None => None,
    };
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let len = if size == 0 { 0 } else { end - start + 1 };
    let body = if req.method() == Method::HEAD {
        body::empty()
    } else {
        let mut file = tokio::fs::File::open(&path).await.map_err(|_| DistError::blob_unknown(digest))?;
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        body::file(file, len)
    };
    let mut r = status(if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK }, body);
    set(&mut r, "content-length", &len.to_string());
    set(&mut r, "content-type", "application/octet-stream");
    set(&mut r, "docker-content-digest", digest);
    set(&mut r, "accept-ranges", "bytes");
    if range.is_some() {
        set(&mut r, "content-range", &format!("bytes {start}-{end}/{size}"));
    }
    Ok(r)
}

/// `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX` within a blob of `size` bytes.
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if size == 0 {
        return None;
    }
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size - 1)
        }
        (s, "") => (s.parse().ok()?, size - 1),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(size - 1)),
    };
    (start <= end && start < size).then_some((start, end))
}

async fn start_upload(
    registry: &Registry,
    region: &str,
    name: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, DistError> {
    if let (Some(digest), Some(from)) = (query_param(&req, "mount"), query_param(&req, "from")) {
        if registry.mount(region, name, &digest, &from).await? {
            return Ok(blob_created(name, &digest));
        }
    }
    let id = registry.start_upload(region, name).await?;
    match query_param(&req, "digest") {
        // A monolithic upload: the whole blob is this request's body.
        Some(digest) => {
            let name = name.to_string();
            let body = req.into_body();
            let finish = async {
                write_body(registry, region, &name, &id, body).await?;
                registry.finish_upload(region, &name, &id, &digest).await
            };
            let d = discard_on_error(registry, region, &name, &id, finish).await?;
            Ok(blob_created(&name, d.as_str()))
        }
        None => Ok(upload_status(StatusCode::ACCEPTED, name, &id, 0)),
    }
}

/// Writes a request body onto an upload. For a PATCH, a `Content-Range` must start where
/// the upload ends (chunks arrive in order).
async fn append(
    registry: &Registry,
    region: &str,
    name: &str,
    id: &str,
    req: Request<Incoming>,
    patch: bool,
) -> Result<u64, DistError> {
    let content_range = header_str(&req, header::CONTENT_RANGE).map(str::to_string);
    if let (true, Some(range)) = (patch, content_range) {
        let handle = registry.upload(region, name, id)?;
        let size = handle.lock().await.as_ref().map(|f| f.size()).ok_or_else(DistError::upload_unknown)?;
        let start =
            range.trim().trim_start_matches("bytes ").split('-').next().and_then(|s| s.trim().parse::<u64>().ok());
        if start != Some(size) {
            return Err(DistError::new(
                416,
                "BLOB_UPLOAD_INVALID",
                format!("Content-Range '{range}' does not start at the upload's current end ({size}); chunks must be sent in order"),
            ));
        }
    }
    // A chunk out of order (above) can be resent; a body that broke off cannot be resumed.
    discard_on_error(registry, region, name, id, write_body(registry, region, name, id, req.into_body())).await
}

async fn write_body(
    registry: &Registry,
    region: &str,
    name: &str,
    id: &str,
    mut body: Incoming,
) -> Result<u64, DistError> {
    let handle = registry.upload(region, name, id)?;
    let mut guard = handle.lock().await;
    let file = guard.as_mut().ok_or_else(DistError::upload_unknown)?;
    loop {
        let next = tokio::time::timeout(crate::body::BODY_READ_TIMEOUT, body.frame()).await.map_err(|_| {
            DistError::new(400, "BLOB_UPLOAD_INVALID", "the upload body stalled; the upload was discarded")
        })?;
        let Some(frame) = next else { break };
        let frame =
            frame.map_err(|e| DistError::new(400, "BLOB_UPLOAD_INVALID", format!("reading the upload body: {e}")))?;
        if let Ok(data) = frame.into_data() {
            let data: Bytes = data;
            file.write(&data).await?;
        }
    }
    Ok(file.size())
}

/// Runs one step of an upload; if it fails (a body cut short, a bad digest, a write
/// error) the upload is discarded, so nothing it held stays open until a restart.
async fn discard_on_error<T>(
    registry: &Registry,
    region: &str,
    name: &str,
    id: &str,
    step: impl std::future::Future<Output = Result<T, DistError>>,
) -> Result<T, DistError> {
    let result = step.await;
    if result.is_err() {
        // Already gone when the step itself took it (finish_upload); that is fine.
        let _ = registry.cancel_upload(region, name, id).await;
    }
    result
}

fn upload_status(code: StatusCode, name: &str, id: &str, size: u64) -> Response<Body> {
    let mut r = status(code, body::empty());
    set(&mut r, "location", &format!("/v2/{name}/blobs/uploads/{id}"));
    set(&mut r, "range", &format!("0-{}", size.saturating_sub(1)));
    set(&mut r, "docker-upload-uuid", id);
    set(&mut r, "content-length", "0");
    r
}

fn blob_created(name: &str, digest: &str) -> Response<Body> {
    let mut r = status(StatusCode::CREATED, body::empty());
    set(&mut r, "location", &format!("/v2/{name}/blobs/{digest}"));
    set(&mut r, "docker-content-digest", digest);
    set(&mut r, "content-length", "0");
    r
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
