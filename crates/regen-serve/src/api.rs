//! The HTTP+JSON API and the page's routes. Handlers parse a request, hand the work to the
//! library (through the job queue for anything that runs a model) and answer; every
//! refusal is a 4xx with one line of JSON, `{"error": "..."}`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use regen::corrupt::Task;
use regen::data::Image;
use regen::models::Family;
use serde::Serialize;

use crate::App;
use crate::jobs::{Job, State as JobState, Work};
use crate::models::Want;
use crate::request::{ApiError, Params, multipart_error};

type Answer = Result<Response, ApiError>;

/// The parts of the request path a route names, or a JSON refusal.
fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad(format!("bad path: {}", e.body_text())))
}

pub fn router(app: App) -> Router {
    let limit = app.guard.max_upload;
    Router::new()
        .route("/", get(page))
        .route("/restore", get(page))
        .route("/generate", get(page))
        .route("/runs", get(page))
        .route("/assets/{file}", get(asset))
        .route("/api/models", get(models))
        .route("/api/restore", post(restore))
        .route("/api/preview", post(preview))
        .route("/api/jobs/{id}", get(job_status))
        .route("/api/jobs/{id}/result", get(job_result))
        .route("/api/jobs/{id}/cancel", post(job_cancel))
        .route("/api/generate", get(generate))
        .route("/api/interpolate", get(interpolate))
        .route("/api/runs", get(runs))
        .route("/api/runs/{name}", get(run))
        .route("/api/runs/{name}/images/{*image}", get(run_image))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such page or endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint takes another method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::guard::check,
        ))
        .with_state(app)
}

async fn page() -> Response {
    crate::assets::respond("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

async fn asset(file: Result<Path<String>, PathRejection>) -> Answer {
    crate::assets::respond(&path(file)?)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such asset"))
}

fn json(value: &impl Serialize) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn png(bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

async fn models(State(app): State<App>) -> Response {
    let pick = |restore: bool| -> Vec<_> {
        app.models
            .entries
            .iter()
            .filter(|e| (e.family == Family::Restore) == restore)
            .collect()
    };
    json(&serde_json::json!({
        "restore": pick(true),
        "generate": pick(false),
        "tasks": crate::models::tasks(&app.models),
        "max_upload": app.guard.max_upload,
        "max_pixels": regen::data::max_pixels(),
    }))
}

const RESTORE_FIELDS: &[&str] = &["task", "model", "sigma", "mask_from", "blur_sigma", "wait"];

/// `POST /api/restore`, multipart: `image` (the photo), and for inpainting `mask` (white =
/// missing) or `mask_from=alpha`; text fields `task`, `model`, `sigma`, `blur_sigma`,
/// `wait`. Answers 202 with the job, or with `wait=1` the restored PNG.
async fn restore(
    State(app): State<App>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    form: Result<Multipart, MultipartRejection>,
) -> Answer {
    let mut p = Params::from_query(query)?;
    let mut form = form.map_err(|e| {
        ApiError::bad(format!(
            "send the photo as multipart/form-data with the field \"image\" ({})",
            e.body_text()
        ))
    })?;
    let (mut image, mut mask): (Option<Bytes>, Option<Bytes>) = (None, None);
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        let data = field.bytes().await.map_err(multipart_error)?;
        match name.as_str() {
            "image" => image = Some(data),
            "mask" => mask = Some(data),
            n if RESTORE_FIELDS.contains(&n) => {
                let text = String::from_utf8(data.to_vec())
                    .map_err(|_| ApiError::bad(format!("field {n:?}: not text")))?;
                p.0.insert(name, text);
            }
            n => {
                return Err(ApiError::bad(format!(
                    "unknown field {n:?}; send image, mask, {}",
                    RESTORE_FIELDS.join(", ")
                )));
            }
        }
    }
    p.only(RESTORE_FIELDS)?;
    let image = image
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::bad("no photo: send it as the multipart field \"image\""))?;
    let task: Task = p
        .text("task")
        .map(str::parse)
        .transpose()?
        .unwrap_or_default();
    let model = match p.text("model").filter(|&m| m != "default") {
        None => None,
        Some(name) => {
            let e = app.models.find(name, Want::Restore).ok_or_else(|| {
                ApiError::bad(format!(
                    "model {name:?}: no such restoration model (GET /api/models lists them)"
                ))
            })?;
            Some(e.spec.clone())
        }
    };
    let sigma: Option<f32> = p.get("sigma", "a noise sigma from 0 to 255")?;
    if let Some(s) = sigma {
        regen::corrupt::Sigma::Fixed(s).validate()?;
    }
    let kernel = regen::corrupt::blur::known_kernel(
        None,
        p.get("blur_sigma", "a blur sigma in pixels")?,
        None,
        0.0,
    )?;
    let alpha = match p.text("mask_from") {
        None => false,
        Some("alpha") => true,
        Some(v) => {
            return Err(ApiError::bad(format!(
                "mask_from {v:?}: the only choice is alpha"
            )));
        }
    };
    let wait = p.flag("wait");
    let (image, mask) =
        tokio::task::spawn_blocking(move || decode(&image, mask.as_deref(), alpha, task))
            .await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed"))??;
    let job = submit(
        &app,
        Work::Restore {
            image: Box::new(image),
            task,
            model,
            mask,
            sigma,
            kernel,
        },
    )?;
    if wait {
        return result(&job.finished().await, job.id);
    }
    let mut r = json(&serde_json::json!({
        "id": job.id,
        "status": format!("/api/jobs/{}", job.id),
        "result": format!("/api/jobs/{}/result", job.id),
    }));
    *r.status_mut() = StatusCode::ACCEPTED;
    Ok(r)
}

/// `POST /api/preview`, multipart `image`: the photo as regen reads it (upright), as a
/// PNG, for a browser that cannot show its format (TIFF).
async fn preview(form: Result<Multipart, MultipartRejection>) -> Answer {
    let mut form = form.map_err(|e| {
        ApiError::bad(format!(
            "send the photo as multipart/form-data with the field \"image\" ({})",
            e.body_text()
        ))
    })?;
    let mut image = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("image") => image = Some(field.bytes().await.map_err(multipart_error)?),
            n => {
                return Err(ApiError::bad(format!(
                    "unknown field {:?}; send image",
                    n.unwrap_or("")
                )));
            }
        }
    }
    let image =
        image.ok_or_else(|| ApiError::bad("no photo: send it as the multipart field \"image\""))?;
    let bytes = tokio::task::spawn_blocking(move || {
        let (img, _) = decode(&image, None, false, Task::Denoise)?;
        img.encode_png(&regen::data::SaveOptions::default())
            .map_err(ApiError::from)
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "decoding failed"))??;
    Ok(png(bytes))
}

/// The photo and, for inpainting, its mask, each checked against the pixel limit from its
/// header before it is decoded.
fn decode(
    image: &[u8],
    mask: Option<&[u8]>,
    alpha: bool,
    task: Task,
) -> Result<(Image, Option<Vec<f32>>), ApiError> {
    let read = |bytes: &[u8], what: &str| -> Result<Image, ApiError> {
        let (w, h) = Image::dimensions(bytes).map_err(|e| ApiError::bad(format!("{what}: {e}")))?;
        let limit = regen::data::max_pixels();
        if (w as u64) * (h as u64) > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "{what}: {w} x {h} pixels is more than the limit of {limit} (--max-pixels)"
                ),
            ));
        }
        Image::decode(bytes).map_err(|e| ApiError::bad(format!("{what}: {e}")))
    };
    let mut img = read(image, "image")?;
    let mask = match (task, mask, alpha) {
        (Task::Inpaint, Some(_), true) => {
            return Err(ApiError::bad("give a mask or mask_from=alpha, not both"));
        }
        (Task::Inpaint, Some(m), false) => {
            let m = read(m, "mask")?;
            Some(
                regen::data::mask_from_image(&m, img.height, img.width)
                    .map_err(|e| ApiError::bad(format!("mask: {e}")))?,
            )
        }
        (Task::Inpaint, None, true) => {
            let m = regen::data::mask_from_alpha(&img)
                .ok_or_else(|| ApiError::bad("mask_from=alpha: the photo has no alpha channel"))?;
            if !m.iter().any(|&v| v > 0.5) {
                return Err(ApiError::bad(
                    "mask_from=alpha: the photo has no transparent pixels to fill",
                ));
            }
            // The filled photo is opaque: its alpha was the mask.
            let c = img.color_channels();
            img.data.truncate(c * img.height * img.width);
            img.channels = c;
            Some(m)
        }
        (Task::Inpaint, None, false) => {
            return Err(ApiError::bad(
                "inpainting needs a mask: the field \"mask\" (white = missing) or mask_from=alpha",
            ));
        }
        (t, Some(_), _) | (t, None, true) => {
            return Err(ApiError::bad(format!(
                "a mask is for task inpaint, not {t}"
            )));
        }
        (_, None, false) => None,
    };
    Ok((img, mask))
}

fn submit(app: &App, work: Work) -> Result<Arc<Job>, ApiError> {
    app.jobs.submit(work).map_err(|full| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "busy: {} jobs are already waiting or running; try again later",
                full.0
            ),
        )
    })
}

/// A finished job's answer: its PNG, or why there is none.
fn result(state: &JobState, id: u64) -> Answer {
    match state {
        JobState::Done(bytes) => Ok(png(bytes.to_vec())),
        JobState::Failed {
            user: true,
            message,
        } => Err(ApiError::bad(message.clone())),
        JobState::Failed {
            user: false,
            message,
        } => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            message.clone(),
        )),
        JobState::Cancelled => Err(ApiError::new(
            StatusCode::GONE,
            format!("job {id} was cancelled"),
        )),
        JobState::Queued | JobState::Running => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} has not finished; GET /api/jobs/{id} says how far it is"),
        )),
    }
}

fn find_job(app: &App, id: &str) -> Result<Arc<Job>, ApiError> {
    let n: u64 = id
        .parse()
        .map_err(|_| ApiError::bad(format!("job {id:?}: job numbers are whole numbers")))?;
    app.jobs.get(n).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no job {n} (finished jobs are kept for a while only)"),
        )
    })
}

async fn job_status(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Answer {
    let id = path(id)?;
    Ok(json(&find_job(&app, &id)?.status()))
}

async fn job_result(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Answer {
    let id = path(id)?;
    let job = find_job(&app, &id)?;
    result(&job.state(), job.id)
}

async fn job_cancel(State(app): State<App>, id: Result<Path<String>, PathRejection>) -> Answer {
    let id = path(id)?;
    let job = find_job(&app, &id)?;
    job.cancel();
    Ok(json(&job.status()))
}

/// A generative model named in `p`.
fn generative(app: &App, p: &Params) -> Result<(String, usize), ApiError> {
    let name = p.text("model").ok_or_else(|| {
        ApiError::bad("model: required (a VAE or GAN; GET /api/models lists them)")
    })?;
    let e = app
        .models
        .find(name, Want::Generate)
        .ok_or_else(|| ApiError::bad(format!("model {name:?}: no such VAE or GAN")))?;
    Ok((e.spec.clone(), e.classes))
}

fn class(p: &Params, classes: usize) -> Result<Option<usize>, ApiError> {
    let c: Option<usize> = p.get("class", "a class number")?;
    match (c, classes) {
        (Some(c), 0) => Err(ApiError::bad(format!(
            "class {c}: this model is unconditional"
        ))),
        (Some(c), k) if c >= k => Err(ApiError::bad(format!(
            "class {c}: this model has classes 0 to {}",
            k - 1
        ))),
        _ => Ok(c),
    }
}

/// `GET /api/generate?model=M&count=N&class=C&seed=S`: the grid of samples, as
/// `regen generate --grid` draws it.
async fn generate(
    State(app): State<App>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    let p = Params::from_query(query)?;
    p.only(&["model", "count", "class", "seed"])?;
    let (model, classes) = generative(&app, &p)?;
    let count: usize = p
        .get("count", "a number of samples from 1 to 256")?
        .unwrap_or(16);
    if !(1..=256).contains(&count) {
        return Err(ApiError::bad(format!("count {count}: must be 1 to 256")));
    }
    let work = Work::Sample {
        model,
        count,
        class: class(&p, classes)?,
        seed: p.get("seed", "a whole number")?.unwrap_or(0),
    };
    let job = submit(&app, work)?;
    result(&job.finished().await, job.id)
}

/// `GET /api/interpolate?model=M&seed=S&a=I&b=J&t=T&class=C`: the image a fraction `t` of
/// the way between samples `a` and `b` of the grid drawn with seed `S`.
async fn interpolate(
    State(app): State<App>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Answer {
    let p = Params::from_query(query)?;
    p.only(&["model", "seed", "a", "b", "t", "class"])?;
    let (model, classes) = generative(&app, &p)?;
    let index = |k: &str| -> Result<usize, ApiError> {
        let i: usize = p.get(k, "a sample number from 0 to 255")?.unwrap_or(0);
        if i > 255 {
            return Err(ApiError::bad(format!("{k} {i}: must be 0 to 255")));
        }
        Ok(i)
    };
    let t: f64 = p.get("t", "a number from 0 to 1")?.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&t) {
        return Err(ApiError::bad(format!("t {t}: must be 0 to 1")));
    }
    let work = Work::Between {
        model,
        seed: p.get("seed", "a whole number")?.unwrap_or(0),
        a: index("a")?,
        b: index("b")?,
        t,
        class: class(&p, classes)?,
    };
    let job = submit(&app, work)?;
    result(&job.finished().await, job.id)
}

fn runs_root(app: &App) -> Result<Arc<std::path::PathBuf>, ApiError> {
    app.runs.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no runs folder: start regen serve with --runs DIR",
        )
    })
}

async fn runs(State(app): State<App>) -> Answer {
    let root = runs_root(&app)?;
    Ok(json(&regen::runs::list(&root)?))
}

async fn run(State(app): State<App>, name: Result<Path<String>, PathRejection>) -> Answer {
    let name = path(name)?;
    let root = runs_root(&app)?;
    Ok(json(&regen::runs::read(&root, &name)?))
}

async fn run_image(
    State(app): State<App>,
    parts: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (name, image) = path(parts)?;
    let root = runs_root(&app)?;
    Ok(png(regen::runs::image(&root, &name, &image)?))
}
