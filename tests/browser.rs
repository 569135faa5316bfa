//! End to end in a real browser: headless Chromium driven through WebDriver (chromedriver)
//! against the real server on 127.0.0.1 with the demo data. Needs Debian's `chromium` and
//! `chromium-driver`, so it is ignored by a plain `cargo test`; `.ci/run` installs them and
//! runs it with `cargo test --test browser -- --ignored`.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The current URL once `done` accepts it, or the last one seen after 10 s.
async fn wait_for_url(c: &fantoccini::Client, done: impl Fn(&str) -> bool) -> String {
    let mut url = String::new();
    for _ in 0..100 {
        url = c.current_url().await.unwrap().to_string();
        if done(&url) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    url
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver); CI runs it"]
async fn a_reader_filters_to_ai_opens_the_deepseek_event_and_sees_the_tables_and_chart() {
    // Both rustls back-ends are linked in (sqlx, reqwest, fantoccini): pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = common::test_db().await;
    catalyst::cli::demo::setup(&db.pool, &common::shared_data_dir())
        .await
        .unwrap();

    // The real server on an ephemeral port.
    let (tx, rx) = tokio::sync::oneshot::channel::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pool = db.pool.clone();
    let server = tokio::spawn(async move {
        catalyst::web::serve(
            pool,
            "127.0.0.1:0".parse().unwrap(),
            move |addr| {
                let _ = tx.send(addr);
            },
            async {
                let _ = stop_rx.await;
            },
        )
        .await
        .unwrap();
    });
    let addr = rx.await.unwrap();

    let port = free_port();
    let chromedriver = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let _driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {chromedriver}: {e} (apt-get install chromium-driver)")
            }),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1280,2000",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("chromedriver answers");

    c.goto(&format!("http://{addr}/")).await.unwrap();
    assert_eq!(
        c.title().await.unwrap(),
        "Events ranked by market impact · Catalyst"
    );
    c.find(Locator::Css("select[name=category]"))
        .await
        .unwrap()
        .select_by_value("ai")
        .await
        .unwrap();
    c.find(Locator::Css("form.filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The click starts a navigation; wait for it rather than race it.
    let url = wait_for_url(&c, |u| u.contains("category=ai")).await;
    assert!(url.contains("category=ai"), "{url}");
    c.find(Locator::XPath(
        "//a[contains(., 'DeepSeek R1 triggers AI sell-off')]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_for_url(&c, |u| u.contains("/events/")).await;
    let heading = c
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        heading.starts_with("Crypto market nosedives 6.4%"),
        "{heading}"
    );

    // The category table has the AI row with its CAAR; the CAAR chart drew its lines.
    let rows = c.find_all(Locator::Css("table tr")).await.unwrap();
    let mut ai_row = None;
    for r in rows {
        let text = r.text().await.unwrap();
        if text.starts_with("AI ★") {
            ai_row = Some(text);
            break;
        }
    }
    let ai_row = ai_row.expect("AI row in the category table");
    assert!(ai_row.contains('%'), "{ai_row}");
    let paths = c.find_all(Locator::Css("svg.chart path")).await.unwrap();
    assert!(
        paths.len() >= 3,
        "chart lines and band drawn: {}",
        paths.len()
    );
    let size = c
        .find(Locator::Css("svg.chart"))
        .await
        .unwrap()
        .rectangle()
        .await
        .unwrap();
    assert!(
        size.2 > 300.0 && size.3 > 100.0,
        "chart has a size on screen: {size:?}"
    );

    let png = c.screenshot().await.unwrap();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("deepseek-event.png");
    std::fs::write(&out, &png).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    eprintln!("screenshot: {}", out.display());

    c.close().await.unwrap();
    let _ = stop_tx.send(());
    server.await.unwrap();
}
