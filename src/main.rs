//! The `familydns` command line: serve, check, validate, log, the admin calls and passwd.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use familydns::{app, check, config, querylog, snapshot::Snapshot};

#[derive(Parser)]
#[command(version, about = "A family content-filtering DNS resolver")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the resolver until SIGTERM or Ctrl-C; SIGHUP reloads the config and lists.
    Serve {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
    },
    /// Print the decision for a client asking for a name, and the rule behind it.
    Check {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
        /// The client's IP address.
        #[arg(long)]
        client: IpAddr,
        /// The name asked for.
        name: String,
        /// Decide at this wall-clock time in the profile's zone (e.g. 2026-11-23T21:30).
        #[arg(long)]
        at: Option<jiff::civil::DateTime>,
        /// Also ask the upstreams and check the answer's CNAME chain (CNAME cloaking).
        #[arg(long)]
        resolve: bool,
    },
    /// Load the config, profiles and lists; print every error with file and line.
    Validate {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
    },
    /// Trend research: devices with blocked lookups per day, kind and category, with
    /// differential-privacy noise (`--local`: exact), or `trends merge FILE…`.
    #[command(args_conflicts_with_subcommands = true)]
    Trends {
        #[command(subcommand)]
        merge: Option<familydns::trends::cli::Merge>,
        #[command(flatten)]
        args: familydns::trends::cli::Args,
    },
    /// Ask the running server to reload its config and lists now.
    Reload {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
    },
    /// Allow a name (and its subdomains) for a profile for a while: `allow --profile kids youtube.com --for 45m`.
    Allow {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
        #[arg(long)]
        profile: String,
        name: String,
        /// How long, e.g. 45m or 2h.
        #[arg(long = "for")]
        duration: String,
    },
    /// Pause a profile's internet (only its allow list resolves) until a time or for a while.
    Pause {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
        #[arg(long)]
        profile: String,
        /// The next occurrence of this time of day in the profile's zone, e.g. 20:00.
        #[arg(long, conflicts_with = "duration")]
        until: Option<String>,
        /// Or how long, e.g. 30m.
        #[arg(long = "for")]
        duration: Option<String>,
    },
    /// Grant a profile's daily budgets more minutes for today: `budget --profile kids --add 30m`.
    Budget {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
        #[arg(long)]
        profile: String,
        /// Minutes to add for today, e.g. 30m or 1h.
        #[arg(long)]
        add: String,
    },
    /// Show the query log, newest first: `log --profile kids --blocked --since 2h`.
    Log {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
        #[command(flatten)]
        request: querylog::Request,
        /// One JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// End a profile's pause and timed exceptions.
    Resume {
        #[arg(long, default_value = "config/familydns.toml")]
        config: PathBuf,
        #[arg(long)]
        profile: String,
    },
    /// Read a password for the parents' page on stdin and print the `password_hash = "..."`
    /// line for `[parents]` (argon2id, random salt).
    Passwd,
    /// File a complaint about a name with the running server: `report NAME --category adult`.
    Report(familydns::complaint_api::cli::ReportArgs),
    /// List, accept, reject or remove complaints on the running server.
    Complaints(familydns::complaint_api::cli::ReviewArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FAMILYDNS_LOG")
                // hickory's resolver logs per request at info: keep it quiet by default.
                .unwrap_or_else(|_| EnvFilter::new("info,hickory_net=warn,hickory_resolver=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { config } => serve(config),
        Command::Check {
            config,
            client,
            name,
            at,
            resolve,
        } => with_config(&config, |cfg| {
            let snapshot = Snapshot::build(cfg, true).map_err(|e| e.to_string())?;
            print!("{}", check::explain(cfg, &snapshot, client, &name, at));
            if resolve {
                let targets = cname_chain(cfg, &name)?;
                print!(
                    "{}",
                    check::explain_cname_chain(cfg, &snapshot, client, &targets, at)
                );
            }
            Ok(())
        }),
        Command::Validate { config } => with_config(&config, |cfg| {
            let snapshot = Snapshot::build(cfg, false).map_err(|e| e.to_string())?;
            for list in &snapshot.blocklists.lists {
                println!(
                    "list {} ({}): {} rules, {} lines skipped",
                    list.name,
                    list.category,
                    list.stats.rules,
                    list.stats.skipped_total()
                );
                for (reason, count) in &list.stats.skipped {
                    let first = list.stats.first_skipped.get(reason).copied().unwrap_or(0);
                    println!(
                        "  skipped {count}: {} (first at {}:{first})",
                        reason.describe(),
                        list.source.display()
                    );
                }
            }
            println!("{}: OK", cfg.file.display());
            Ok(())
        }),
        Command::Reload { config } => admin_call(&config, "/admin/reload", &[]),
        Command::Allow {
            config,
            profile,
            name,
            duration,
        } => admin_call(
            &config,
            "/admin/allow",
            &[("profile", &profile), ("name", &name), ("for", &duration)],
        ),
        Command::Pause {
            config,
            profile,
            until,
            duration,
        } => {
            let when = match (until, duration) {
                (Some(u), _) => ("until", u),
                (None, Some(d)) => ("for", d),
                (None, None) => {
                    eprintln!("give --until HH:MM or --for DURATION");
                    return ExitCode::FAILURE;
                }
            };
            admin_call(
                &config,
                "/admin/pause",
                &[("profile", &profile), (when.0, &when.1)],
            )
        }
        Command::Budget {
            config,
            profile,
            add,
        } => admin_call(
            &config,
            "/admin/budget",
            &[("profile", &profile), ("add", &add)],
        ),
        Command::Log {
            config,
            request,
            json,
        } => with_config(&config, |cfg| {
            let log = cfg
                .query_log
                .as_ref()
                .ok_or("the query log is off ([query_log] enabled = false)")?;
            let filter = request.filter(jiff::Timestamp::now(), usize::MAX)?;
            let conn = querylog::open_read_only(&log.path).map_err(|e| e.to_string())?;
            let rows = querylog::rows(&conn, &filter).map_err(|e| e.to_string())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
                );
            } else {
                rows.iter().for_each(|row| println!("{row}"));
            }
            Ok(())
        }),
        Command::Resume { config, profile } => {
            admin_call(&config, "/admin/resume", &[("profile", &profile)])
        }
        Command::Passwd => passwd(),
        Command::Report(args) => familydns::complaint_api::cli::report(&args),
        Command::Complaints(args) => familydns::complaint_api::cli::review(&args),
        Command::Trends { merge, args } => familydns::trends::cli::run(merge, args),
    }
}

/// `familydns passwd`: the first line of stdin (without its line ending) is the password.
fn passwd() -> ExitCode {
    eprintln!("Password for the parents' page (then Enter):");
    let mut line = String::new();
    if let Err(e) = std::io::stdin().read_line(&mut line) {
        eprintln!("cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("the password is empty");
        return ExitCode::FAILURE;
    }
    match familydns::web::hash_password(password) {
        Ok(hash) => {
            println!("password_hash = \"{hash}\"");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The CNAME targets of the upstream answer for `name` (A query).
fn cname_chain(cfg: &config::Config, name: &str) -> Result<Vec<String>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let forwarder =
            familydns::upstream::Forwarder::new(&cfg.upstream).map_err(|e| e.to_string())?;
        let qname = hickory_proto::rr::Name::from_ascii(format!("{}.", name.trim_end_matches('.')))
            .map_err(|e| e.to_string())?;
        match forwarder
            .resolve(
                &qname,
                hickory_proto::rr::RecordType::A,
                familydns::upstream::Dnssec::default(),
            )
            .await
        {
            familydns::upstream::Outcome::Answer { answer, .. }
            | familydns::upstream::Outcome::Stale(answer) => Ok(answer
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    hickory_proto::rr::RData::CNAME(c) => {
                        Some(c.0.to_ascii().trim_end_matches('.').to_owned())
                    }
                    _ => None,
                })
                .collect()),
            familydns::upstream::Outcome::Failed(e) => Err(format!("upstream: {e}")),
        }
    })
}

/// Sends an admin request to the server running with `config`.
fn admin_call(config: &std::path::Path, path: &str, params: &[(&str, &str)]) -> ExitCode {
    with_config(config, |cfg| {
        let metrics = cfg
            .metrics
            .as_ref()
            .ok_or("the config has no [metrics] listener, where the admin endpoints live")?;
        let token = metrics
            .admin_token
            .as_deref()
            .ok_or("set metrics.admin_token in the config to use the admin endpoints")?;
        let addr = familydns::admin::endpoint(metrics);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (status, body) = runtime
            .block_on(familydns::admin::request(addr, token, path, params))
            .map_err(|e| format!("cannot reach the server at {addr}: {e}"))?;
        print!("{body}");
        if status == 200 {
            Ok(())
        } else {
            Err(format!("server answered {status}"))
        }
    })
}

fn with_config(
    path: &std::path::Path,
    f: impl FnOnce(&config::Config) -> Result<(), String>,
) -> ExitCode {
    let result = config::load(path)
        .map_err(|e| e.to_string())
        .and_then(|cfg| f(&cfg));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: PathBuf) -> ExitCode {
    familydns::reload::tune_malloc();
    // One worker per CPU this process may run on (its affinity, not the machine's count):
    // pinned to one core, a second worker only takes turns with the first, and the one
    // worker runs on the current-thread scheduler, which pays no work-stealing bookkeeping
    // each time it sleeps and wakes.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(cores);
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let running = match app::start(&config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        for addr in &running.dns_addrs {
            tracing::info!(%addr, "serving DNS on UDP and TCP");
        }
        if let Some(addr) = running.metrics_addr {
            tracing::info!(%addr, "serving /metrics and /health");
        }
        wait_for_signals(&running).await;
        running.stop();
        ExitCode::SUCCESS
    })
}

/// Reloads on SIGHUP; returns on SIGTERM or Ctrl-C.
async fn wait_for_signals(running: &app::Running) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => { let _ = running.reload().await; }
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
        }
    }
}
