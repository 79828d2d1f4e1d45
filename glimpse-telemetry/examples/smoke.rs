//! Smoke run: one request-like span with log lines inside. `cargo run -p glimpse-telemetry --example smoke`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let guard = glimpse_telemetry::init!()?;
        {
            let span = tracing::info_span!(
                "GET /users/{id}",
                otel.kind = "server",
                request_id = "req-1",
                user_id = tracing::field::Empty,
                http.route = "/users/{id}"
            );
            let _g = span.enter();
            glimpse_telemetry::context::set_user_id("user123");
            tracing::info!(rows = 1, password = "hunter2", "user fetched");
            tracing::warn!(card = "4111 1111 1111 1111", "odd");
            println!("CONTEXT {:?}", glimpse_telemetry::context::current());
        }
        guard.shutdown()?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
