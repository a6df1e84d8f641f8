//! Plain tools for end-to-end tests: the aws CLIs installed on this machine, and one
//! HTTP/1.1 GET on a fresh connection (what a load balancer's client does).

use std::{path::PathBuf, process::Command, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The aws CLIs on this machine, by their real path (one entry per distinct binary): v1
/// from pip, first on the PATH, and v2 from Debian's `awscli` package at /usr/bin/aws.
pub fn installed_clis() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let on_path = Command::new("sh").args(["-c", "command -v aws"]).output().ok();
    let on_path = on_path.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).filter(|p| !p.is_empty());
    for candidate in on_path.into_iter().map(PathBuf::from).chain([PathBuf::from("/usr/bin/aws")]) {
        if candidate.exists() && !found.contains(&candidate) {
            found.push(candidate);
        }
    }
    found
}

/// `GET path` with `Host: host` to 127.0.0.1:`port` on a fresh connection that the request
/// asks to close: (status, body).
pub async fn http_get(port: u16, path: &str, host: &str) -> Result<(u16, String), String> {
    http_request(port, path, host, "").await.map(|(status, _, body)| (status, body))
}

/// Like [`http_get`] with `headers` (`Name: value\r\n` lines) added: (status, the head's
/// header lines, body).
pub async fn http_request(port: u16, path: &str, host: &str, headers: &str) -> Result<(u16, String, String), String> {
    http_request_to(([127, 0, 0, 1], port).into(), path, host, headers).await
}

/// Like [`http_request`], to any address.
pub async fn http_request_to(
    addr: std::net::SocketAddr,
    path: &str,
    host: &str,
    headers: &str,
) -> Result<(u16, String, String), String> {
    let connect = tokio::net::TcpStream::connect(addr);
    let mut s = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))?
        .map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut buf))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("no status in {text:?}"))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Ok((status, head.to_string(), body.to_string()))
}
