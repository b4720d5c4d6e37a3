//! `regen serve`'s HTTP API, against the binary started with `--port 0` on 127.0.0.1: each
//! endpoint, each refusal, and results equal byte for byte to the command line's. Requests
//! are written by hand over TCP so that malformed ones can be sent too.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, fixtures, regen, run};

/// A running `regen serve`, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_in(args, None)
    }

    fn start_in(args: &[&str], cwd: Option<&Path>) -> Server {
        let mut cmd = regen();
        cmd.args(["serve", "--port", "0"]).args(args);
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("regen serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, port }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends `head` (request line and headers, without the blank line) and `body`.
    fn raw(&self, head: &str, body: &[u8]) -> Response {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
        let head = format!("{head}\r\nConnection: close\r\n\r\n");
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) and close before reading a large body.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        Response::parse(&raw)
    }

    fn get(&self, path: &str) -> Response {
        self.raw(
            &format!("GET {path} HTTP/1.1\r\nHost: {}", self.host()),
            b"",
        )
    }

    fn post(&self, path: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Response {
        let (ctype, body) = multipart(parts);
        self.post_raw(path, &ctype, &body, "")
    }

    fn post_raw(&self, path: &str, ctype: &str, body: &[u8], extra: &str) -> Response {
        self.raw(
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {ctype}\r\nContent-Length: {}{extra}",
                self.host(),
                body.len()
            ),
            body,
        )
    }

    /// Polls job `id` until it has finished; its last status.
    fn wait(&self, id: u64) -> serde_json::Value {
        let t0 = Instant::now();
        loop {
            let s = self.get(&format!("/api/jobs/{id}")).json();
            if !["queued", "running"].contains(&s["state"].as_str().unwrap()) {
                return s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(300),
                "job {id} never finished"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response: {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let status = head[9..12].parse().unwrap();
        let mut body = raw[split + 4..].to_vec();
        if head.contains("transfer-encoding: chunked") {
            let mut out = Vec::new();
            let mut rest = &body[..];
            loop {
                let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
                let n =
                    usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                        .unwrap();
                if n == 0 {
                    break;
                }
                out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
                rest = &rest[eol + 4 + n..];
            }
            body = out;
        }
        Response { status, head, body }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a refusal: `status`, and one line of JSON whose error names `needle`.
    fn refused(&self, status: u16, needle: &str) {
        let text = String::from_utf8_lossy(&self.body);
        assert_eq!(self.status, status, "{text}");
        assert!(
            self.head.contains("content-type: application/json"),
            "{}",
            self.head
        );
        assert_eq!(text.trim_end().lines().count(), 1, "one line: {text}");
        let error = self.json()["error"].as_str().unwrap().to_string();
        assert!(error.contains(needle), "'{needle}' not in {error:?}");
    }

    fn png(&self) -> Vec<u8> {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        assert!(
            self.head.contains("content-type: image/png"),
            "{}",
            self.head
        );
        self.body.clone()
    }
}

/// A multipart form field: name, file name (for a file), contents.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let b = "regen-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(
            format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = file {
            body.extend_from_slice(
                format!("; filename=\"{f}\"\r\nContent-Type: application/octet-stream").as_bytes(),
            );
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={b}"), body)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/noisy-photo.png")
}

fn runs_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../regen-serve/tests/fixtures/runs")
}

/// A noisy gray PNG of `w` x `h`.
fn noisy_png(path: &Path, w: u32, h: u32) {
    let mut s = 7u32;
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        image::Luma([((x + y) % 200) as u8 + (s >> 28) as u8])
    });
    img.save(path).unwrap();
}

#[test]
fn a_restore_through_the_api_equals_regen_restore_byte_for_byte() {
    let d = TempDir::new("serve-restore");
    // The server's folder stays empty: it writes nothing but its answers.
    let cwd = TempDir::new("serve-cwd");
    let s = Server::start_in(&[], Some(cwd.path()));
    let photo = read(&example());
    let cli = d.join("cli.png");
    let o = run(&[
        "restore",
        example().to_str().unwrap(),
        "-o",
        cli.to_str().unwrap(),
    ]);
    assert!(o.status.success());

    let waited = s.post(
        "/api/restore?wait=1",
        &[("image", Some("noisy-photo.png"), &photo)],
    );
    assert!(
        waited.png() == read(&cli),
        "wait=1 differs from regen restore"
    );

    // Queued, polled, fetched.
    let r = s.post(
        "/api/restore",
        &[("image", Some("noisy-photo.png"), &photo)],
    );
    assert_eq!(r.status, 202);
    let id = r.json()["id"].as_u64().unwrap();
    let status = s.wait(id);
    assert_eq!(status["state"], "done");
    assert!(status["total"].as_u64().unwrap() >= 1);
    assert_eq!(status["done"], status["total"]);
    assert!(s.get(&format!("/api/jobs/{id}/result")).png() == read(&cli));

    // With a noise level, as `--sigma`.
    let cli15 = d.join("cli15.png");
    let o = run(&[
        "restore",
        example().to_str().unwrap(),
        "--sigma",
        "15",
        "-o",
        cli15.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let r = s.post(
        "/api/restore?wait=1",
        &[("image", Some("p.png"), &photo), ("sigma", None, b"15")],
    );
    assert!(
        r.png() == read(&cli15),
        "sigma 15 differs from regen restore --sigma 15"
    );
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "the server wrote a file"
    );
}

#[test]
fn inpainting_takes_a_mask_file_or_the_photos_alpha() {
    let d = TempDir::new("serve-inpaint");
    let s = Server::start(&[]);
    let clean = fixtures().join("photos/clean-256.png");
    let mask = d.join("mask.png");
    image::GrayImage::from_fn(256, 256, |x, y| {
        image::Luma([if (100..140).contains(&x) && (60..200).contains(&y) {
            255
        } else {
            0
        }])
    })
    .save(&mask)
    .unwrap();
    let cli = d.join("cli.png");
    let o = run(&[
        "restore",
        "--task",
        "inpaint",
        "--mask",
        mask.to_str().unwrap(),
        clean.to_str().unwrap(),
        "-o",
        cli.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r = s.post(
        "/api/restore?wait=1",
        &[
            ("image", Some("clean.png"), &read(&clean)),
            ("mask", Some("mask.png"), &read(&mask)),
            ("task", None, b"inpaint"),
        ],
    );
    assert!(
        r.png() == read(&cli),
        "differs from regen restore --task inpaint"
    );

    // The same hole as transparent pixels: filled as the mask file fills it, and opaque.
    let gray = image::open(&clean).unwrap().to_luma8();
    let holed = image::RgbaImage::from_fn(256, 256, |x, y| {
        let v = gray.get_pixel(x, y)[0];
        let hole = (100..140).contains(&x) && (60..200).contains(&y);
        image::Rgba([v, v, v, if hole { 0 } else { 255 }])
    });
    let holed_path = d.join("holed.png");
    holed.save(&holed_path).unwrap();
    let r = s.post(
        "/api/restore?wait=1",
        &[
            ("image", Some("holed.png"), &read(&holed_path)),
            ("task", None, b"inpaint"),
            ("mask_from", None, b"alpha"),
        ],
    );
    let out = image::load_from_memory(&r.png()).unwrap();
    assert!(!out.color().has_alpha(), "the filled photo is opaque");
    let by_mask = image::open(&cli).unwrap().to_luma8();
    let out = out.to_rgb8();
    let worst = (0..256 * 256)
        .map(|i| {
            let (x, y) = (i % 256, i / 256);
            let p = out.get_pixel(x, y);
            let mean = (p[0] as f32 + p[1] as f32 + p[2] as f32) / 3.0;
            (mean - by_mask.get_pixel(x, y)[0] as f32).abs().round() as i32
        })
        .max()
        .unwrap();
    // The gray photo goes through the shipped colour inpainter as three equal planes whose
    // results are averaged; the photo with three equal planes gets those three results.
    assert!(
        worst <= 1,
        "alpha-as-mask differs from the mask file by {worst}/255"
    );
}

#[test]
fn generate_and_interpolate_answer_pngs_as_regen_generate_draws_them() {
    let d = TempDir::new("serve-generate");
    let s = Server::start(&[]);
    let grid = d.join("grid.png");
    let o = run(&[
        "generate",
        "--model",
        "cgan-mnist",
        "-n",
        "16",
        "--class",
        "3",
        "--seed",
        "5",
        "--grid",
        grid.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r = s.get("/api/generate?model=cgan-mnist&count=16&class=3&seed=5");
    assert!(r.png() == read(&grid), "differs from regen generate --grid");

    let img = image::load_from_memory(
        &s.get("/api/interpolate?model=vae-fashion&seed=1&a=0&b=3&t=0.25")
            .png(),
    )
    .unwrap();
    assert_eq!((img.width(), img.height()), (28, 28));
    // At t = 0 the path starts on sample a of the grid drawn with that seed.
    let start = image::load_from_memory(
        &s.get("/api/interpolate?model=vae-fashion&seed=1&a=2&b=3&t=0")
            .png(),
    )
    .unwrap()
    .to_luma8();
    let grid = image::load_from_memory(
        &s.get("/api/generate?model=vae-fashion&count=4&seed=1")
            .png(),
    )
    .unwrap()
    .to_luma8();
    // A 2 x 2 grid with 2-pixel gaps: sample 2 starts at (2, 32).
    let worst = (0..28 * 28)
        .map(|i| {
            let (x, y) = (i % 28, i / 28);
            (start.get_pixel(x, y)[0] as i32 - grid.get_pixel(2 + x, 32 + y)[0] as i32).abs()
        })
        .max()
        .unwrap();
    assert!(worst <= 1, "t = 0 is not sample a: {worst}/255 apart");

    s.get("/api/generate?model=cgan-mnist&class=10")
        .refused(400, "class 10");
    s.get("/api/generate?model=gan-fashion&class=1")
        .refused(400, "unconditional");
    s.get("/api/generate?model=cgan-mnist&count=0")
        .refused(400, "count 0");
    s.get("/api/generate?model=denoise")
        .refused(400, "no such VAE or GAN");
    s.get("/api/generate").refused(400, "model: required");
    s.get("/api/generate?model=cgan-mnist&colour=red")
        .refused(400, "unknown parameter \"colour\"");
    s.get("/api/interpolate?model=vae-fashion&t=2")
        .refused(400, "t 2");
    s.get("/api/interpolate?model=vae-fashion&a=x")
        .refused(400, "a \"x\"");
}

#[test]
fn models_and_pages_are_served() {
    let s = Server::start(&[]);
    let m = s.get("/api/models").json();
    let names = |k: &str| -> Vec<String> {
        m[k].as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(names("restore").contains(&"denoise-color".to_string()));
    assert!(names("generate").contains(&"cgan-mnist".to_string()));
    let color = m["restore"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "denoise-color")
        .unwrap();
    assert_eq!(color["channels"], 3);
    assert_eq!(color["noise_level"], true);
    for page in ["/", "/restore", "/generate", "/runs"] {
        let r = s.get(page);
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("<script src=\"/assets/app.js\">"));
    }
    for asset in ["/assets/app.js", "/assets/app.css"] {
        assert_eq!(s.get(asset).status, 200, "{asset}");
    }
    s.get("/assets/../Cargo.toml").refused(404, "no such");
    s.get("/nothing-here").refused(404, "no such page");
    s.raw(
        &format!("DELETE /api/models HTTP/1.1\r\nHost: {}", s.host()),
        b"",
    )
    .refused(405, "another method");
    s.get("/api/runs").refused(404, "--runs DIR");
}

#[test]
fn runs_are_listed_read_and_kept_inside_their_folder() {
    let root = runs_fixture();
    let s = Server::start(&["--runs", root.to_str().unwrap()]);
    let list = s.get("/api/runs").json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "gan-mnist300");
    assert_eq!(list[0]["kind"], "gan");
    let run = s.get("/api/runs/gan-mnist300").json();
    assert_eq!(run["last_step"], 40);
    assert_eq!(run["metrics"].as_array().unwrap().len(), 4);
    assert!(run["config"].as_str().unwrap().contains("epochs = 4"));
    assert!(
        run["images"]
            .as_array()
            .unwrap()
            .contains(&"samples/epoch-0004.png".into())
    );
    let img = s
        .get("/api/runs/gan-mnist300/images/samples/epoch-0004.png")
        .png();
    assert!(img == read(&root.join("gan-mnist300/samples/epoch-0004.png")));

    s.get("/api/runs/not-a-run").refused(404, "not-a-run");
    s.get("/api/runs/..").refused(400, "not a run name");
    s.get("/api/runs/%2E%2E").refused(400, "not a run name");
    s.get("/api/runs/..%2Fruns").refused(400, "not a run name");
    s.get("/api/runs/%FF%FE").refused(400, "bad path");
    for escape in [
        "../../../../Cargo.toml",
        "..%2F..%2F..%2F..%2FCargo.toml",
        "%2Fetc%2Fpasswd",
        "config.toml",
        "samples/../samples.png",
    ] {
        let r = s.get(&format!("/api/runs/gan-mnist300/images/{escape}"));
        assert!(r.status == 404 || r.status == 400, "{escape}: {}", r.status);
        assert!(!r.head.contains("image/png"), "{escape} served");
    }
}

#[test]
fn refusals_are_one_line_of_json_and_4xx() {
    let s = Server::start(&["--max-upload-mb", "1"]);
    let photo = read(&example());
    let host = s.host();
    // DNS rebinding: another name for this address.
    s.raw("GET /api/models HTTP/1.1\r\nHost: rebind.example:80", b"")
        .refused(403, "not this server");
    s.raw(
        &format!("GET /api/models HTTP/1.1\r\nHost: evil.example:{}", s.port),
        b"",
    )
    .refused(403, "not this server");
    s.raw("GET /api/models HTTP/1.0", b"")
        .refused(400, "no Host");
    assert_eq!(
        s.raw(
            &format!("GET /api/models HTTP/1.1\r\nHost: localhost:{}", s.port),
            b""
        )
        .status,
        200
    );
    // Another site's page posting to this server.
    let (ctype, body) = multipart(&[("image", Some("p.png"), &photo)]);
    s.post_raw(
        "/api/restore",
        &ctype,
        &body,
        "\r\nOrigin: http://evil.example",
    )
    .refused(403, "evil.example");
    // Size limits before reading or decoding.
    // Refused from the declared length, before the body is sent.
    let (ctype, _) = multipart(&[]);
    s.raw(
        &format!("POST /api/restore HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\nContent-Length: {}", 2 << 20),
        b"",
    )
    .refused(413, "--max-upload-mb");
    let bomb = read(&fixtures().join("odd/huge-header.png"));
    s.post("/api/restore", &[("image", Some("bomb.png"), &bomb)])
        .refused(413, "40000 x 40000");
    // Bad uploads and parameters.
    s.post("/api/restore", &[("image", Some("notes.txt"), b"hello")])
        .refused(400, "not an image");
    s.post(
        "/api/restore",
        &[("image", Some("cut.png"), &photo[..photo.len() / 2])],
    )
    .refused(400, "image:");
    s.post("/api/restore", &[("task", None, b"denoise")])
        .refused(400, "no photo");
    // The photo with bad text fields: (fields, what the refusal names).
    let small = read(&fixtures().join("odd/gray8.png"));
    let text = |k: &'static str, v: &'static str| (k, None, v.as_bytes());
    let bad: Vec<(Vec<Part>, &str)> = vec![
        (vec![text("colour", "1")], "unknown field \"colour\""),
        (vec![text("task", "paint")], "unknown task"),
        (
            vec![text("model", "../../etc/passwd")],
            "no such restoration model",
        ),
        (vec![text("sigma", "abc")], "sigma"),
        (vec![text("sigma", "-3")], "sigma"),
        (vec![text("task", "inpaint")], "needs a mask"),
        (vec![("mask", Some("m.png"), &photo)], "for task inpaint"),
        (
            vec![text("task", "inpaint"), text("mask_from", "alpha")],
            "no alpha",
        ),
        (
            vec![text("task", "inpaint"), ("mask", Some("m.png"), &small)],
            "mask is",
        ),
        (
            vec![text("model", "inpaint"), text("wait", "1")],
            "not denoise",
        ),
    ];
    for (fields, needle) in bad {
        let mut parts: Vec<Part> = vec![("image", Some("p.png"), &photo)];
        parts.extend(fields);
        s.post("/api/restore", &parts).refused(400, needle);
    }
    // Malformed multipart: a broken body, and no multipart at all.
    let (ctype, _) = multipart(&[]);
    s.post_raw("/api/restore", &ctype, b"--not-the-boundary\r\ngarbage", "")
        .refused(400, "bad upload");
    s.post_raw("/api/restore", "application/json", b"{}", "")
        .refused(400, "multipart/form-data");
    // Jobs.
    s.get("/api/jobs/999").refused(404, "no job 999");
    s.get("/api/jobs/abc").refused(400, "whole numbers");
    s.get("/api/jobs/999/result").refused(404, "no job 999");
}

#[test]
fn a_full_queue_answers_429_and_a_cancelled_job_stops() {
    let d = TempDir::new("serve-queue");
    let big = d.join("big.png");
    noisy_png(&big, 3000, 3000);
    let s = Server::start(&["--queue", "1"]);
    let r = s.post("/api/restore", &[("image", Some("big.png"), &read(&big))]);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_u64().unwrap();
    let photo = read(&example());
    s.post("/api/restore", &[("image", Some("p.png"), &photo)])
        .refused(429, "busy");
    s.get("/api/generate?model=cgan-mnist").refused(429, "busy");
    s.get(&format!("/api/jobs/{id}/result"))
        .refused(409, "has not finished");
    let c = s.raw(
        &format!(
            "POST /api/jobs/{id}/cancel HTTP/1.1\r\nHost: {}\r\nContent-Length: 0",
            s.host()
        ),
        b"",
    );
    assert_eq!(c.status, 200);
    let end = s.wait(id);
    assert_eq!(end["state"], "cancelled", "{end}");
    assert!(
        end["done"].as_u64().unwrap() < end["total"].as_u64().unwrap().max(1),
        "{end}"
    );
    s.get(&format!("/api/jobs/{id}/result"))
        .refused(410, "cancelled");
    // The queue has room again.
    assert_eq!(
        s.post("/api/restore?wait=1", &[("image", Some("p.png"), &photo)])
            .status,
        200
    );
}

#[test]
fn binding_beyond_loopback_warns() {
    let mut child = regen()
        .args(["serve", "--host", "0.0.0.0", "--port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("warning: listening on 0.0.0.0"), "{line}");
}

#[test]
fn serve_refuses_bad_options_in_one_line() {
    let o = run(&["serve", "--port", "0", "--runs", "/no/such/folder"]);
    common::assert_user_error(&o, "/no/such/folder");
    let o = run(&["serve", "--port", "0", "--queue", "0"]);
    common::assert_user_error(&o, "--queue 0");
    let o = run(&["serve", "--port", "0", "--models", "/no/such/models"]);
    common::assert_user_error(&o, "/no/such/models");
}

/// A blind deblurrer trained with a noise level map has two input planes for one image
/// channel, as a non-blind one does. Its descriptor says which: `regen serve` lists it as
/// blind with a sigma input (it used to work the planes out by subtraction and call it
/// non-blind), and `regen restore` runs it as blind, with `--sigma`, refusing a kernel.
#[test]
fn a_blind_deblurrer_with_a_noise_map_is_listed_and_run_as_blind_with_a_sigma() {
    let d = common::TempDir::new("blind-map");
    let data = common::fixtures().join("train");
    let o = run(&[
        "train",
        "restore",
        "--task",
        "deblur",
        "--noise-map",
        "--data",
        data.to_str().unwrap(),
        "--steps",
        "2",
        "--epoch-steps",
        "2",
        "--patch",
        "32",
        "--batch",
        "2",
        "--width",
        "4",
        "--depth",
        "1",
        "--quiet",
        "--out",
        d.join("run").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let models = d.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let model = models.join("blind-map.safetensors");
    std::fs::copy(d.join("run/model.safetensors"), &model).unwrap();

    let s = Server::start(&["--models", models.to_str().unwrap()]);
    let m = s.get("/api/models").json();
    let e = m["restore"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "blind-map.safetensors")
        .expect("listed")
        .clone();
    assert_eq!(e["task"], "deblur");
    assert_eq!(e["non_blind"], false, "{e}");
    assert_eq!(e["noise_level"], true, "{e}");

    let photo = data.join("test_001.png");
    let (photo, model) = (photo.to_str().unwrap(), model.to_str().unwrap());
    let out = d.join("out.png");
    let o = run(&[
        "restore",
        "--task",
        "deblur",
        "--model",
        model,
        "--sigma",
        "5",
        photo,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = run(&[
        "restore",
        "--task",
        "deblur",
        "--model",
        model,
        "--blur-sigma",
        "1.6",
        photo,
        "-o",
        out.to_str().unwrap(),
    ]);
    common::assert_user_error(&o, "is a blind deblurrer and takes no kernel");
}

#[test]
fn published_models_in_the_folder_are_offered_and_upscale_as_regen_restore_does() {
    let d = common::TempDir::new("serve-published");
    let models = d.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let src = common::fixtures().join("published");
    for f in [
        "compact-x2.safetensors",
        "esrgan-old-x4.pth",
        "ffdnet-kair-gray.safetensors",
    ] {
        std::fs::copy(src.join(f), models.join(f)).unwrap();
    }
    let s = Server::start(&["--models", models.to_str().unwrap()]);
    let m = s.get("/api/models").json();
    let entry = |name: &str| {
        m["restore"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {m}"))
            .clone()
    };
    assert_eq!(entry("compact-x2.safetensors")["task"], "upscale");
    assert_eq!(entry("esrgan-old-x4.pth")["scale"], 4);
    assert_eq!(entry("ffdnet-kair-gray.safetensors")["noise_level"], true);
    let up = m["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "upscale")
        .expect("upscaling offered")
        .clone();
    // regen ships upscalers, so the task has a default beside the folder's models.
    assert_eq!(up["default"], true, "{up}");
    assert!(
        m["restore"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "upscale-photo-x4")
    );

    let photo_path = src.join("real-photo-small.png");
    let cli = d.join("cli.png");
    let model = models.join("compact-x2.safetensors");
    let o = run(&[
        "restore",
        photo_path.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "-o",
        cli.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let r = s.post(
        "/api/restore?wait=1",
        &[
            ("image", Some("small.png"), &read(&photo_path)),
            ("task", None, b"upscale"),
            ("model", None, b"compact-x2.safetensors"),
        ],
    );
    assert!(
        r.png() == read(&cli),
        "the API's upscale differs from regen restore"
    );
}
