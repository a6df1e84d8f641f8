//! The registry's push and pull throughput, in one run:
//! 1. the floor: a plain copy of the image's bytes on the same disk (`cp`, then `sha256sum`
//!    of the copy), which is what any push or pull at least has to do;
//! 2. push: `skopeo copy` of a 200 MiB OCI image (four layers of random content) from an
//!    OCI layout into a `berth server`;
//! 3. pull: `skopeo copy` of it back out into a fresh OCI layout.
//!
//! Run: `cargo bench -p berth-cli --bench registry_speed`   (BERTH_BENCH_MIB=N for another size)

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use berth_testkit::{digest_of, BerthProcess};
use rand::RngCore;

fn run(program: &str, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    start.elapsed()
}

/// Writes `layers` layers of `layer_mib` MiB of random content as an OCI layout at `dir`
/// (uncompressed tar layers, so what is hashed is what is stored). Returns the layer files.
fn make_layout(dir: &Path, layers: usize, layer_mib: usize) -> Vec<std::path::PathBuf> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let scratch = tempfile::tempdir_in(dir.parent().unwrap()).unwrap();
    let mut rng = rand::thread_rng();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    let mut files = Vec::new();
    for i in 0..layers {
        let mut data = vec![0u8; layer_mib << 20];
        rng.fill_bytes(&mut data);
        let name = format!("random-{i}.bin");
        std::fs::write(scratch.path().join(&name), &data).unwrap();
        let tar = scratch.path().join(format!("layer-{i}.tar"));
        run("tar", &["-C", scratch.path().to_str().unwrap(), "-cf", tar.to_str().unwrap(), &name]);
        let bytes = std::fs::read(&tar).unwrap();
        let digest = digest_of(&bytes);
        let path = blobs.join(digest.trim_start_matches("sha256:"));
        std::fs::write(&path, &bytes).unwrap();
        descriptors.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": bytes.len()}));
        diff_ids.push(digest);
        files.push(path);
    }
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}
    }))
    .unwrap();
    let config_digest = digest_of(&config);
    std::fs::write(blobs.join(config_digest.trim_start_matches("sha256:")), &config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descriptors,
    }))
    .unwrap();
    let manifest_digest = digest_of(&manifest);
    std::fs::write(blobs.join(manifest_digest.trim_start_matches("sha256:")), &manifest).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "v1"}
    }]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    files
}

fn main() {
    let mib: usize = std::env::var("BERTH_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let layers = 4;
    let base = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let layout = base.path().join("layout");
    let files = make_layout(&layout, layers, mib / layers);
    let total: u64 = files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();
    let mb = total as f64 / 1e6;

    // The floor: copy the layer files on the same disk, then hash the copies.
    let copies = base.path().join("copies");
    std::fs::create_dir_all(&copies).unwrap();
    let mut cp_args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    cp_args.push(copies.to_str().unwrap());
    let cp = run("cp", &cp_args);
    let copied: Vec<String> =
        std::fs::read_dir(&copies).unwrap().map(|e| e.unwrap().path().to_str().unwrap().to_string()).collect();
    let hash = run("sha256sum", &copied.iter().map(String::as_str).collect::<Vec<_>>());
    let floor = cp + hash;

    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let server = BerthProcess::start(berth, &base.path().join("server"), 0);
    let host = format!("127.0.0.1:{}", server.port());
    let credential = server.credential();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let token = runtime.block_on(async {
        let ecr = berth_testkit::ecr_client(&server.endpoint, &credential, "us-east-1");
        ecr.create_repository().repository_name("bench").send().await.unwrap();
        let auth = ecr.get_authorization_token().send().await.unwrap();
        auth.authorization_data()[0].authorization_token().unwrap().to_string()
    });
    use base64::Engine;
    let creds = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token).unwrap()).unwrap();

    let src = format!("oci:{}:v1", layout.display());
    let dst = format!("docker://{host}/bench:v1");
    let push = run("skopeo", &["copy", "--dest-creds", &creds, "--dest-tls-verify=false", &src, &dst]);
    let out = format!("oci:{}:v1", base.path().join("pulled").display());
    let pull = run("skopeo", &["copy", "--src-creds", &creds, "--src-tls-verify=false", &dst, &out]);

    let rate = |d: Duration| mb / d.as_secs_f64();
    println!("image: {layers} random layers, {mb:.1} MB in all");
    println!(
        "floor (cp {:.0} ms + sha256sum {:.0} ms): {:.0} MB/s",
        cp.as_secs_f64() * 1e3,
        hash.as_secs_f64() * 1e3,
        rate(floor)
    );
    let verdict = |d: Duration| if rate(d) >= 0.5 * rate(floor) { "met" } else { "NOT met" };
    println!(
        "push (skopeo copy oci: -> berth): {:.0} ms, {:.0} MB/s = {:.0}% of the floor (target >= 50%: {})",
        push.as_secs_f64() * 1e3,
        rate(push),
        100.0 * rate(push) / rate(floor),
        verdict(push)
    );
    println!(
        "pull (skopeo copy berth -> oci:): {:.0} ms, {:.0} MB/s = {:.0}% of the floor (target >= 50%: {})",
        pull.as_secs_f64() * 1e3,
        rate(pull),
        100.0 * rate(pull) / rate(floor),
        verdict(pull)
    );
}
