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

/// What a page looks like at one window size.
#[derive(Debug)]
struct Layout {
    inner_width: f64,
    inner_height: f64,
    scroll_width: f64,
    /// (selector, top, bottom) of the first element each selector finds.
    first: Vec<(String, f64, f64)>,
    /// The smallest rendered size of any visible chart text, in CSS pixels.
    smallest_chart_text: Option<f64>,
}

async fn layout_at(
    c: &fantoccini::Client,
    url: &str,
    width: u32,
    height: u32,
    first: &[&str],
) -> Layout {
    // The window is larger than its viewport by the browser's frame: size the viewport.
    c.set_window_size(width, height).await.unwrap();
    let inner = c
        .execute("return [innerWidth, innerHeight];", vec![])
        .await
        .unwrap();
    let (iw, ih) = (
        inner[0].as_u64().unwrap_or(width.into()) as u32,
        inner[1].as_u64().unwrap_or(height.into()) as u32,
    );
    c.set_window_size(2 * width - iw.min(width), 2 * height - ih.min(height))
        .await
        .unwrap();
    c.goto(url).await.unwrap();
    let v = c
        .execute(
            r#"
            const sels = arguments[0];
            const first = sels.map(s => {
              const el = document.querySelector(s);
              if (!el) return [s, -1, -1];
              const r = el.getBoundingClientRect();
              return [s, r.top, r.bottom];
            });
            let smallest = null;
            for (const svg of document.querySelectorAll("svg")) {
              const box = svg.getBoundingClientRect();
              const vb = svg.viewBox && svg.viewBox.baseVal;
              if (box.width === 0 || !vb || vb.width === 0) continue;
              const scale = box.width / vb.width;
              for (const t of svg.querySelectorAll("text")) {
                const size = parseFloat(t.getAttribute("font-size") || getComputedStyle(t).fontSize) * scale;
                if (smallest === null || size < smallest) smallest = size;
              }
            }
            return [innerWidth, innerHeight, document.documentElement.scrollWidth, first, smallest];
            "#,
            vec![serde_json::json!(first)],
        )
        .await
        .unwrap();
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
    Layout {
        inner_width: f(&v[0]),
        inner_height: f(&v[1]),
        scroll_width: f(&v[2]),
        first: v[3]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| (x[0].as_str().unwrap().to_string(), f(&x[1]), f(&x[2])))
            .collect(),
        smallest_chart_text: v[4].as_f64(),
    }
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver); CI runs it"]
async fn a_reader_filters_to_ai_opens_the_deepseek_event_and_every_page_fits_every_screen() {
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
                     // Overlay scrollbars, as on phones: the layout gets the full width.
                     "--hide-scrollbars",
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
    // The filters sit behind one line: open them, pick AI, apply.
    c.find(Locator::Css("details.filters > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("form.filters select[name=category]"))
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
    // The active filter shows as a chip that removes it.
    let chip = c
        .find(Locator::Css(".chips a.chip"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(chip.starts_with("category: ai"), "{chip}");
    c.find(Locator::XPath(
        "//a[contains(., 'DeepSeek R1 triggers AI sell-off')]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let event_url = wait_for_url(&c, |u| u.contains("/events/")).await;
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
    // A day-precision time says so.
    let time = c
        .find(Locator::Css(".event-meta time"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(time, "2025-01-27 (time of day unknown)");

    // Open the categories section: the AI row has its CAAR, the CAAR chart its lines.
    c.find(Locator::Css("#categories > summary"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let rows = c
        .find_all(Locator::Css("#categories table tr"))
        .await
        .unwrap();
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
    let paths = c
        .find_all(Locator::Css("#categories svg.wide-chart path"))
        .await
        .unwrap();
    assert!(
        paths.len() >= 2,
        "chart lines and bands drawn: {}",
        paths.len()
    );

    // Every page at a phone's, a tablet's and a desktop's width: no sideways scrolling,
    // the answer within the first screen, no chart text under 11 px.
    let category = format!("http://{addr}/categories/ai");
    let token = format!("http://{addr}/tokens/RENDER");
    let list = format!("http://{addr}/");
    let shots = std::env::var_os("CATALYST_SCREENSHOTS").map(std::path::PathBuf::from);
    for (w, h) in [(390u32, 844u32), (768, 1024), (1440, 900)] {
        for (name, url, first) in [
            ("list", list.as_str(), &["ol.events li.event"][..]),
            (
                "event",
                event_url.as_str(),
                &["#verdict", "#price-chart"][..],
            ),
            ("category", category.as_str(), &["figure"][..]),
            ("token", token.as_str(), &["figure"][..]),
        ] {
            let layout = layout_at(&c, url, w, h, first).await;
            assert_eq!(
                (layout.inner_width, layout.inner_height),
                (f64::from(w), f64::from(h)),
                "the viewport"
            );
            assert!(
                layout.scroll_width <= layout.inner_width,
                "{name} at {w}px scrolls sideways: {layout:?}"
            );
            for (sel, top, bottom) in &layout.first {
                assert!(
                    *top >= 0.0 && *top < layout.inner_height,
                    "{name} at {w}x{h}: {sel} starts below the first screen: {layout:?}"
                );
                // The list's first row and the verdict are whole on the first screen;
                // a chart at least begins there with its upper half.
                let whole = sel.contains("li.event") || sel.contains("verdict");
                let need = if whole { *bottom } else { (top + bottom) / 2.0 };
                assert!(
                    need <= layout.inner_height,
                    "{name} at {w}x{h}: {sel} not within the first screen: {layout:?}"
                );
            }
            assert!(
                layout.smallest_chart_text.is_none_or(|px| px >= 11.0),
                "{name} at {w}px: chart text of {:?} px",
                layout.smallest_chart_text
            );
            if let Some(dir) = &shots {
                std::fs::create_dir_all(dir).unwrap();
                let png = c.screenshot().await.unwrap();
                std::fs::write(dir.join(format!("{name}-{w}.png")), png).unwrap();
            }
        }
    }

    c.close().await.unwrap();
    let _ = stop_tx.send(());
    server.await.unwrap();
}
