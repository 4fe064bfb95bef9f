//! The `gridmap` command: a thin shell over the library. No logic lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use gridmap::api::{self, ApiConfig, AppState};
use gridmap::generate::{generate, GenParams};
use gridmap::index::{Live, Snapshot};
use gridmap::store::{self, Store};

/// gridmap: urban grid governance (网格化管理) on a map.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (API and web map).
    Serve(ServeArgs),
    /// Generate a synthetic district (the default Karamay data, or a bigger city with --grids).
    Generate(GenerateArgs),
}

#[derive(Args)]
struct StoreArgs {
    /// PostGIS connection URL (postgres://...). Without it, the embedded GeoPackage is used.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// The embedded GeoPackage file, created from the built-in Karamay data on first start
    /// when it does not exist. Ignored when DATABASE_URL is set.
    #[arg(long, env = "GRIDMAP_GPKG", default_value = "gridmap.gpkg")]
    gpkg: PathBuf,
    /// Seed a new GeoPackage from this GeoJSON directory (as written by `gridmap generate`)
    /// instead of the built-in Karamay data.
    #[arg(long, env = "GRIDMAP_SEED_DIR")]
    seed_dir: Option<PathBuf>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GRIDMAP_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    store: StoreArgs,
    /// Largest request body for ordinary routes, in KiB.
    #[arg(long, env = "GRIDMAP_MAX_BODY_KIB", default_value_t = 1024)]
    max_body_kib: usize,
    /// Largest body of POST /api/locate, in MiB.
    #[arg(long, env = "GRIDMAP_MAX_BATCH_MIB", default_value_t = 64)]
    max_batch_mib: usize,
    /// Most points in one POST /api/locate.
    #[arg(long, env = "GRIDMAP_MAX_BATCH_POINTS", default_value_t = 1_000_000)]
    max_batch_points: usize,
}

#[derive(Args)]
struct GenerateArgs {
    /// Directory to write <layer>.geojson, staff.json and district.json into.
    #[arg(long, default_value = "data/karamay")]
    out: PathBuf,
    /// Random seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = GenParams::default().seed)]
    seed: u64,
    /// Make a bigger city with about this many grids (for benchmarks) instead of Karamay.
    #[arg(long)]
    grids: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Index(#[from] gridmap::index::IndexError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

async fn open_store(args: &StoreArgs) -> Result<Arc<dyn Store>, CliError> {
    Ok(match &args.database_url {
        Some(url) => {
            info!("store: PostGIS");
            Arc::new(store::postgis::PgStore::connect(url).await?)
        }
        None => {
            info!(path = %args.gpkg.display(), "store: embedded GeoPackage");
            let seed_dir = args.seed_dir.clone();
            let seed = move || match seed_dir {
                Some(dir) => store::files::read_dir(&dir),
                None => store::seed::karamay(),
            };
            Arc::new(store::gpkg::GpkgStore::open_or_seed(&args.gpkg, seed).await?)
        }
    })
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let store = open_store(&args.store).await?;
    let started = std::time::Instant::now();
    let data = store.load().await?;
    let snapshot = Snapshot::build_blocking(data, 1).await?;
    info!(elapsed_ms = started.elapsed().as_millis() as u64, counts = ?snapshot.counts(), "snapshot built");
    let config = ApiConfig {
        max_body_bytes: args.max_body_kib << 10,
        max_batch_body_bytes: args.max_batch_mib << 20,
        max_batch_points: args.max_batch_points,
    };
    let state = AppState::new(Live::new(snapshot), store, config);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!("listening on http://{}", listener.local_addr()?);
    api::serve(listener, state, shutdown_signal()).await?;
    info!("shut down");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    info!("shutdown requested; finishing in-flight requests");
}

fn run_generate(args: GenerateArgs) -> Result<(), CliError> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<24} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let params = GenParams { seed: args.seed, grids: args.grids };
    let data = generate(&params, &|stage: &str, done: u64, total: u64| {
        bar.set_message(stage.to_string());
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_with_message("generated");
    store::files::write_dir(&args.out, &data)?;
    println!(
        "wrote {}: {} subdistricts, {} communities, {} grids, {} compounds, {} gates, {} buildings, {} entrances, {} responders, {} staff",
        args.out.display(),
        data.subdistricts.len(),
        data.communities.len(),
        data.grids.len(),
        data.compounds.len(),
        data.access_points.len(),
        data.buildings.len(),
        data.entrances.len(),
        data.responders.len(),
        data.staff.len()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "gridmap=info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Generate(args) => tokio::task::block_in_place(|| run_generate(args)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gridmap: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
