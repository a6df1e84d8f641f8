//! Load benchmark for the ECS API over loopback.
//!
//! Starts a real `berth server` process (release build, its own data directory, signature
//! checking on) and drives it with 16 keep-alive connections from this process, which
//! shares the machine's cores with it. Every request is SigV4-signed; the client re-signs
//! once per second per connection (a signature is valid for that second), and the server
//! verifies every request in full.
//!
//! Three measurements, each for BERTH_BENCH_SECS seconds (default 10):
//!   baseline  the same client against a trivial HTTP server that answers a fixed body
//!             (this binary, re-run as a child): the ceiling this client and machine allow;
//!   read      DescribeTaskDefinition of one revision;
//!   write     RegisterTaskDefinition, each acknowledged only after its fsync.
//!
//! Run: `cargo bench -p berth-cli --bench api_load`

use std::{
    convert::Infallible,
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use berth_api::sigv4::{self, Credential, SignedRequest};
use berth_testkit::BerthProcess;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{client::conn::http1, Request, Response};
use hyper_util::rt::TokioIo;

const CONNECTIONS: usize = 16;
const ECHO_ROLE: &str = "BERTH_BENCH_ECHO_SERVER";
const DESCRIBE: &str = "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition";
const REGISTER: &str = "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition";
const TASK_DEFINITION: &str = r#"{"family":"bench","containerDefinitions":[{"name":"app","image":"busybox:latest","memory":64,"portMappings":[{"containerPort":80}],"environment":[{"name":"MODE","value":"bench"}]}]}"#;

fn main() {
    if std::env::var_os(ECHO_ROLE).is_some() {
        return echo_server();
    }
    // `cargo bench` passes `--bench`; ignore arguments.
    let secs: u64 = std::env::var("BERTH_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let duration = Duration::from_secs(secs);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), dir.path(), 0);
    let credential = server.credential();
    let addr: SocketAddr = server.endpoint.trim_start_matches("http://").parse().unwrap();
    let describe_body = br#"{"taskDefinition":"bench:1"}"#.to_vec();

    let mut echo = Command::new(std::env::current_exe().unwrap())
        .env(ECHO_ROLE, "1")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the baseline server");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(echo.stdout.take().unwrap()), &mut line).unwrap();
    let echo_addr: SocketAddr = line.trim().parse().expect("baseline server address");

    println!("berth API load: {CONNECTIONS} connections, {secs} s per measurement, signatures verified");
    let results = runtime.block_on(async {
        // One revision to read, and a warm-up of both paths.
        let warm =
            load(addr, &credential, REGISTER, TASK_DEFINITION.as_bytes().to_vec(), Duration::from_millis(300)).await;
        assert!(warm.errors == 0 && warm.ok > 0, "warm-up failed: {warm:?}");
        let baseline = load(echo_addr, &credential, DESCRIBE, describe_body.clone(), duration).await;
        let read = load(addr, &credential, DESCRIBE, describe_body.clone(), duration).await;
        let write = load(addr, &credential, REGISTER, TASK_DEFINITION.as_bytes().to_vec(), duration).await;
        [
            ("baseline (trivial HTTP server)", baseline),
            ("read: DescribeTaskDefinition", read),
            ("write: RegisterTaskDefinition", write),
        ]
    });
    let _ = echo.kill();
    let _ = echo.wait();
    println!("{:<34} {:>10} {:>9} {:>9} {:>7}", "measurement", "req/s", "p50 ms", "p99 ms", "errors");
    for (name, r) in &results {
        println!(
            "{name:<34} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            r.rate(),
            r.percentile(50.0),
            r.percentile(99.0),
            r.errors
        );
    }
    let (baseline, read, write) = (&results[0].1, &results[1].1, &results[2].1);
    println!(
        "read: {:.0}% of baseline; target >= 40000/s with p99 <= 2 ms: {}",
        100.0 * read.rate() / baseline.rate(),
        verdict(read.rate() >= 40_000.0 && read.percentile(99.0) <= 2.0)
    );
    println!("write: target >= 5000/s durable: {}", verdict(write.rate() >= 5_000.0));
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "NOT met"
    }
}

#[derive(Debug, Default)]
struct Outcome {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    /// Latency percentile in ms (`latencies_us` is sorted once the run ends).
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

/// Runs CONNECTIONS clients against `addr` for `duration`, each sending `target` requests
/// back to back.
async fn load(
    addr: SocketAddr,
    credential: &Credential,
    target: &'static str,
    body: Vec<u8>,
    duration: Duration,
) -> Outcome {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (credential, body) = (credential.clone(), body.clone());
        tasks.push(tokio::spawn(async move { client(addr, credential, target, body, deadline).await }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        let o = t.await.unwrap();
        total.ok += o.ok;
        total.errors += o.errors;
        total.latencies_us.extend(o.latencies_us);
    }
    total.elapsed = start.elapsed();
    total.latencies_us.sort_unstable();
    total
}

async fn client(
    addr: SocketAddr,
    credential: Credential,
    target: &'static str,
    body: Vec<u8>,
    deadline: Instant,
) -> Outcome {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let host = addr.to_string();
    let body = Bytes::from(body);
    let mut out = Outcome::default();
    let mut signed: (i64, Vec<(String, String)>) = (0, Vec::new());
    while Instant::now() < deadline {
        let now = sigv4::now_secs();
        if signed.0 != now {
            let headers =
                [("host", host.as_str()), ("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target)];
            let req = SignedRequest { method: "POST", path: "/", query: "", headers: &headers, body: &body };
            signed = (now, sigv4::sign(&req, &credential, "us-east-1", "ecs", now));
        }
        let mut builder = Request::post("/")
            .header("host", host.as_str())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target);
        for (k, v) in &signed.1 {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder.body(Full::new(body.clone())).unwrap();
        let sent = Instant::now();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let _ = response.into_body().collect().await.unwrap();
        out.latencies_us.push(sent.elapsed().as_micros() as u32);
        if status.is_success() {
            out.ok += 1;
        } else {
            out.errors += 1;
        }
    }
    out
}

/// The baseline: answers every request with a fixed JSON body, on two worker threads
/// like berth.
fn echo_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{\"taskDefinition\":{}}"))))
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}
