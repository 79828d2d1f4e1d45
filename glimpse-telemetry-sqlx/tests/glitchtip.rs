//! What GlitchTip receives, through the core's in-process capture: a slow query becomes a
//! breadcrumb (carried by the next error event), a failed query an error event, neither with a
//! literal from the SQL.
#![cfg(feature = "sqlite")]

use std::time::Duration;

use glimpse_telemetry::testing::Capture;
use sqlx::sqlite::SqlitePoolOptions;
use tracing::Instrument as _;

#[tokio::test(flavor = "current_thread")]
async fn slow_queries_are_breadcrumbs_and_failures_are_events() {
    let capture = Capture::with_filter("info");
    let raw = SqlitePoolOptions::new()
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let pool = glimpse_telemetry_sqlx::Config::new("glitchtip")
        .slow_threshold(Duration::ZERO)
        .instrument(&raw);
    capture
        .run_async(async {
            let span = tracing::info_span!("request", request_id = "req-gt", user_id = "user-gt");
            async {
                sqlx::query("SELECT 'erin@example.com' AS email")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                let failed = sqlx::query("SELECT * FROM missing WHERE email = 'erin@example.com'")
                    .fetch_all(&pool)
                    .await;
                assert!(failed.is_err());
            }
            .instrument(span)
            .await;
        })
        .await;

    let events = capture.error_events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(
        event.tags.get("request_id").map(String::as_str),
        Some("req-gt")
    );
    assert_eq!(
        event.user.as_ref().and_then(|u| u.id.as_deref()),
        Some("user-gt")
    );
    assert_eq!(event.extra["error.type"], "1");
    let crumb = event
        .breadcrumbs
        .values
        .iter()
        .find(|b| {
            b.message
                .as_deref()
                .is_some_and(|m| m.starts_with("slow query: SELECT"))
        })
        .expect("the slow query is a breadcrumb");
    assert_eq!(crumb.level, glimpse_telemetry::sentry::Level::Warning);
    assert_eq!(crumb.data["db.query.text"], "SELECT ? AS email");
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("erin@example.com"), "{all}");
}
