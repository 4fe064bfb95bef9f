//! The database goes away and comes back: gridmap keeps answering reads from its last snapshot,
//! says "degraded", refuses writes cleanly, reconnects by itself and catches up on the change
//! it missed.
//!
//! The test really stops and restarts PostgreSQL, so it makes a private throw-away cluster
//! (`initdb` into a temporary directory, `pg_ctl start/stop` on a free port, run as the
//! `postgres` user when the test runs as root) instead of touching the shared one other tests
//! use. PostGIS comes from the system-wide installation (`scripts/setup-postgis`).
//!
//! The change made during the outage is written while the cluster listens on its Unix socket
//! only, where the test can reach it and gridmap (on TCP) cannot: the notification of that change
//! is certainly lost to gridmap, so seeing it afterwards proves the catch-up, not luck.
//!
//! Needs PostgreSQL's server programs (`initdb`, `pg_ctl`; Debian `postgresql-15`) and PostGIS
//! (`postgresql-15-postgis-3`); without them it fails, saying what to install.

#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use geo::InteriorPoint;
use gridmap::generate::{generate, GenParams};
use gridmap::model::{Dataset, LayerKind};
use gridmap::store::{files, StoreError};
use process::{free_port, gridmap, gridmap_ok, text, wait_for, Server, StoreAt};

const INSTALL: &str = "install PostgreSQL and PostGIS: run scripts/setup-postgis as root \
                       (or `apt-get install postgresql-15 postgresql-15-postgis-3`)";

/// A private PostgreSQL cluster in a temporary directory; stopped and deleted when dropped.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Run the server programs as the `postgres` user (we are root, which PostgreSQL refuses).
    as_postgres: bool,
}

impl Cluster {
    /// `initdb` a new cluster whose superuser is `gridmap`, trusted on loopback and socket.
    fn create() -> Cluster {
        let bin = server_bin_dir();
        let as_postgres = whoami_uid() == 0;
        let dir = tempfile::tempdir().expect("temp dir");
        if as_postgres {
            let (uid, gid) = (id_of("-u"), id_of("-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("give the cluster directory to postgres");
        }
        let cluster = Cluster { bin, dir, port: free_port(), as_postgres };
        let data = cluster.data_dir();
        cluster.run("initdb", &["-D", path_str(&data), "-U", "gridmap", "-A", "trust", "-E", "UTF8", "--no-sync"]);
        cluster
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the server: on 127.0.0.1 and the socket when `tcp`, on the socket only otherwise.
    fn start(&self, tcp: bool) {
        let listen = if tcp { "127.0.0.1" } else { "''" };
        let options = format!(
            "-p {} -k {} -c listen_addresses={listen} -c fsync=off -c synchronous_commit=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", path_str(&data), "-l", path_str(&log), "-w", "-t", "60", "-o", &options, "start"]);
    }

    /// Stops the server; `fast` ends client connections, as an administrator or a crash would.
    fn stop(&self) {
        let data = self.data_dir();
        self.run("pg_ctl", &["-D", path_str(&data), "-m", "fast", "-w", "-t", "60", "stop"]);
    }

    /// The URL over TCP.
    fn url(&self) -> String {
        format!("postgres://gridmap@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL over the Unix socket in the cluster directory.
    fn socket_url(&self) -> String {
        format!("postgres://gridmap@localhost/postgres?host={}&port={}", self.dir.path().display(), self.port)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}; {INSTALL}"));
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(out.status.success(), "{program} {} failed:\n{}\nserver log:\n{log}", args.join(" "), text(&out));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Never leave a postmaster behind, even when the test failed half-way.
        let data = self.data_dir();
        let _ = self.command("pg_ctl").args(["-D", path_str(&data), "-m", "immediate", "-w", "stop"]).output();
    }
}

/// Where `initdb` and `pg_ctl` are: `pg_config --bindir`, or Debian's versioned directory.
fn server_bin_dir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .max();
    from_pg_config
        .filter(|p| p.join("initdb").exists())
        .or(debian)
        .unwrap_or_else(|| panic!("initdb and pg_ctl (PostgreSQL's server programs) are missing; {INSTALL}"))
}

fn whoami_uid() -> u32 {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric uid")
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("run id");
    assert!(out.status.success(), "there is no postgres user; {INSTALL}");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Writes `data`'s grids layer to `dir/grids.geojson`, for `gridmap import`.
fn grids_file(dir: &Path, data: &Dataset) -> PathBuf {
    let file = dir.join("grids.geojson");
    let text = gridmap::model::geojson::write_feature_collection(data.features(LayerKind::Grids));
    std::fs::write(&file, text).expect("write grids.geojson");
    file
}

fn grid_name(server: &Server, code: &str) -> Option<String> {
    let (status, body) = server.get(&format!("/api/grids/{code}")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&body).ok().filter(|_| status == 200)?;
    v["properties"]["name"].as_str().map(str::to_string)
}

fn status(server: &Server) -> String {
    server.get_json("/healthz")["status"].as_str().unwrap_or_default().to_string()
}

#[test]
fn reads_survive_a_database_outage_and_missed_changes_are_caught_up() {
    let cluster = Cluster::create();
    cluster.start(true);
    let work = tempfile::tempdir().expect("temp dir");
    let mut data = generate(&GenParams { seed: 31, grids: Some(30) }, &|_, _, _| {});
    let src = work.path().join("src");
    files::write_dir(&src, &data).expect("write the dataset");
    let tcp = StoreAt::Postgis(cluster.url());
    gridmap_ok(&tcp, &["import", path_str(&src)]);

    let server = Server::start(&tcp, &work.path().join("serve.log"), Duration::from_secs(60));
    let code = data.grids[0].code.to_string();
    let inside = data.grids[0].geometry.interior_point().expect("a grid has an interior point");
    let locate = format!("/api/locate?lon={}&lat={}", inside.x(), inside.y());
    let located = |server: &Server| server.get_json(&locate)["grid"]["code"].as_str().map(str::to_string);
    assert_eq!(located(&server).as_deref(), Some(code.as_str()), "the point lies in grid 0");
    assert_eq!(status(&server), "ok");

    // --- The database goes away. -------------------------------------------------------------
    cluster.stop();
    let degraded = wait_for(Duration::from_secs(15), || (status(&server) == "degraded").then_some(()));
    assert!(degraded.is_some(), "/healthz says degraded once the database is gone:\n{}", server.log_tail());
    assert_eq!(grid_name(&server, &code).as_deref(), Some(data.grids[0].name.as_str()), "reads still answer");
    assert_eq!(located(&server).as_deref(), Some(code.as_str()), "locate still answers from the snapshot");

    // Writes fail cleanly: the CLI says why and that nothing was written; the API maps the
    // same store error to 503 problem+json.
    data.grids[0].name = "停电时改名的网格".into();
    let file = grids_file(work.path(), &data);
    let started = Instant::now();
    let out = gridmap(&tcp, &["import", path_str(&file)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an import into a stopped database fails:\n{}", text(&out));
    assert!(
        stderr.contains("nothing was written") && stderr.contains("unavailable"),
        "the message says the database is unavailable and nothing was written:\n{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "it fails in bounded time, not hangs");
    let response = gridmap::api::ApiError::from(StoreError::Unavailable("stopped".into())).into_response();
    assert_eq!(response.status(), 503, "a write that meets an unavailable store is 503");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");

    // --- A change gridmap cannot hear of: the database is up on its socket only. ---------------
    cluster.start(false);
    gridmap_ok(&StoreAt::Postgis(cluster.socket_url()), &["import", path_str(&file)]);
    cluster.stop();
    assert_ne!(grid_name(&server, &code).as_deref(), Some(data.grids[0].name.as_str()), "not heard of yet");

    // --- The database is back: gridmap reconnects and catches up. ------------------------------
    let back = Instant::now();
    cluster.start(true);
    let started_in = back.elapsed();
    let caught_up = wait_for(Duration::from_secs(20), || {
        (grid_name(&server, &code).as_deref() == Some(&data.grids[0].name)).then_some(())
    });
    assert!(caught_up.is_some(), "the change made during the outage is served after it:\n{}", server.log_tail());
    let catch_up = back.elapsed();
    let healthy = wait_for(Duration::from_secs(10), || (status(&server) == "ok").then_some(()));
    assert!(healthy.is_some(), "/healthz is ok again:\n{}", server.log_tail());

    // And it listens again: a new change arrives by notification.
    data.grids[0].name = "恢复后改名的网格".into();
    let file = grids_file(work.path(), &data);
    gridmap_ok(&tcp, &["import", path_str(&file)]);
    let committed = Instant::now();
    let heard = wait_for(Duration::from_secs(5), || {
        (grid_name(&server, &code).as_deref() == Some(&data.grids[0].name)).then_some(())
    });
    assert!(heard.is_some(), "a change after the outage arrives:\n{}", server.log_tail());
    let latency = committed.elapsed();
    println!(
        "caught up {catch_up:?} after the restart began (the server took {started_in:?} to start); \
         next change served {latency:?} after its commit"
    );
    let log = server.log_tail();
    assert!(log.contains("lost the database"), "the loss is logged:\n{log}");
    assert!(latency < Duration::from_secs(1), "after reconnecting, changes arrive by notification ({latency:?})");
    let health = server.get_json("/healthz");
    // Two for the staged start-up (regions, then everything), one per change.
    assert_eq!(health["snapshot"]["generation"], 4, "one snapshot per change, none lost, none twice: {health}");
}
