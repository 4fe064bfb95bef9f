//! The `gridmap` command: a thin shell over the library. No logic lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

use gridmap::api::{self, ApiConfig, AppState};
use gridmap::auth::{self, AuthConfig, AuthError, NewToken, RateLimit};
use gridmap::edit::{check_map, survey, violations_json, RuleConfig, Severity};
use gridmap::generate::{generate, GenParams};
use gridmap::index::Snapshot;
use gridmap::store::transfer::{self, Format, Layer, Stage, TransferError};
use gridmap::store::{self, Store, StoreError};
use gridmap::sync;

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
    /// Import GeoJSON or a GeoPackage into the store: everything is checked first, every
    /// problem is reported, and nothing is written unless all is well (one transaction).
    Import(ImportArgs),
    /// Export the store's current data as a GeoJSON directory or a GeoPackage.
    Export(ExportArgs),
    /// Check every current grid against the rules of grid drawing (no overlaps, no gaps, inside
    /// its community, no cut buildings, ...), as an edit would be: for data that came in by an
    /// import or was edited in QGIS straight in the database. Exit status 0: no errors (warnings
    /// allowed); 1: some rule is broken; 2: the check could not run.
    Check(CheckArgs),
    /// Manage API tokens (create, list, revoke) in the store `serve` uses.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token and print it (once: only its hash is stored).
    Create(TokenCreateArgs),
    /// List every token (never the secret or its hash).
    List(TokenStoreArgs),
    /// Revoke a token by id (effective at once on new servers, within 5 s on running ones).
    Revoke(TokenRevokeArgs),
}

#[derive(Args)]
struct TokenStoreArgs {
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
struct TokenCreateArgs {
    /// Who the token is for (recorded in the audit log and the edit history).
    #[arg(long)]
    name: String,
    /// viewer, coordinator, planner or admin.
    #[arg(long)]
    role: String,
    /// Limit the token to this subdistrict or community code.
    #[arg(long)]
    scope: Option<String>,
    /// When the token stops working: a date (YYYY-MM-DD, 00:00 UTC) or an RFC 3339 instant.
    #[arg(long)]
    expires: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
struct TokenRevokeArgs {
    /// The token's id (see `gridmap token list`).
    id: i64,
    #[command(flatten)]
    store: StoreArgs,
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
    /// Threads that serve HTTP connections, each keeping its connections from accept to close
    /// (default: one per core); 0 serves them on the shared multi-threaded runtime instead.
    #[arg(long, env = "GRIDMAP_HTTP_THREADS")]
    http_threads: Option<usize>,
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
    /// Refuse requests without a token (401), except /healthz and the web app's files.
    #[arg(long, env = "GRIDMAP_NO_ANONYMOUS")]
    no_anonymous: bool,
    /// Sustained requests per second per token (per peer address without a token); 0: no limit.
    #[arg(long, env = "GRIDMAP_RATE_LIMIT", default_value_t = 1_000.0)]
    rate_limit: f64,
    /// Requests a caller may make at once above the sustained rate.
    #[arg(long, env = "GRIDMAP_RATE_BURST", default_value_t = 5_000)]
    rate_burst: u32,
    /// Seconds after which a request still running is answered 503.
    #[arg(long, env = "GRIDMAP_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    request_timeout_secs: u64,
}

#[derive(Args)]
struct ImportArgs {
    /// What to import: a directory as written by `gridmap generate` or `gridmap export` (every
    /// layer), a GeoPackage written by `gridmap export` (every layer), or one GeoJSON
    /// FeatureCollection (`grids.geojson`, ...) or `staff.json`, which replaces that layer only.
    file: PathBuf,
    /// Replace only this layer (subdistricts, communities, grids, compounds, access_points,
    /// buildings, entrances, responders, staff). For a single GeoJSON file, the default is the
    /// layer its file name says.
    #[arg(long, value_parser = parse_layer)]
    layer: Option<Layer>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
struct ExportArgs {
    /// The directory (GeoJSON) or file (GeoPackage) to write.
    path: PathBuf,
    /// `geojson` (a directory of <layer>.geojson, staff.json, district.json) or `gpkg` (one
    /// GeoPackage file). Default: `gpkg` when PATH ends in .gpkg, else `geojson`.
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Replace an existing GeoPackage file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Args)]
struct CheckArgs {
    /// Also write every violation to this file as a GeoJSON FeatureCollection (EPSG:4326;
    /// properties rule, severity, message_zh, message_en, codes), to open in QGIS over the grids.
    #[arg(long)]
    out: Option<PathBuf>,
    /// List every warning too (by default warnings are only counted; errors are always listed).
    #[arg(long)]
    warnings: bool,
    /// Language of the listed messages.
    #[arg(long, value_enum, default_value = "en")]
    lang: LangArg,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum LangArg {
    En,
    Zh,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Geojson,
    Gpkg,
}

fn parse_layer(name: &str) -> Result<Layer, String> {
    Layer::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Layer::all().map(Layer::name).collect();
        format!("unknown layer {name:?}; one of {}", names.join(", "))
    })
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
    Store(#[from] StoreError),
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("import failed, nothing was written: {0}")]
    Import(TransferError),
    #[error("export failed: {0}")]
    Export(TransferError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot index the stored data: {0}")]
    Index(#[from] gridmap::index::IndexError),
    #[error("the grids break the rules of grid drawing: {0}")]
    RulesBroken(String),
    #[error("{0}")]
    Output(String),
}

/// What to do when the embedded GeoPackage holds no data yet.
#[derive(Clone, Copy, PartialEq)]
enum OnEmpty {
    /// Fill it from the seed (the server's first start).
    Seed,
    /// Leave it empty (an import fills it).
    Keep,
    /// Refuse: there must already be a GeoPackage (an export reads it).
    MustExist,
}

async fn open_store(args: &StoreArgs, on_empty: OnEmpty) -> Result<Arc<dyn Store>, StoreError> {
    // An empty DATABASE_URL (as `DATABASE_URL= gridmap ...` gives) means none.
    Ok(match args.database_url.as_deref().filter(|url| !url.is_empty()) {
        Some(url) => {
            info!("store: PostGIS");
            Arc::new(store::postgis::PgStore::connect(url).await?)
        }
        None => {
            info!(path = %args.gpkg.display(), "store: embedded GeoPackage");
            match on_empty {
                OnEmpty::Seed => {
                    let seed_dir = args.seed_dir.clone();
                    let seed = move || match seed_dir {
                        Some(dir) => store::files::read_dir(&dir),
                        None => store::seed::karamay(),
                    };
                    Arc::new(store::gpkg::GpkgStore::open_or_seed(&args.gpkg, seed).await?)
                }
                OnEmpty::MustExist if !args.gpkg.exists() => {
                    return Err(StoreError::File {
                        path: args.gpkg.display().to_string(),
                        message: "no such GeoPackage; set DATABASE_URL or --gpkg to the store to use".into(),
                    })
                }
                OnEmpty::Keep | OnEmpty::MustExist => Arc::new(store::gpkg::GpkgStore::open(&args.gpkg).await?),
            }
        }
    })
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let store = open_store(&args.store, OnEmpty::Seed).await?;
    let (live, applied) = sync::start_staged(&*store).await?;
    let config = ApiConfig {
        max_body_bytes: args.max_body_kib << 10,
        max_batch_body_bytes: args.max_batch_mib << 20,
        max_batch_points: args.max_batch_points,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs.max(1)),
        auth: AuthConfig {
            allow_anonymous: !args.no_anonymous,
            rate_limit: (args.rate_limit > 0.0)
                .then_some(RateLimit { per_second: args.rate_limit, burst: args.rate_burst.max(1) }),
        },
    };
    let state = AppState::new(live.clone(), store.clone(), config);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    info!("listening on http://{}", listener.local_addr()?);
    // Other processes' changes (PostGIS only) become new snapshots until the server stops.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(sync::follow(store, live, applied, async {
        let _ = stopped.await;
    }));
    let http_threads = args.http_threads.unwrap_or_else(api::server::default_threads);
    api::serve_with(listener, state, shutdown_signal(), http_threads).await?;
    let _ = stop.send(());
    let _ = follower.await;
    info!("shut down");
    Ok(())
}

async fn run_import(args: ImportArgs) -> Result<(), CliError> {
    let store = open_store(&args.store, OnEmpty::Keep).await.map_err(|e| CliError::Import(e.into()))?;
    let bar = ProgressBar::new(Stage::COUNT);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let progress = |stage: Stage| {
        bar.set_position(stage.number());
        bar.set_message(stage.to_string());
    };
    let result = transfer::import(&*store, &args.file, args.layer, &progress).await;
    bar.finish_and_clear();
    let imported = result.map_err(CliError::Import)?;
    let layers: Vec<&str> = imported.layers.iter().map(|l| l.name()).collect();
    println!("imported {} into {}: {}", layers.join(", "), store.kind(), summary(&imported.data));
    Ok(())
}

async fn run_export(args: ExportArgs) -> Result<(), CliError> {
    let store = open_store(&args.store, OnEmpty::MustExist).await.map_err(|e| CliError::Export(e.into()))?;
    let format = match args.format {
        Some(FormatArg::Geojson) => Format::GeoJson,
        Some(FormatArg::Gpkg) => Format::Gpkg,
        None => Format::from_path(&args.path),
    };
    let data = transfer::export(&*store, format, &args.path, args.force).await.map_err(CliError::Export)?;
    println!("exported {} from {} to {}", summary(&data), store.kind(), args.path.display());
    Ok(())
}

async fn run_check(args: CheckArgs) -> Result<(), CliError> {
    let store = open_store(&args.store, OnEmpty::MustExist).await?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<22} [{bar:30}] {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message("loading");
    let started = std::time::Instant::now();
    let data = store.load().await?;
    let loaded = started.elapsed();
    bar.set_message("indexing");
    let snap = Snapshot::build_blocking(data, 0).await?;
    let indexed = started.elapsed();
    bar.set_message("checking communities");
    let violations = tokio::task::block_in_place(|| {
        check_map(&snap, &RuleConfig::default(), &|done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
    });
    bar.finish_and_clear();
    info!(
        load_ms = loaded.as_millis() as u64,
        index_ms = (indexed - loaded).as_millis() as u64,
        check_ms = (started.elapsed() - indexed).as_millis() as u64,
        "map checked"
    );
    if let Some(path) = &args.out {
        let json = violations_json(&violations).to_string();
        std::fs::write(path, json).map_err(|e| CliError::Output(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut report = String::new();
    for v in violations.iter().filter(|v| args.warnings || v.severity == Severity::Error) {
        let codes: Vec<String> = v.codes.iter().map(|c| c.to_string()).collect();
        let message = match args.lang {
            LangArg::En => &v.message_en,
            LangArg::Zh => &v.message_zh,
        };
        report += &format!("{:<7} {:<18} {:<40} {message}\n", v.severity.as_str(), v.rule, codes.join(","));
    }
    let tally = survey::tally(&violations);
    report += &format!(
        "checked {} grids in {} communities of {}: {tally}\n",
        snap.data.grids.len(),
        snap.data.communities.len(),
        store.kind()
    );
    print_report(&report)?;
    if violations.iter().any(|v| v.severity == Severity::Error) {
        return Err(CliError::RulesBroken(tally));
    }
    Ok(())
}

/// Prints `text`; a reader that stops early (`gridmap check | head`) is not an error.
fn print_report(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Feature counts of a dataset, for messages.
fn summary(data: &gridmap::model::Dataset) -> String {
    format!(
        "{} subdistricts, {} communities, {} grids, {} compounds, {} gates, {} buildings, {} entrances, {} responders, {} staff",
        data.subdistricts.len(),
        data.communities.len(),
        data.grids.len(),
        data.compounds.len(),
        data.access_points.len(),
        data.buildings.len(),
        data.entrances.len(),
        data.responders.len(),
        data.staff.len()
    )
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

async fn run_token(command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::Create(args) => {
            let store = open_store(&args.store, OnEmpty::Seed).await?;
            let role = auth::token::parse_role(&args.role)?;
            let scope = match &args.scope {
                Some(s) => Some(gridmap::model::Code::parse(s).map_err(|e| {
                    AuthError::Invalid(format!("--scope {s:?} is not a subdistrict or community code: {e}"))
                })?),
                None => None,
            };
            let expires_at = args.expires.as_deref().map(auth::token::parse_expiry).transpose()?;
            if expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
                return Err(AuthError::Invalid("--expires is in the past".into()).into());
            }
            let (info, secret) =
                auth::create_token(&*store, NewToken { name: args.name, role, scope, expires_at }).await?;
            eprintln!(
                "created token {} for {:?} ({}{}); it is shown only now, keep it secret:",
                info.id,
                info.name,
                info.role,
                info.scope.as_ref().map(|s| format!(", scope {s}")).unwrap_or_default()
            );
            println!("{secret}");
        }
        TokenCommand::List(args) => {
            let store = open_store(&args.store, OnEmpty::Seed).await?;
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            };
            println!("id\tname\trole\tscope\tcreated\texpires\trevoked\tlast_used");
            for t in auth::list_tokens(&*store).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.role,
                    t.scope.as_ref().map_or("-", |s| s.as_str()),
                    time(Some(t.created_at)),
                    time(t.expires_at),
                    time(t.revoked_at),
                    time(t.last_used_at)
                );
            }
        }
        TokenCommand::Revoke(args) => {
            let store = open_store(&args.store, OnEmpty::Seed).await?;
            let info = auth::revoke_token(&*store, args.id).await?;
            println!("revoked token {} ({:?}); running servers refuse it within 5 s", info.id, info.name);
        }
    }
    Ok(())
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
    println!("wrote {}: {}", args.out.display(), summary(&data));
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
        // Colours only on a terminal: not in log files, journald or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    // `gridmap check` tells "the rules are broken" (1) from "could not check" (2).
    let failure = match cli.command {
        Command::Check(_) => std::process::ExitCode::from(2),
        _ => std::process::ExitCode::FAILURE,
    };
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Generate(args) => tokio::task::block_in_place(|| run_generate(args)),
        Command::Import(args) => run_import(args).await,
        Command::Export(args) => run_export(args).await,
        Command::Check(args) => run_check(args).await,
        Command::Token(command) => run_token(command).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gridmap: {e}");
            match e {
                CliError::RulesBroken(_) => std::process::ExitCode::FAILURE,
                _ => failure,
            }
        }
    }
}
