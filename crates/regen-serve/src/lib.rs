//! `regen serve`: a local web app onto regen. One process serves a page (its assets are
//! compiled in: no CDN, no network) and the HTTP+JSON API that the page uses and scripts
//! can too: restore a photo (denoise, inpaint with a painted or uploaded mask, deblur),
//! sample a generative model, and watch training runs.
//!
//! The web layer only parses requests and answers them; the work is the `regen` library's,
//! run one job at a time on a worker thread ([`jobs`]) behind a bounded queue, so the
//! async runtime never waits on a model. What a request may do is checked first
//! ([`guard`]): loopback by default, the `Host` and `Origin` it comes with, upload size, and
//! the pixel count read from the image header before anything is decoded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use regen::{Error, Result};

mod api;
mod assets;
mod guard;
mod jobs;
mod models;
mod request;

pub use models::{Catalogue, Entry};

/// Where and how to serve.
#[derive(Clone, Debug)]
pub struct Options {
    /// Address and port to listen on (port 0: any free port).
    pub addr: SocketAddr,
    /// The folder whose run folders the runs page shows.
    pub runs: Option<PathBuf>,
    /// A folder of `.safetensors` checkpoints offered beside the shipped models.
    pub models: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    pub max_upload: usize,
    /// Jobs waiting or running at once; more are refused with 429.
    pub queue: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 8320)),
            runs: None,
            models: None,
            max_upload: 64 << 20,
            queue: 8,
        }
    }
}

/// What every request handler shares.
#[derive(Clone)]
struct App {
    jobs: Arc<jobs::Jobs>,
    models: Arc<Catalogue>,
    runs: Option<Arc<PathBuf>>,
    guard: Arc<guard::Guard>,
}

/// A server bound to its address, not yet answering.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    listener: tokio::net::TcpListener,
    app: App,
    addr: SocketAddr,
}

impl Server {
    /// Reads the model catalogue and binds `opts.addr`; errors name what is wrong.
    pub fn bind(opts: &Options) -> Result<Server> {
        if opts.queue == 0 {
            return Err(Error::arg("--queue 0: at least one job must fit"));
        }
        if let Some(runs) = &opts.runs
            && !runs.is_dir()
        {
            return Err(Error::io(
                runs,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        }
        let models = Catalogue::read(opts.models.as_deref())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the async runtime: {e}")))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(opts.addr))
            .map_err(|e| Error::arg(format!("cannot listen on {}: {e}", opts.addr)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("bound address unknown: {e}")))?;
        let app = App {
            jobs: Arc::new(jobs::Jobs::start(opts.queue)),
            models: Arc::new(models),
            runs: opts.runs.clone().map(Arc::new),
            guard: Arc::new(guard::Guard::new(addr, opts.max_upload)),
        };
        Ok(Server {
            runtime,
            listener,
            app,
            addr,
        })
    }

    /// The address it listens on (the port chosen when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers requests until Ctrl-C or SIGTERM.
    pub fn run(self) -> Result<()> {
        let router = api::router(self.app);
        let Server {
            runtime, listener, ..
        } = self;
        runtime
            .block_on(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown())
                    .await
            })
            .map_err(|e| Error::internal(format!("server stopped: {e}")))
    }
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = terminated => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
