//! `init` from the real process environment: a bad value is an `Err` naming the variable (and a
//! corrected retry works), a second `init` is an error, never a panic.

use glimpse_telemetry::Error;
use glimpse_test_support::LogCapture;

fn set(var: &str, value: &str) {
    // SAFETY: each test runs in its own process (nextest) and sets variables before any other
    // thread of the SDK exists.
    unsafe { std::env::set_var(var, value) };
}

#[test]
fn bad_environment_value_is_an_error_naming_the_variable_then_a_fix_works() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    set("OTEL_SERVICE_NAME", "init-test");
    set("OTEL_TRACES_SAMPLER", "parentbased_traceidratio");
    set("OTEL_TRACES_SAMPLER_ARG", "half");
    let err = glimpse_telemetry::init().unwrap_err();
    match &err {
        Error::InvalidVar { var, value, .. } => {
            assert_eq!(*var, "OTEL_TRACES_SAMPLER_ARG");
            assert_eq!(value, "half");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "invalid value \"half\" for OTEL_TRACES_SAMPLER_ARG: expected a ratio between 0 and 1, e.g. 0.25"
    );

    set("OTEL_TRACES_SAMPLER_ARG", "0.5");
    set("OTEL_SDK_DISABLED", "true");
    let guard = glimpse_telemetry::builder()
        .log_writer(LogCapture::default())
        .init()
        .expect("a corrected environment initialises");
    drop(guard);
}

#[test]
fn second_init_is_an_error() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    set("OTEL_SDK_DISABLED", "true");
    let _guard = glimpse_telemetry::builder()
        .log_writer(LogCapture::default())
        .init()
        .unwrap();
    let again = glimpse_telemetry::builder()
        .log_writer(LogCapture::default())
        .init();
    assert!(matches!(again, Err(Error::AlreadyInitialized)), "{again:?}");
}

#[test]
fn non_utf8_value_is_an_error() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    use std::os::unix::ffi::OsStrExt as _;
    // SAFETY: as above.
    unsafe { std::env::set_var("RUST_LOG", std::ffi::OsStr::from_bytes(b"info,\xff")) };
    let err = glimpse_telemetry::init().unwrap_err();
    assert!(err.to_string().contains("RUST_LOG"), "{err}");
}

#[test]
fn init_macro_names_the_service_after_the_crate() {
    if glimpse_test_support::rerun_in_own_process() {
        return;
    }
    set("OTEL_SDK_DISABLED", "true");
    // SAFETY: as above.
    unsafe { std::env::remove_var("OTEL_SERVICE_NAME") };
    let logs = LogCapture::default();
    let guard = glimpse_telemetry::builder()
        .package(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .log_writer(logs.clone())
        .init()
        .unwrap();
    tracing::info!("hello");
    drop(guard);
    let line = logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "hello")
        .unwrap();
    assert_eq!(line["service"], "glimpse-telemetry");
    let started = logs
        .lines()
        .into_iter()
        .find(|l| l["message"] == "telemetry started")
        .unwrap();
    assert_eq!(started["service_version"], env!("CARGO_PKG_VERSION"));
}
