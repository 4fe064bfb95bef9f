//! The HTTP floor: gridmap's connection threads (src/api/server.rs) serving one fixed JSON
//! answer of locate's size with no routing, middleware or lookup. What `wrk` measures against it
//! is what HTTP over loopback costs on this machine, the bound for `GET /api/locate`
//! (docs/postgis.md). `cargo run --release --example http_floor -- 127.0.0.1:18113 [threads]`
use axum::Router;

const ANSWER: &str = r#"{"community":{"code":"650203003011","name":"红星社区"},"grid":{"code":"65020300301106","name":"红星社区第六网格"},"point":[84.88,45.6],"staff":[{"force":"community_worker","grids":["65020300301106"],"id":616,"role":"grid_leader"},{"force":"governance_cadre","grids":["65020300301106"],"id":617,"role":"grid_staff"},{"force":"community_police","grids":["65020300301107","65020300301103","65020300301106"],"id":620,"role":"grid_staff"}],"subdistrict":{"code":"650203003","name":"银河路街道"}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18113".into());
    let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
    let app = Router::new().fallback(|| async { ([("content-type", "application/json")], ANSWER) });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("http_floor on http://{addr} with {threads} threads");
    gridmap::api::server::serve_on_threads(listener, app, threads, std::future::pending(), || async {}).await
}
