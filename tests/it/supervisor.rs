//! A daemon loop that panics is logged with its name, counted in `/metrics` and started
//! again, while the other loops go on delivering.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use credit_gateway::config::Settings;
use credit_gateway::daemon::{Options, run_with_options};
use credit_gateway::sim::sample::SampleItem;
use credit_gateway::sim::sandbox::platforms::SandboxOptions;
use credit_gateway::store::Store;
use credit_gateway::supervisor::LoopFactory;
use futures_util::FutureExt as _;
use tracing::instrument::WithSubscriber as _;

use crate::support::*;

/// What the daemon logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_loop_is_started_again_while_the_others_go_on_delivering() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let probe = Settings::load(&repo().join("config/gateway.toml")).unwrap();
    let sandbox = credit_gateway::sim::sandbox::platforms::start(SandboxOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        subjects: None,
        exchange: None,
        secrets: Default::default(),
        catalogue: Arc::new(probe.catalogue.clone()),
    })
    .await
    .expect("sandbox starts");
    let config = two_departments_config(root);
    let dests = root.join("config/destinations");
    std::fs::remove_file(dests.join("national.toml")).unwrap();
    let provincial = std::fs::read_to_string(dests.join("provincial.toml")).unwrap();
    let url = format!("http://{}/platforms/provincial/json", sandbox.addr());
    std::fs::write(
        dests.join("provincial.toml"),
        provincial.replace("http://127.0.0.1:8090/platforms/provincial/json", &url),
    )
    .unwrap();
    let settings = Settings::load(&config).unwrap_or_else(|e| panic!("{e}"));
    let store = Store::connect(&settings.gateway.database_url).await.unwrap();
    let ops = credit_gateway::web::auth::add_user(
        &store,
        &settings.departments,
        "ops",
        "ops",
        None,
        None,
        chrono::Utc::now(),
    )
    .await
    .unwrap();

    // A loop that panics on its first run and then waits for stop like the others.
    let (runs_tx, mut runs) = tokio::sync::watch::channel(0u32);
    let fault: LoopFactory = Arc::new(move |mut stop| {
        let run = {
            runs_tx.send_modify(|n| *n += 1);
            *runs_tx.borrow()
        };
        async move {
            if run == 1 {
                panic!("注入的故障：第 {run} 次运行");
            }
            let _ = stop.wait_for(|s| *s).await;
        }
        .boxed()
    });
    let options = Options { extra_loops: vec![("test:fault".to_string(), fault)] };

    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = run_with_options(
        &config,
        credit_gateway::clock::Clock::real(),
        async {
            let _ = stop_rx.await;
        },
        move |addr| {
            let _ = addr_tx.send(addr);
        },
        options,
    )
    .with_subscriber(subscriber);

    let check = async {
        let addr = addr_rx.await.expect("the dashboard listens");
        tokio::time::timeout(Duration::from_secs(60), runs.wait_for(|n| *n >= 2))
            .await
            .expect("the panicked loop is started again")
            .unwrap();

        // Records ingested after the panic are still delivered by the destination's loop.
        let accepted = ingest_sample(&settings, &store, root, "market-penalties", SampleItem::Penalties, 20).await;
        assert!(accepted > 0);
        let start = std::time::Instant::now();
        loop {
            let counts = store.delivery_counts().await.unwrap();
            // Penalties of 2024 whose publicity period already ended are not pushed (expired).
            let delivered: i64 = counts
                .iter()
                .filter(|(d, s, _)| d == "provincial" && (s == "accepted" || s == "expired"))
                .map(|(_, _, n)| n)
                .sum();
            if delivered == accepted as i64 {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "not delivered: {counts:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        credit_gateway::connector::http::install_crypto_provider();
        let metrics = reqwest::Client::new()
            .get(format!("http://{addr}/metrics"))
            .bearer_auth(&ops.api_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("# TYPE credit_gateway_task_panics_total counter"), "{metrics}");
        assert!(metrics.contains("credit_gateway_task_panics_total{task=\"test:fault\"} 1\n"), "{metrics}");
        assert!(metrics.contains("credit_gateway_task_panics_total{task=\"delivery:provincial\"} 0\n"), "{metrics}");
        assert!(metrics.contains("credit_gateway_task_panics_total{task=\"connector:market-penalties\"} 0\n"));
        let _ = stop_tx.send(());
    };
    let (result, ()) = tokio::join!(daemon, check);
    result.unwrap();
    assert_eq!(*runs.borrow(), 2, "a loop that returned on stop is not started again");

    let log = log.text();
    let line = log.lines().find(|l| l.contains("task panicked")).unwrap_or_else(|| panic!("no panic logged:\n{log}"));
    assert!(line.contains("task=test:fault") && line.contains("注入的故障：第 1 次运行"), "{line}");
    assert!(log.contains("task started again after a panic"), "{log}");
    store.close().await;
    sandbox.shutdown().await;
}
